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

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from blast_pipeline.db.models import (
    Alias,
    Aperture,
    AperturePhotometry,
    Filter,
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


def _aliases(session: Session, **where) -> list[str]:
    column = Alias.transient_id if "transient_id" in where else Alias.host_id
    value = next(iter(where.values()))
    return list(session.scalars(select(Alias.alias).where(column == value).order_by(Alias.id)))


def science_payload(session: Session, transient: Transient) -> dict[str, Any]:
    """The payload of one transient (a dict in Blast's key order; JSON-ready values)."""
    stored = {f.name: f for f in session.scalars(select(Filter).order_by(Filter.id))}
    filters = [stored[name] for name in blast_order(list(stored))]
    filter_dicts = {f.id: filter_row(f) for f in filters}
    initialised = bool(
        session.scalar(
            select(func.count(TaskRegister.id)).where(TaskRegister.transient_id == transient.id)
        )
    )
    nested = transient_row(transient, initialised)
    payload: dict[str, Any] = {}
    _put(
        payload,
        "transient_",
        transient_fields(transient, _aliases(session, transient_id=transient.id)),
        TRANSIENT_KEYS,
    )
    host = transient.host
    host_values = None if host is None else host_fields(host, _aliases(session, host_id=host.id))
    _put(payload, "host_", host_values, HOST_KEYS)

    apertures = session.scalars(
        select(Aperture)
        .where(Aperture.transient_id == transient.id)
        .options(selectinload(Aperture.cutout))
    ).all()
    by_id = {a.id: a for a in apertures}
    for kind in APERTURE_TYPES:
        chosen = [a for a in apertures if a.type == kind and a.is_primary]
        values = aperture_fields(chosen[0], nested) if len(chosen) == 1 else None
        _put(payload, f"{kind}_aperture_", values, APERTURE_KEYS)

    photometry: dict[tuple[str, int], AperturePhotometry | None] = {}
    rows = session.scalars(
        select(AperturePhotometry).where(AperturePhotometry.transient_id == transient.id)
    ).all()
    for row in rows:
        aperture = by_id.get(row.aperture_id)
        if aperture is None:
            continue
        key = (aperture.type, row.filter_id)
        # Blast's .get(): a second match makes the component null, never an arbitrary pick.
        photometry[key] = None if key in photometry else row
    for kind in APERTURE_TYPES:
        for f in filters:
            row = photometry.get((kind, f.id))
            values = None
            if row is not None:
                values = photometry_fields(row, by_id[row.aperture_id], nested, filter_dicts)
            _put(payload, f"{kind}_aperture_{f.name}_", values, PHOTOMETRY_KEYS)

    results = {
        r.aperture_type: r
        for r in session.scalars(
            select(SEDFittingResult).where(SEDFittingResult.transient_id == transient.id)
        )
    }
    for kind in APERTURE_TYPES:
        result = results.get(kind)
        values = None
        if result is not None:
            sfh = session.scalars(
                select(StarFormationHistoryResult)
                .where(StarFormationHistoryResult.sed_fitting_result_id == result.id)
                .order_by(StarFormationHistoryResult.id)
            ).all()
            aperture = by_id.get(result.aperture_id) if result.aperture_id else None
            values = sed_fields(result, nested, aperture, list(sfh))
        _put(payload, f"{kind}_aperture_host_", values, SED_KEYS)
    payload[PROCESSING_STATUS_KEY] = transient.processing_status
    return payload
