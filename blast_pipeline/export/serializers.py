"""Blast's REST serializers (``api/serializers.py``, reference 4.2) over this project's rows.

Each ``*_KEYS`` tuple is the field order Django REST framework gives Blast's serializer
(primary key, declared fields, plain columns, then foreign keys); the functions return dicts
in that order. Nested objects ("depth 1") carry their own foreign keys as primary keys, as in
Blast. Blast columns this schema does not store (e.g. ``Filter.vosa_id``, ``Transient.added_by``)
are null.
"""

from __future__ import annotations

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

#: Blast's SED parameters, each stored as ``<name>_16/_50/_84`` (log_tau_* are not exported).
SED_PARAMETERS: tuple[str, ...] = (
    "log_mass",
    "log_sfr",
    "log_ssfr",
    "log_age",
    "age",
    "logzsol",
    "dust2",
    "dust_index",
    "dust1_fraction",
    "log_fagn",
    "log_agn_tau",
    "gas_logz",
    "duste_qpah",
    "duste_umin",
    "log_duste_gamma",
)


def _percentile_columns() -> tuple[str, ...]:
    columns: list[str] = []
    for name in SED_PARAMETERS:
        columns += [f"{name}_16", f"{name}_50", f"{name}_84"]
        if name == "log_mass":
            columns.append("mass_surviving_ratio")
    return tuple(columns)


SED_VALUE_COLUMNS = _percentile_columns()

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

# Nested ("depth 1") forms: every model field, foreign keys as primary keys.
TRANSIENT_ROW_KEYS = (
    "id",
    "ra_deg",
    "dec_deg",
    "name",
    "display_name",
    "tns_id",
    "tns_prefix",
    "public_timestamp",
    "tasks_initialized",
    "redshift",
    "spectroscopic_class",
    "photometric_class",
    "milkyway_dust_reddening",
    "processing_status",
    "progress",
    "software_version",
    "update_comment",
    "update_fields",
    "host",
    "added_by",
)
HOST_ROW_KEYS = (
    "id",
    "ra_deg",
    "dec_deg",
    "name",
    "redshift",
    "redshift_err",
    "photometric_redshift",
    "photometric_redshift_err",
    "milkyway_dust_reddening",
    "object_id",
    "catalog_name",
    "catalog_release",
    "software_version",
)
FILTER_ROW_KEYS = (
    "id",
    "name",
    "kcorrect_name",
    "sedpy_id",
    "hips_id",
    "vosa_id",
    "image_download_method",
    "pixel_size_arcsec",
    "image_fwhm_arcsec",
    "wavelength_eff_angstrom",
    "wavelength_min_angstrom",
    "wavelength_max_angstrom",
    "vega_zero_point_jansky",
    "magnitude_zero_point",
    "ab_offset",
    "magnitude_zero_point_keyword",
    "image_pixel_units",
    "survey",
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


def transient_row(t: Transient, tasks_initialized: bool) -> dict[str, Any]:
    """A transient as nested in other objects (all fields, host as its id)."""
    return {
        "id": t.id,
        "ra_deg": t.ra_deg,
        "dec_deg": t.dec_deg,
        "name": t.name,
        "display_name": t.display_name,
        "tns_id": t.tns_id,
        "tns_prefix": t.tns_prefix,
        "public_timestamp": timestamp(t.public_timestamp),
        "tasks_initialized": "True" if tasks_initialized else "False",
        "redshift": t.redshift,
        "spectroscopic_class": t.spectroscopic_class,
        "photometric_class": t.photometric_class,
        "milkyway_dust_reddening": t.milkyway_dust_reddening,
        "processing_status": t.processing_status,
        "progress": t.progress,
        "software_version": t.software_version,
        "update_comment": t.update_comment,
        "update_fields": t.update_fields,
        "host": t.host_id,
        "added_by": None,
    }


def host_row(h: Host | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {key: getattr(h, key) for key in HOST_ROW_KEYS}


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


def filter_row(f: Filter) -> dict[str, Any]:
    values = dict.fromkeys(FILTER_ROW_KEYS)
    for key in FILTER_ROW_KEYS:
        if key != "survey" and hasattr(f, key):
            values[key] = getattr(f, key)
    values["survey"] = f.survey_id
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


def sfh_row(s: StarFormationHistoryResult, aperture_id: int | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "logsfr_16": s.logsfr_16,
        "logsfr_50": s.logsfr_50,
        "logsfr_84": s.logsfr_84,
        "logsfr_tmin": s.logsfr_tmin,
        "logsfr_tmax": s.logsfr_tmax,
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
