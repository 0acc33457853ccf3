"""Validate global photometry (contamination, reference 1.13) and local photometry (1.15)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Aperture, AperturePhotometry, Cutout, Transient
from blast_pipeline.db.summaries import photometry
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.science.cosmology import local_aperture_radius_arcsec
from blast_pipeline.science.validation import (
    global_validation_flags,
    is_contaminated,
    local_validation_flag,
)
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.apertures import primary_global_aperture, sky_aperture_of
from blast_pipeline.tasks.image_cache import analysed_image
from blast_pipeline.tasks.photometry import photometry_table

PHOT_VALID_FAILED = "phot valid failed"
NO_VALID_PHOT = "no valid phot"


def clear_validation(session: Session, transient_id: int, kind: str) -> None:
    """Forget the validation flags of the transient's ``kind`` photometry."""
    for row in photometry_rows(session, transient_id, kind):
        row.is_validated = None


def photometry_rows(session: Session, transient_id: int, kind: str) -> list[AperturePhotometry]:
    """The transient's photometry rows through apertures of ``kind`` ("global" or "local")."""
    return list(
        session.scalars(
            select(AperturePhotometry)
            .join(Aperture, AperturePhotometry.aperture_id == Aperture.id)
            .where(AperturePhotometry.transient_id == transient_id, Aperture.type == kind)
            .order_by(AperturePhotometry.id)
        )
    )


class ValidateGlobalPhotometry(TransientTaskRunner):
    """Flag global photometry whose aperture covers another source, in the measured image or in
    the image that defined the aperture (GALEX skipped); "phot valid failed" without rows."""

    task_name = "Validate global photometry"
    group = "transient_global"

    def _prerequisites(self) -> dict[str, str]:
        return {"Global aperture photometry": "processed"}

    def _failed_status_message(self) -> str:
        return PHOT_VALID_FAILED

    def _clean(self, session: Session, transient: Transient, data_root) -> None:
        clear_validation(session, transient.id, "global")

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        session = context.session
        rows = photometry_rows(session, transient.id, "global")
        primary = primary_global_aperture(session, transient.id)
        if not rows or primary is None:
            context.add_metadata(reason="no global photometry")
            return PHOT_VALID_FAILED
        contaminated = []
        for row in rows:
            cutouts = [row.aperture.cutout, primary.cutout]
            if any(c is None or not c.fits_path for c in cutouts):
                context.add_metadata(reason=f"aperture {row.aperture.name} has no image")
                return PHOT_VALID_FAILED
            contaminated.append(self._contaminated(context, row.aperture, cutouts))
        flags = global_validation_flags(contaminated)
        for row, flag in zip(rows, flags, strict=True):
            row.is_validated = flag
        session.flush()
        context.add_metadata(
            valid_filters=sum(flag == "true" for flag in flags),
            contaminated_filters=", ".join(
                row.filter.name for row, bad in zip(rows, contaminated, strict=True) if bad
            )
            or "none",
            photometry=photometry_table(photometry(session, transient.id, "global")),
        )
        return PROCESSED

    @staticmethod
    def _contaminated(context: TaskContext, aperture: Aperture, cutouts: list[Cutout]) -> bool:
        sky = sky_aperture_of(aperture)
        for cutout in dict.fromkeys(cutouts):  # the primary's own row: one image
            filter_name = cutout.filter.name
            if cutout.filter.survey.name == "GALEX":
                continue
            image = analysed_image(context.services.data_root, cutout.fits_path, filter_name)
            if is_contaminated(image.analysis, sky, image.wcs):
                return True
        return False


class ValidateLocalPhotometry(TransientTaskRunner):
    """Local photometry is valid where it has a flux and the 2 kpc radius exceeds the filter's
    PSF FWHM; "no valid phot" when no filter qualifies, "phot valid failed" without rows or
    redshift."""

    task_name = "Validate local photometry"
    group = "transient_local"

    def _prerequisites(self) -> dict[str, str]:
        return {"Local aperture photometry": "processed"}

    def _failed_status_message(self) -> str:
        return PHOT_VALID_FAILED

    def _clean(self, session: Session, transient: Transient, data_root) -> None:
        clear_validation(session, transient.id, "local")

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        rows = photometry_rows(context.session, transient.id, "local")
        if not rows:
            context.add_metadata(reason="no local photometry")
            return PHOT_VALID_FAILED
        z = transient.best_redshift
        if z is None or not z > 0:
            for row in rows:
                row.is_validated = "false"
            context.add_metadata(reason=f"best redshift is {z!r}")
            return PHOT_VALID_FAILED
        n_valid = 0
        for row in rows:
            if row.flux is None or row.flux_error is None:
                row.is_validated = "false"  # a row without a flux is no valid photometry
            else:
                row.is_validated = local_validation_flag(z, row.filter.image_fwhm_arcsec)
            n_valid += row.is_validated == "true"
        context.session.flush()
        radius = local_aperture_radius_arcsec(z)
        sharpest = min(rows, key=lambda r: r.filter.image_fwhm_arcsec).filter
        context.add_metadata(
            valid_filters=n_valid,
            rows=len(rows),
            local_radius_arcsec=round(float(radius), 3),
            photometry=photometry_table(photometry(context.session, transient.id, "local")),
        )
        if n_valid == 0:
            context.add_metadata(
                reason=f"2 kpc = {radius:.2f}\u2033 at z = {z:.4f} is below the PSF FWHM in every "
                f"filter (sharpest: {sharpest.name}, {sharpest.image_fwhm_arcsec:.2f}\u2033)"
            )
        return PROCESSED if n_valid >= 1 else NO_VALID_PHOT
