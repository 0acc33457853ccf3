"""Blast's flat science payload (``GET /api/transient/get/<name>``, reference 4.2).

The keys and their order are Blast's: ``transient_``, ``host_``, ``local_aperture_``,
``global_aperture_``, then ``<local|global>_aperture_<filter>_`` for every filter in
Blast's order, then ``<local|global>_aperture_host_`` (SED results); a component without a
row is all null, as in Blast. Two deliberate differences: ``transient_processing_status`` is
added after Blast's keys (Blast's docs list it, its serializer drops it), and
``global_aperture_*`` is the aperture the global photometry used (the primary one built on the
reference image), where Blast's query matches one aperture per filter and so is always null.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, or_, select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import (
    Alias,
    Aperture,
    AperturePhotometry,
    Cutout,
    Filter,
    Host,
    SEDFittingResult,
    StarFormationHistoryResult,
    TaskRegister,
    Transient,
)
from blast_pipeline.export.serializers import (
    APERTURE_KEYS,
    HOST_KEYS,
    PHOTOMETRY_KEYS,
    SED_KEYS,
    TRANSIENT_KEYS,
    aperture_fields,
    aperture_row,
    filter_row,
    host_fields,
    photometry_fields,
    sed_fields,
    transient_fields,
    transient_row,
)

APERTURE_TYPES = ("local", "global")
#: Blast's Filter rows in primary-key order (as its fixtures load them; its payload iterates
#: ``Filter.objects.all()``): SDSS comes i, r, u, z, g. Filters Blast lacks follow, by id.
BLAST_FILTER_ORDER: tuple[str, ...] = (
    *("2MASS_H", "2MASS_J", "2MASS_K", "WISE_W1", "WISE_W2", "WISE_W3", "WISE_W4"),
    *("GALEX_NUV", "GALEX_FUV", "PanSTARRS_g", "PanSTARRS_r", "PanSTARRS_i", "PanSTARRS_z"),
    *("PanSTARRS_y", "SDSS_i", "SDSS_r", "SDSS_u", "SDSS_z", "SDSS_g"),
    *("DES_g", "DES_r", "DES_i", "DES_z", "DES_Y"),
)


def blast_order(names: list[str]) -> list[str]:
    """``names`` in Blast's filter order (unknown names last, in the given order)."""
    rank = {name: i for i, name in enumerate(BLAST_FILTER_ORDER)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))


PROCESSING_STATUS_KEY = "transient_processing_status"


def payload_fields(filter_names: list[str]) -> list[tuple[str, str, str]]:
    """(key, component, field) of every payload key, in order, for the given filters (in
    Blast's order, ``blast_order``); component: transient, host, aperture, photometry, sed,
    status."""
    fields = [(f"transient_{k}", "transient", k) for k in TRANSIENT_KEYS]
    fields += [(f"host_{k}", "host", k) for k in HOST_KEYS]
    for kind in APERTURE_TYPES:
        fields += [(f"{kind}_aperture_{k}", "aperture", k) for k in APERTURE_KEYS]
    for kind in APERTURE_TYPES:
        for name in filter_names:
            fields += [(f"{kind}_aperture_{name}_{k}", "photometry", k) for k in PHOTOMETRY_KEYS]
    for kind in APERTURE_TYPES:
        fields += [(f"{kind}_aperture_host_{k}", "sed", k) for k in SED_KEYS]
    fields.append((PROCESSING_STATUS_KEY, "status", "processing_status"))
    return fields


def payload_keys(filter_names: list[str]) -> list[str]:
    """Every key of the payload, in order, for the given filters (in Blast's order)."""
    return [key for key, _, _ in payload_fields(filter_names)]


def _put(payload: dict[str, Any], prefix: str, values: dict[str, Any] | None, keys) -> None:
    if values is None:
        for key in keys:
            payload[prefix + key] = None
    else:
        for key in keys:
            payload[prefix + key] = values[key]


def _by(model, column: str, many: bool = False) -> Select:
    """``SELECT <every column of model> WHERE <column> = :key`` (``IN :key`` when ``many``),
    built once: executed as plain rows (attribute access by column name), much cheaper than
    ORM objects."""
    table = model.__table__
    key = bindparam("key", expanding=many)
    return select(*table.columns).where(
        table.c[column].in_(key) if many else table.c[column] == key
    )


_TRANSIENT_BY_NAME = _by(Transient, "name")
_HOST = _by(Host, "id")
_INITIALISED = select(TaskRegister.id).where(TaskRegister.transient_id == bindparam("key")).limit(1)
_ALIASES = (
    select(Alias.alias, Alias.transient_id)
    .where(or_(Alias.transient_id == bindparam("key"), Alias.host_id == bindparam("host")))
    .order_by(Alias.id)
)
_APERTURES = _by(Aperture, "transient_id")
_CUTOUTS = _by(Cutout, "id", many=True)
_PHOTOMETRY = _by(AperturePhotometry, "transient_id")
_SED_RESULTS = _by(SEDFittingResult, "transient_id")
_SFH = _by(StarFormationHistoryResult, "sed_fitting_result_id", many=True).order_by(
    StarFormationHistoryResult.id
)
_FILTER_ROWS = select(*Filter.__table__.columns)

