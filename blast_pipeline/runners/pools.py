"""Concurrency pools: how many steps may use one external service at once, instance-wide.

They replace Blast's database locks (TNS, SDSS, NED) and bound the survey image services.
Applied to the Dagster instance by ``blast-pipeline configure-instance``.
"""

from __future__ import annotations

POOL_LIMITS: dict[str, int] = {
    "tns": 1,  # one TNS conversation at a time (Blast's TaskLock 'tns_query')
    "redshift_services": 1,  # SDSS then NED look-ups (Blast's 'SDSS_query'/'ned_query' locks)
    "cutout_services": 2,  # transients downloading cutouts at once
    "sed": 1,  # SED inference (memory-heavy)
}


def apply_pool_limits(instance, limits: dict[str, int] | None = None) -> dict[str, int]:
    """Set the slot count of every pool on a Dagster instance; returns what was set."""
    limits = dict(POOL_LIMITS if limits is None else limits)
    for pool, slots in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, slots)
    return limits
