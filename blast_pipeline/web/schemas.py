"""Pydantic models of the API's requests and responses (they make the OpenAPI document).

The science payload model is generated from the same key lists the payload is built from
(``export/payload.py``), so the document lists every key the endpoint returns.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from blast_pipeline.export.payload import blast_order, payload_fields
from blast_pipeline.export.serializers import SED_VALUE_COLUMNS
from blast_pipeline.science.filters import FILTERS

_INTS = {"id", "progress", "tns_id"}
_FLOATS = {
    "ra_deg",
    "dec_deg",
    "redshift",
    "milkyway_dust_reddening",
    "orientation_deg",
    "semi_major_axis_arcsec",
    "semi_minor_axis_arcsec",
    "flux",
    "flux_error",
    "magnitude",
    "magnitude_error",
    *SED_VALUE_COLUMNS,
}
_LISTS = {"aliases", "logsfh"}
_OBJECTS = {"host", "cutout", "transient", "aperture", "filter"}


def _type_of(component: str, name: str) -> Any:
    if name in _INTS:
        return int | None
    if name in _FLOATS:
        return float | None
    if name in _LISTS:
        return list[Any] | None
    if name in _OBJECTS:
        return dict[str, Any] | None
    return str | None


#: A text without NUL characters (PostgreSQL cannot store them).
NO_NUL = r"^[^\x00]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


SciencePayload = create_model(
    "SciencePayload",
    __base__=_Strict,
    __doc__="Blast's flat science payload (reference 4.2): null where a component has no row.",
    **{
        key: (_type_of(component, name), ...)
        for key, component, name in payload_fields(blast_order([f.name for f in FILTERS]))
    },
)


class Message(BaseModel):
    """Blast's reply for errors and posts: ``{"message": ...}``."""

    message: str


class NewTransientBody(BaseModel):
    """The JSON form of the post endpoint (the path form carries name, ra and dec)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Blast's name rules (no SN/AT prefix)")
    ra: float = Field(description="right ascension, degrees (ICRS)")
    dec: float = Field(description="declination, degrees (ICRS)")
    redshift: float | None = None


class UpdateBody(BaseModel):
    """Blast's update form (its CSV columns); an omitted or null field is unchanged."""

    model_config = ConfigDict(extra="forbid")

    update_comment: str = Field(
        description="why; recorded on the transient", max_length=500, pattern=NO_NUL
    )
    ra_deg: float | None = None
    dec_deg: float | None = None
    redshift: float | None = None
    host_ra_deg: float | None = None
    host_dec_deg: float | None = None
    host_redshift: float | None = None
    aperture_semi_major_axis_arcsec: float | None = None
    aperture_semi_minor_axis_arcsec: float | None = None
    aperture_orientation_deg: float | None = None


class UpdateReply(BaseModel):
    message: str
    update_fields: list[str]
    reset_tasks: list[str]


class ExportDataset(BaseModel):
    """Blast's export dataset (reference 4.3): Django serializer objects."""

    model_config = ConfigDict(extra="allow")

    metadata: dict[str, Any]
    transient: dict[str, Any]
    host: dict[str, Any] | None
    apertures: list[dict[str, Any]]
    cutouts: list[dict[str, Any]]
    filters: list[dict[str, Any]]
    surveys: list[dict[str, Any]]
    workflow_tasks: list[dict[str, Any]]


class HealthPart(BaseModel):
    ok: bool
    detail: str


class HealthCheck(BaseModel):
    part: str
    state: str = Field(description='"ok", "down" or "not configured"')
    detail: str


class Health(BaseModel):
    status: str = Field(description='"ok", or "failing" with the failing parts named')
    database: HealthPart
    dagster: HealthPart
    checks: list[HealthCheck] = Field(description="every part checked (as `blast-pipeline doctor`)")
    versions: dict[str, str]


class Page(BaseModel):
    """DRF's page: ``count``, ``next``/``previous`` links and the ``results``."""

    count: int
    next: str | None
    previous: str | None
    results: list[dict[str, Any]]
