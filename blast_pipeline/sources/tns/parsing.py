"""TNS values -> ``TNSObject`` (shared by the API replies and the daily CSV): names by Blast's
rules, numbers by the project's input rules (``transient_input.parse_number``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from blast_pipeline.names import InvalidTransientName, validate_transient_name
from blast_pipeline.sources.tns.model import InvalidTNSName, InvalidTNSObject, TNSObject
from blast_pipeline.transient_input import TransientInputError, parse_number

#: Cell values of the daily CSV that mean "no value" (pandas writes NaN for missing floats).
_MISSING_CELL_VALUES = frozenset({"", "nan", "none", "null", "n/a", "na"})


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _MISSING_CELL_VALUES


def _optional_text(value: object) -> str | None:
    return None if _is_missing(value) else str(value).strip()


def _parse_float(value: object, field_name: str, *, optional: bool) -> float | None:
    if _is_missing(value):
        if optional:
            return None
        raise InvalidTNSObject(f"{field_name} is missing")
    if isinstance(value, bool):
        raise InvalidTNSObject(f"{field_name} {value!r} is not a number")
    try:
        number = parse_number(value, field_name)
    except TransientInputError as exc:
        raise InvalidTNSObject(str(exc)) from None
    if not math.isfinite(number):
        if optional:
            return None
        raise InvalidTNSObject(f"{field_name} {value!r} is not finite")
    return number


def _parse_objid(value: object) -> int:
    if _is_missing(value) or isinstance(value, bool):
        raise InvalidTNSObject(f"objid {value!r} is missing or not an integer")
    try:
        number = float(value) if isinstance(value, float) else int(str(value).strip())
    except ValueError:
        raise InvalidTNSObject(f"objid {value!r} is not an integer") from None
    if isinstance(number, float):
        if not number.is_integer():
            raise InvalidTNSObject(f"objid {value!r} is not an integer")
        number = int(number)
    return number


def parse_tns_timestamp(value: object) -> datetime:
    """A TNS date (``"2024-01-15 08:24:00.000"``, or ISO 8601) as an aware UTC datetime.
    TNS dates carry no zone and are UTC; an explicit offset is honoured."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidTNSObject(f"discoverydate {value!r} is not a date-time") from None
    else:
        raise InvalidTNSObject(f"discoverydate {value!r} is missing or not a date-time")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def build_object(
    *,
    name: object,
    objid: object,
    ra: object,
    dec: object,
    prefix: object,
    discoverydate: object,
    spectroscopic_class: object,
    redshift: object,
    ra_field: str,
    dec_field: str,
) -> TNSObject:
    try:
        valid_name = validate_transient_name(name)
    except InvalidTransientName as exc:
        raise InvalidTNSName(str(exc)) from None
    ra_deg = _parse_float(ra, ra_field, optional=False)
    dec_deg = _parse_float(dec, dec_field, optional=False)
    assert ra_deg is not None and dec_deg is not None
    if not 0.0 <= ra_deg <= 360.0:
        raise InvalidTNSObject(f"{ra_field} {ra_deg} is outside [0, 360] degrees")
    if not -90.0 <= dec_deg <= 90.0:
        raise InvalidTNSObject(f"{dec_field} {dec_deg} is outside [-90, 90] degrees")
    return TNSObject(
        name=valid_name,
        tns_id=_parse_objid(objid),
        ra_deg=ra_deg,
        dec_deg=dec_deg,
        tns_prefix=_optional_text(prefix),
        public_timestamp=parse_tns_timestamp(discoverydate),
        spectroscopic_class=_optional_text(spectroscopic_class),
        redshift=_parse_float(redshift, "redshift", optional=True),
    )


def tns_object_from_reply(reply: Mapping[str, Any]) -> TNSObject:
    """Map the ``data`` of a ``/api/get/object`` reply to a ``TNSObject`` (Blast's
    ``tns_to_blast_transient``). Raises ``InvalidTNSObject`` naming the bad field."""
    if not isinstance(reply, Mapping):
        raise InvalidTNSObject(f"object reply is a {type(reply).__name__}, not a JSON object")
    missing = [
        key for key in ("objname", "objid", "radeg", "decdeg", "discoverydate") if key not in reply
    ]
    if missing:
        raise InvalidTNSObject(f"object reply lacks {', '.join(missing)}")
    object_type = reply.get("object_type")
    if object_type is not None and not isinstance(object_type, Mapping):
        raise InvalidTNSObject(f"object_type {object_type!r} is not a JSON object")
    return build_object(
        name=reply["objname"],
        objid=reply["objid"],
        ra=reply["radeg"],
        dec=reply["decdeg"],
        prefix=reply.get("name_prefix"),
        discoverydate=reply["discoverydate"],
        spectroscopic_class=(object_type or {}).get("name"),
        redshift=reply.get("redshift"),
        ra_field="radeg",
        dec_field="decdeg",
    )
