"""Is a newly matched host galaxy one we already store? (Blast's host de-duplication, 1.7.)

Blast looks for existing hosts "within 1 arcsec" with a box of +-0.004167 deg in RA (15", one
second of time, and without cos(dec)) by +-1" in Dec. Here the match region is a true cone: the
great-circle separation must be at most ``radius_arcsec`` (1" by default).

Rules, in order, for a candidate (position + catalogue identity ``object_id``, ``catalog_name``,
``catalog_release``) against the stored hosts:

1. **Identity** (candidate ``object_id`` non-empty): a stored host with the same three fields
   inside the cone is the same galaxy -> ``reuse``. The same identity outside the cone means the
   catalogue moved or the records are corrupt -> ``HostConflictError`` (Blast: "failed").
2. **Position**, stored hosts inside the cone, nearest first:
   a. one without catalogue identity (e.g. added by hand) -> ``adopt`` it (the caller fills in
      name, catalogue identity and redshifts);
   b. one from the same catalogue and release with a different ``object_id`` -> two catalogue
      objects closer than the radius: ``HostConflictError``;
   c. hosts from other catalogues do not count (Blast creates a new host).
3. Otherwise -> ``create``.

Deliberate differences from Blast: the cone instead of the box; a candidate without
``object_id`` goes through the positional rules instead of always creating a new host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from blast_pipeline.science.dlr import separation_arcsec

__all__ = [
    "DedupDecision",
    "HostConflictError",
    "HostRecord",
    "find_existing_host",
]

DEFAULT_MATCH_RADIUS_ARCSEC = 1.0


class HostConflictError(ValueError):
    """The candidate host contradicts stored hosts (Blast marks the host match "failed")."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value).strip()


@dataclass(frozen=True)
class HostRecord:
    """A host galaxy as de-duplication needs it; ``id`` is the stored host's key (None if new)."""

    ra_deg: float
    dec_deg: float
    object_id: str = ""
    catalog_name: str = ""
    catalog_release: str = ""
    id: Any = None
    name: str = ""

    def __post_init__(self) -> None:
        for attr in ("object_id", "catalog_name", "catalog_release", "name"):
            object.__setattr__(self, attr, _text(getattr(self, attr)))
        ra, dec = float(self.ra_deg), float(self.dec_deg)
        if not (np.isfinite(ra) and np.isfinite(dec) and -90.0 <= dec <= 90.0):
            raise ValueError(f"host record {self.id!r} has an invalid position ({ra}, {dec})")
        object.__setattr__(self, "ra_deg", ra)
        object.__setattr__(self, "dec_deg", dec)

    @classmethod
    def from_mapping(cls, record: Mapping[str, Any]) -> HostRecord:
        """Build from a dict with ``ra_deg``/``dec_deg`` (or ``ra``/``dec``) and optional fields."""
        try:
            ra = record["ra_deg"] if "ra_deg" in record else record["ra"]
            dec = record["dec_deg"] if "dec_deg" in record else record["dec"]
        except KeyError as exc:
            raise ValueError(f"host record lacks a position field: {exc}") from None
        return cls(
            ra_deg=ra,
            dec_deg=dec,
            object_id=record.get("object_id", ""),
            catalog_name=record.get("catalog_name", ""),
            catalog_release=record.get("catalog_release", ""),
            id=record.get("id"),
            name=record.get("name", ""),
        )

    @property
    def has_catalog_identity(self) -> bool:
        return bool(self.object_id or self.catalog_name)

    def same_identity(self, other: HostRecord) -> bool:
        return bool(self.object_id) and (
            (self.object_id, self.catalog_name, self.catalog_release)
            == (other.object_id, other.catalog_name, other.catalog_release)
        )


@dataclass(frozen=True)
class DedupDecision:
    """``action``: "reuse" or "adopt" the stored host ``existing_id``, or "create" a new one."""

    action: Literal["reuse", "adopt", "create"]
    existing_id: Any = None
    separation_arcsec: float | None = None

    @classmethod
    def create(cls) -> DedupDecision:
        return cls("create")


def _as_record(record: HostRecord | Mapping[str, Any]) -> HostRecord:
    return record if isinstance(record, HostRecord) else HostRecord.from_mapping(record)


def find_existing_host(
    candidate: HostRecord | Mapping[str, Any],
    existing: Iterable[HostRecord | Mapping[str, Any]],
    radius_arcsec: float = DEFAULT_MATCH_RADIUS_ARCSEC,
) -> DedupDecision:
    """Decide whether ``candidate`` is a stored host (see the module rules).

    Raises ``HostConflictError`` when the candidate contradicts stored hosts.
    """
    if not radius_arcsec > 0:
        raise ValueError(f"radius_arcsec must be positive, got {radius_arcsec}")
    cand = _as_record(candidate)
    hosts = [_as_record(h) for h in existing]
    if not hosts:
        return DedupDecision.create()
    sep = separation_arcsec(
        cand.ra_deg,
        cand.dec_deg,
        np.array([h.ra_deg for h in hosts]),
        np.array([h.dec_deg for h in hosts]),
    )
    order = np.argsort(sep, kind="stable")
    inside = [int(i) for i in order if sep[i] <= radius_arcsec]

    same = [int(i) for i in order if cand.same_identity(hosts[i])]
    if same:
        near = [i for i in same if i in inside]
        if near:
            return DedupDecision("reuse", hosts[near[0]].id, float(sep[near[0]]))
        i = same[0]
        raise HostConflictError(
            f"catalogue object {cand.object_id!r} ({cand.catalog_name} {cand.catalog_release}) "
            f"is already stored as host {hosts[i].id!r} {sep[i]:.2f} arcsec away, beyond the "
            f"{radius_arcsec:g} arcsec match radius"
        )

    for i in inside:
        if not hosts[i].has_catalog_identity:
            return DedupDecision("adopt", hosts[i].id, float(sep[i]))
    for i in inside:
        h = hosts[i]
        if (
            cand.catalog_name
            and (h.catalog_name, h.catalog_release) == (cand.catalog_name, cand.catalog_release)
            and h.object_id != cand.object_id
        ):
            raise HostConflictError(
                f"stored host {h.id!r} ({h.catalog_name} {h.catalog_release} object "
                f"{h.object_id!r}) lies {sep[i]:.2f} arcsec from the candidate, object "
                f"{cand.object_id!r} of the same catalogue: two catalogue objects within "
                f"{radius_arcsec:g} arcsec"
            )
    return DedupDecision.create()
