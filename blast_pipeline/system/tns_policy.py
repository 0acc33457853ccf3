"""TNS ingestion policy: what to do with an object the Blast database may already hold."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from blast_pipeline.sources.tns import TNSObject, parse_tns_timestamp

UpdateKind = Literal["new", "unchanged", "updated", "redshift_changed"]

#: Transient fields copied from TNS on update, besides the timestamp and redshift.
_COMPARED_FIELDS: tuple[str, ...] = (
    "tns_id",
    "ra_deg",
    "dec_deg",
    "tns_prefix",
    "spectroscopic_class",
)


def _as_utc(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_tns_timestamp(value)
    if not isinstance(value, datetime):
        raise TypeError(f"public_timestamp must be a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def classify_update(existing: Mapping[str, Any] | None, incoming: TNSObject) -> UpdateKind:
    """What the ingestion should do with ``incoming`` given the saved transient's fields.

    * ``"new"``: no saved transient -> save and start its workflow;
    * ``"redshift_changed"``: TNS has a redshift and the saved one is missing or different ->
      copy the fields and reprocess fully;
    * ``"updated"``: the public timestamp differs (compared as aware UTC; a naive saved value is
      UTC) -> copy the fields. Also when another copied field present in ``existing`` differs
      (tns_id, position, prefix, class): Blast ignores those, which drops new classifications;
    * ``"unchanged"``: nothing to do.
    """
    if existing is None:
        return "new"
    saved_redshift = existing.get("redshift")
    if incoming.redshift is not None and (
        saved_redshift is None
        or not math.isclose(float(saved_redshift), incoming.redshift, rel_tol=0, abs_tol=1e-12)
    ):
        return "redshift_changed"
    if _as_utc(existing.get("public_timestamp")) != incoming.public_timestamp:
        return "updated"
    for name in _COMPARED_FIELDS:
        if name in existing and existing[name] != getattr(incoming, name):
            return "updated"
    return "unchanged"
