"""Transient MWEBV and Host MWEBV: Milky Way E(B-V) at the transient and at its host."""

from __future__ import annotations

from blast_pipeline.db.models import Transient
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.science.dust import DustMapUnavailable, milky_way_ebv
from blast_pipeline.statuses import PROCESSED


def _ebv(ra: float, dec: float, context: TaskContext) -> float | None:
    map_dir = context.services.dust_map_dir
    if map_dir is None:
        context.add_metadata(reason="no dust map folder configured (BLAST_DUST_MAP_DIR)")
        return None
    try:
        return milky_way_ebv(ra, dec, map_dir)
    except (DustMapUnavailable, ValueError) as exc:
        context.log.warning(f"dust map could not answer: {exc}")
        context.add_metadata(reason=str(exc))
        return None


class TransientMWEBV(TransientTaskRunner):
    """E(B-V) = 0.86 x SFD at the transient's position."""

    task_name = "Transient MWEBV"
    group = "transient_host"

    def _prerequisites(self) -> dict[str, str]:
        return {"Cutout download": "processed"}

    def _clean(self, session, transient: Transient, data_root) -> None:
        transient.milkyway_dust_reddening = None

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        ebv = _ebv(transient.ra_deg, transient.dec_deg, context)
        if ebv is None:
            return "no transient MWEBV"
        transient.milkyway_dust_reddening = ebv
        context.add_metadata(ebv=round(ebv, 5))
        return PROCESSED


class HostMWEBV(TransientTaskRunner):
    """E(B-V) = 0.86 x SFD at the host galaxy's position."""

    task_name = "Host MWEBV"
    group = "transient_host"

    def _prerequisites(self) -> dict[str, str]:
        return {"Host information": "processed"}

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        host = transient.host
        if host is None:
            context.add_metadata(reason="the transient has no host")
            return "no host MWEBV"
        ebv = _ebv(host.ra_deg, host.dec_deg, context)
        if ebv is None:
            return "no host MWEBV"
        host.milkyway_dust_reddening = ebv
        context.add_metadata(ebv=round(ebv, 5))
        return PROCESSED
