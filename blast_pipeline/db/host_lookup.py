"""Which stored host is a candidate galaxy? The database side of the host de-duplication rule
(``science/host_dedup.py``), shared by the host match task and the import of exported
transients, so that both link a galaxy to the same stored host."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Host
from blast_pipeline.science.host_dedup import DedupDecision, HostRecord, find_existing_host

#: Half-size of the Dec box (and, over cos(dec), the RA box) read before the cone test, degrees.
DEDUP_BOX_DEG = 10.0 / 3600


def _record(host: Host) -> HostRecord:
    return HostRecord(
        ra_deg=host.ra_deg,
        dec_deg=host.dec_deg,
        object_id=host.object_id or "",
        catalog_name=host.catalog_name or "",
        catalog_release=host.catalog_release or "",
        id=host.id,
        name=host.name or "",
    )


def find_stored_host(session: Session, candidate: HostRecord) -> tuple[DedupDecision, Host | None]:
    """The dedup decision for ``candidate`` against the stored hosts near it (and those with its
    catalogue identity), with the stored host it names (None for "create"). Raises
    ``HostConflictError`` as ``find_existing_host`` does."""
    ra, dec = candidate.ra_deg, candidate.dec_deg
    half_ra = DEDUP_BOX_DEG / max(math.cos(math.radians(dec)), 1e-6)
    nearby = session.scalars(
        select(Host).where(
            Host.dec_deg.between(dec - DEDUP_BOX_DEG, dec + DEDUP_BOX_DEG),
            Host.ra_deg.between(ra - half_ra, ra + half_ra),
        )
    ).all()
    same_identity = []
    if candidate.object_id:
        same_identity = session.scalars(
            select(Host).where(
                Host.object_id == candidate.object_id,
                Host.catalog_name == candidate.catalog_name,
                Host.catalog_release == candidate.catalog_release,
            )
        ).all()
    existing = {h.id: h for h in [*nearby, *same_identity]}
    decision = find_existing_host(candidate, [_record(h) for h in existing.values()])
    return decision, existing.get(decision.existing_id)
