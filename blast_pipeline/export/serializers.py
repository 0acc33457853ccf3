"""Blast's REST serializers (``api/serializers.py``, reference 4.2) over this project's rows.

Each ``*_KEYS`` tuple is the field order Django REST framework gives Blast's serializer
(primary key, declared fields, plain columns, then foreign keys); the functions return dicts
in that order. Nested objects ("depth 1") carry their own foreign keys as primary keys, as in
Blast. Blast columns this schema does not store (e.g. ``Filter.vosa_id``, ``Transient.added_by``)
are null.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from blast_pipeline.db.models import (
    Aperture,
    AperturePhotometry,
    Cutout,
    Filter,
    Host,
    SEDFittingResult,
    StarFormationHistoryResult,
    Transient,
)

#: Columns of this project's models that Blast's models do not have: never exported.
PROJECT_COLUMNS: dict[type, tuple[str, ...]] = {
    Transient: (
        "ingest_source",
        "added_at",
        "workflow_requested_at",
        "workflow_generation",
        "partition_archived",
    ),
    StarFormationHistoryResult: ("sed_fitting_result_id",),  # Blast: the result's M2M logsfh
}
#: Model column -> Blast's field where the names differ (besides ``<fk>_id`` -> ``<fk>``).
BLAST_NAMES = {"fits_path": "fits", "cropped_path": "cropped_fits"}
_SKY = ("ra_deg", "dec_deg")


@dataclass(frozen=True)
class Field:
    """One column of a model as Blast's serializers name it."""

    name: str  # Blast's field name
    column: str  # the model's attribute
    foreign_key: bool


def model_fields(model: type) -> tuple[Field, ...]:
    """The model's columns as Blast's fields, in Django's order (primary key, Blast's SkyObject
    ``ra_deg``/``dec_deg``, then the model's order), without this project's additions."""
    skip = PROJECT_COLUMNS.get(model, ())
    columns = [c for c in model.__table__.columns if c.key not in skip]
    ordered = sorted(columns, key=lambda c: 0 if c.primary_key else 1 if c.key in _SKY else 2)
    return tuple(
        Field(
            c.key.removesuffix("_id") if c.foreign_keys else BLAST_NAMES.get(c.key, c.key),
            c.key,
            bool(c.foreign_keys),
        )
        for c in ordered
    )


def value_columns(model: type) -> tuple[str, ...]:
    """The model's plain value columns: no primary or foreign key, position, name or version."""
    plain = ("name", "software_version", *_SKY)
    return tuple(
        f.column
        for f in model_fields(model)
        if not f.foreign_key and f.name != "id" and f.name not in plain
    )


def _sed_value_columns() -> tuple[str, ...]:
    """Blast's SED result values in its order: the ``_16/_50/_84`` percentiles of each
    parameter (model order), ``mass_surviving_ratio`` after ``log_mass``."""
    columns: list[str] = []
    for column in value_columns(SEDFittingResult):
        if column.endswith(("_16", "_50", "_84")):
            columns.append(column)
        if column == "log_mass_84":
            columns.append("mass_surviving_ratio")
    return tuple(columns)


SED_VALUE_COLUMNS = _sed_value_columns()

# Top-level components of the science payload (their prefixes are added by payload.py).
TRANSIENT_KEYS = (
    "id",
    "aliases",
    "ra_deg",
    "dec_deg",
    "name",
    "display_name",
    "public_timestamp",
    "redshift",
    "spectroscopic_class",
    "milkyway_dust_reddening",
    "progress",
    "software_version",
    "update_comment",
    "update_fields",
    "host",
)
HOST_KEYS = (
    "name",
    "ra_deg",
    "dec_deg",
    "redshift",
    "milkyway_dust_reddening",
    "object_id",
    "catalog_name",
    "catalog_release",
    "aliases",
)
APERTURE_KEYS = (
    "id",
    "ra_deg",
    "dec_deg",
    "name",
    "orientation_deg",
    "semi_major_axis_arcsec",
    "semi_minor_axis_arcsec",
    "type",
    "software_version",
    "cutout",
    "transient",
)
PHOTOMETRY_KEYS = (
    "id",
    "flux",
    "flux_error",
    "magnitude",
    "magnitude_error",
    "is_validated",
    "software_version",
    "aperture",
    "filter",
    "transient",
)
SED_KEYS = (
    "id",
    *SED_VALUE_COLUMNS,
    "chains_file",
    "percentiles_file",
    "model_file",
    "software_version",
    "transient",
    "aperture",
    "logsfh",
)

# Nested ("depth 1") forms: every field, foreign keys as primary keys, after the plain fields
# (DRF's order). Blast fields this schema does not store are null.
HOST_ROW = model_fields(Host)
HOST_ROW_KEYS = tuple(f.name for f in HOST_ROW)
#: Blast's Filter columns this schema does not store (null in the nested filter).
FILTER_BLAST_ONLY = (
    "kcorrect_name",
    "vosa_id",
    "image_download_method",
    "wavelength_min_angstrom",
    "wavelength_max_angstrom",
    "vega_zero_point_jansky",
)
#: What Blast's ``FilterSerializer`` (the ``/api/filter/`` list) shows.
FILTER_LIST_KEYS = (
    "name",
    "pixel_size_arcsec",
    "image_fwhm_arcsec",
    "wavelength_eff_angstrom",
    "ab_offset",
)