#: Filters are reference rows loaded by the migration: read once per engine.
_FILTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _filters(connection: Connection) -> tuple[list[Row], dict[int, dict[str, Any]]]:
    """The stored filters in Blast's order and their nested dicts by id (cached per engine)."""
    cached = _FILTERS.get(connection.engine)
    if cached is None:
        stored = {f.name: f for f in connection.execute(_FILTER_ROWS)}
        ordered = [stored[name] for name in blast_order(list(stored))]
        cached = _FILTERS[connection.engine] = (ordered, {f.id: filter_row(f) for f in ordered})
    return cached


def transient_by_name(session: Session, name: str) -> Row | None:
    """The transients-table row of ``name`` (None when absent), for ``science_payload``."""
    return session.connection().execute(_TRANSIENT_BY_NAME, {"key": name}).first()


def science_payload(session: Session, transient: Transient | Row) -> dict[str, Any]:
    """The payload of one transient (a dict in Blast's key order; JSON-ready values).

    ``transient``: its ORM object or a row of the transients table. One query per table, as
    plain rows (the web API's hot path)."""
    db = session.connection()
    filters, filter_dicts = _filters(db)
    tid = transient.id
    initialised = db.execute(_INITIALISED, {"key": tid}).first() is not None
    host = None
    if transient.host_id is not None:
        host = db.execute(_HOST, {"key": transient.host_id}).first()
    transient_aliases, host_aliases = [], []
    for alias, owner in db.execute(_ALIASES, {"key": tid, "host": transient.host_id}):
        (transient_aliases if owner == tid else host_aliases).append(alias)

    nested = transient_row(transient, initialised)
    payload: dict[str, Any] = {}
    _put(
        payload, "transient_", transient_fields(transient, transient_aliases, host), TRANSIENT_KEYS
    )
    host_values = None if host is None else host_fields(host, host_aliases)
    _put(payload, "host_", host_values, HOST_KEYS)

    apertures = db.execute(_APERTURES, {"key": tid}).all()
    by_id = {a.id: a for a in apertures}
    chosen = {}
    for kind in APERTURE_TYPES:
        primary = [a for a in apertures if a.type == kind and a.is_primary]
        chosen[kind] = primary[0] if len(primary) == 1 else None
    cutout_ids = [a.cutout_id for a in chosen.values() if a is not None and a.cutout_id]
    cutouts = {}
    if cutout_ids:
        cutouts = {c.id: c for c in db.execute(_CUTOUTS, {"key": cutout_ids})}
    for kind in APERTURE_TYPES:
        a = chosen[kind]
        values = None if a is None else aperture_fields(a, nested, cutouts.get(a.cutout_id))
        _put(payload, f"{kind}_aperture_", values, APERTURE_KEYS)

    photometry: dict[tuple[str, int], Row | None] = {}
    for row in db.execute(_PHOTOMETRY, {"key": tid}):
        aperture = by_id.get(row.aperture_id)
        if aperture is None:
            continue
        key = (aperture.type, row.filter_id)
        # Blast's .get(): a second match makes the component null, never an arbitrary pick.
        photometry[key] = None if key in photometry else row
    aperture_dicts: dict[int, dict[str, Any]] = {}
    for kind in APERTURE_TYPES:
        for f in filters:
            row = photometry.get((kind, f.id))
            values = None
            if row is not None:
                if row.aperture_id not in aperture_dicts:
                    aperture_dicts[row.aperture_id] = aperture_row(by_id[row.aperture_id])
                aperture = aperture_dicts[row.aperture_id]
                values = photometry_fields(row, aperture, nested, filter_dicts)
            _put(payload, f"{kind}_aperture_{f.name}_", values, PHOTOMETRY_KEYS)

    results = {r.aperture_type: r for r in db.execute(_SED_RESULTS, {"key": tid})}
    sfh: dict[int, list[Row]] = {r.id: [] for r in results.values()}
    if results:
        for s in db.execute(_SFH, {"key": list(sfh)}):
            sfh[s.sed_fitting_result_id].append(s)
    for kind in APERTURE_TYPES:
        result = results.get(kind)
        values = None
        if result is not None:
            aperture = by_id.get(result.aperture_id) if result.aperture_id else None
            values = sed_fields(result, nested, aperture, sfh[result.id])
        _put(payload, f"{kind}_aperture_host_", values, SED_KEYS)
    payload[PROCESSING_STATUS_KEY] = transient.processing_status
    return payload
