"""Host information: the host's spectroscopic redshift from SDSS, then NED (reference 1.8)."""

from __future__ import annotations

from blast_pipeline.db.models import Transient
from blast_pipeline.db.summaries import best_redshift_with_kind, host_offset_arcsec
from blast_pipeline.runners.base import Retry, TaskContext, TransientTaskRunner
from blast_pipeline.sources.base import SourceError
from blast_pipeline.statuses import PROCESSED


class HostInformation(TransientTaskRunner):
    """Look up a spectroscopic redshift for the host and store it on the host (Blast forgot to
    save it); "no host redshift" when neither host nor transient has any redshift.

    A failing redshift service does not block the transient when another redshift exists (the
    host's catalogue or photometric redshift, or the transient's own): the error is recorded in
    the metadata (``redshift_service_error``) and the best remaining redshift is used, as Blast
    logs and carries on. Only when no redshift can be decided at all does the error fail the
    task (and its retries ask the service again).
    """

    task_name = "Host information"
    group = "transient_host"
    pool = "redshift_services"
    retry = Retry(max_retries=2, delay_seconds=10.0)

    def _prerequisites(self) -> dict[str, str]:
        return {"Host match": "processed"}

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        host = transient.host
        if host is None:
            context.add_metadata(reason="the transient has no host")
            return "no host"
        source = context.services.redshifts
        if host.redshift is None and source is not None:
            try:
                z = source.spectroscopic_redshift(host.ra_deg, host.dec_deg, radius_arcsec=1.0)
            except SourceError as exc:
                if host.photometric_redshift is None and transient.redshift is None:
                    raise
                context.log.warning(f"redshift service failed, using what is known: {exc}")
                context.add_metadata(redshift_service_error=str(exc)[:500])
                z = None
            if z is not None:
                host.redshift = float(z)
                context.add_metadata(spectroscopic_redshift=round(float(z), 5))
        z, kind = best_redshift_with_kind(transient)
        context.add_metadata(
            host=host.name,
            best_redshift=None if z is None else round(float(z), 4),
            redshift_type=kind or "none",
            host_spec_z=None if host.redshift is None else round(float(host.redshift), 4),
            host_photo_z=(
                None
                if host.photometric_redshift is None
                else round(float(host.photometric_redshift), 4)
            ),
            offset_arcsec=round(float(host_offset_arcsec(transient)), 2),
        )
        if (
            host.redshift is None
            and host.photometric_redshift is None
            and transient.redshift is None
        ):
            context.add_metadata(
                reason="neither the host (catalogue, SDSS, NED) nor the transient has a redshift"
            )
            return "no host redshift"
        return PROCESSED