def timestamp(value: datetime | None) -> str | None:
    """DRF's datetime format: ISO 8601 in UTC with a ``Z`` (naive values are UTC)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def _drf(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    return tuple(f for f in fields if not f.foreign_key) + tuple(f for f in fields if f.foreign_key)


_TRANSIENT_ROW = _drf(model_fields(Transient))


def field_value(obj: Any, f: Field) -> Any:
    """The value of ``f`` on an ORM object or row (datetimes in DRF's format)."""
    value = getattr(obj, f.column)
    return timestamp(value) if isinstance(value, datetime) else value


def transient_row(t: Transient, tasks_initialized: bool) -> dict[str, Any]:
    """A transient as nested in other objects (all fields, host as its id); ORM object or row."""
    values = {f.name: field_value(t, f) for f in _TRANSIENT_ROW if not f.foreign_key}
    values["tasks_initialized"] = "True" if tasks_initialized else "False"
    values |= {f.name: getattr(t, f.column) for f in _TRANSIENT_ROW if f.foreign_key}
    values["added_by"] = None
    return values


def host_row(h: Host | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {f.name: getattr(h, f.column) for f in HOST_ROW}


def transient_fields(t: Transient, aliases: list[str], host: Host | None) -> dict[str, Any]:
    """Blast's ``TransientSerializer`` (the payload's ``transient_`` component); ``host``: the
    transient's host (ORM object or row)."""
    return {
        "id": t.id,
        "aliases": aliases,
        "ra_deg": t.ra_deg,
        "dec_deg": t.dec_deg,
        "name": t.name,
        "display_name": t.display_name,
        "public_timestamp": timestamp(t.public_timestamp),
        "redshift": t.redshift,
        "spectroscopic_class": t.spectroscopic_class,
        "milkyway_dust_reddening": t.milkyway_dust_reddening,
        "progress": t.progress,
        "software_version": t.software_version,
        "update_comment": t.update_comment,
        "update_fields": t.update_fields,
        "host": host_row(host),
    }


def host_fields(h: Host, aliases: list[str]) -> dict[str, Any]:
    """Blast's ``HostSerializer`` (the payload's ``host_`` component and ``/api/host/``)."""
    values = {key: getattr(h, key) for key in HOST_KEYS if key != "aliases"}
    values["aliases"] = aliases
    return values


_FILTER_ROW = _drf(model_fields(Filter))
FILTER_ROW_KEYS = (
    *(f.name for f in _FILTER_ROW if not f.foreign_key),
    *FILTER_BLAST_ONLY,
    *(f.name for f in _FILTER_ROW if f.foreign_key),
)


def filter_row(f: Filter) -> dict[str, Any]:
    """A filter as nested in photometry (Blast's columns this schema lacks are null)."""
    values = dict.fromkeys(FILTER_ROW_KEYS)
    for field in _FILTER_ROW:
        values[field.name] = getattr(f, field.column)
    return values


def cutout_row(c: Cutout | None) -> dict[str, Any] | None:
    """A cutout as nested in an aperture (``fits``: its path under the data root)."""
    if c is None:
        return None
    return {
        "id": c.id,
        "name": c.name,
        "fits": c.fits_path,
        "message": c.message,
        "software_version": c.software_version,
        "cropped": c.cropped_path is not None,
        "filter": c.filter_id,
        "transient": c.transient_id,
    }


def aperture_row(a: Aperture) -> dict[str, Any]:
    """An aperture as nested in photometry or SED results (cutout and transient as ids)."""
    return {
        "id": a.id,
        "ra_deg": a.ra_deg,
        "dec_deg": a.dec_deg,
        "name": a.name,
        "orientation_deg": a.orientation_deg,
        "semi_major_axis_arcsec": a.semi_major_axis_arcsec,
        "semi_minor_axis_arcsec": a.semi_minor_axis_arcsec,
        "type": a.type,
        "software_version": a.software_version,
        "cutout": a.cutout_id,
        "transient": a.transient_id,
    }


def aperture_fields(
    a: Aperture, transient: dict[str, Any], cutout: Cutout | None
) -> dict[str, Any]:
    """Blast's ``ApertureSerializer``: cutout (the aperture's, ORM object or row) and
    transient nested."""
    values = aperture_row(a)
    values["cutout"] = cutout_row(cutout)
    values["transient"] = transient
    return values


def photometry_fields(
    p: AperturePhotometry,
    aperture: dict[str, Any],
    transient: dict[str, Any],
    filters: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """Blast's ``AperturePhotometrySerializer``: aperture (``aperture_row``), filter and
    transient nested."""
    return {
        "id": p.id,
        "flux": p.flux,
        "flux_error": p.flux_error,
        "magnitude": p.magnitude,
        "magnitude_error": p.magnitude_error,
        "is_validated": p.is_validated,
        "software_version": p.software_version,
        "aperture": aperture,
        "filter": filters[p.filter_id],
        "transient": transient,
    }


_SFH_VALUES = value_columns(StarFormationHistoryResult)


def sfh_row(s: StarFormationHistoryResult, aperture_id: int | None) -> dict[str, Any]:
    """A star-formation-history bin (Blast's ``transient`` and ``aperture`` foreign keys)."""
    return {
        "id": s.id,
        **{k: getattr(s, k) for k in _SFH_VALUES},
        "transient": s.transient_id,
        "aperture": aperture_id,
    }


def sed_fields(
    r: SEDFittingResult,
    transient: dict[str, Any],
    aperture: Aperture | None,
    sfh: list[StarFormationHistoryResult],
) -> dict[str, Any]:
    """Blast's ``SEDFittingResultSerializer`` (log_tau_* and posterior excluded)."""
    values: dict[str, Any] = {"id": r.id}
    for column in SED_VALUE_COLUMNS:
        values[column] = getattr(r, column)
    values["chains_file"] = r.chains_file
    values["percentiles_file"] = r.percentiles_file
    values["model_file"] = r.model_file
    values["software_version"] = r.software_version
    values["transient"] = transient
    values["aperture"] = None if aperture is None else aperture_row(aperture)
    values["logsfh"] = [sfh_row(s, r.aperture_id) for s in sfh]
    return values
