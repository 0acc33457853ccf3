"""Global and local aperture photometry in AB microjansky (reference 1.11, 1.12 and 1.14)."""

from __future__ import annotations

import math

import astropy.units as u
from astropy.coordinates import SkyCoord
from photutils.aperture import SkyAperture, SkyCircularAperture
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Aperture, AperturePhotometry, Cutout, Transient
from blast_pipeline.db.summaries import PhotometryRow, photometry
from blast_pipeline.db.upsert import upsert
from blast_pipeline.runners.base import MetadataTable, TaskContext, TransientTaskRunner
from blast_pipeline.science.apertures import psf_matched_aperture
from blast_pipeline.science.background import BackgroundEstimationError
from blast_pipeline.science.cosmology import local_aperture_radius_arcsec
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import PhotometryResult, measure_aperture_photometry
from blast_pipeline.statuses import FAILED, PROCESSED
from blast_pipeline.tasks.apertures import (
    aperture_fields,
    delete_apertures,
    global_aperture_name,
    local_aperture_name,
    primary_global_aperture,
    sky_aperture_of,
    upsert_aperture,
)
from blast_pipeline.tasks.cutouts_io import cutouts_with_files
from blast_pipeline.tasks.image_cache import analysed_image


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def photometry_table(rows: list[PhotometryRow]) -> MetadataTable:
    """The photometry as a table for the Dagster UI: filter, flux and error (uJy), AB magnitude
    and error, validation flag."""
    return MetadataTable(
        ("filter", "flux_uJy", "flux_err_uJy", "AB_mag", "AB_mag_err", "validated"),
        tuple(
            (
                r.filter,
                _rounded(r.flux_ujy, 3),
                _rounded(r.flux_error_ujy, 3),
                _rounded(r.magnitude, 3),
                _rounded(r.magnitude_error, 3),
                r.validated or "not yet",
            )
            for r in rows
        ),
    )


class MissingGlobalAperture(RuntimeError):
    """Global photometry was asked for a transient without a primary global aperture."""


def measure(
    context: TaskContext,
    cutout: Cutout,
    filter_name: str,
    sky: SkyAperture,
    skipped: dict[str, str],
) -> PhotometryResult | None:
    """Photometry of one cutout in one sky aperture, on the shared analysed image, with the
    image's own correlated noise in the error (`empty_aperture_noise`).

    None when the image has no usable background, as `measure_aperture_photometry` does, and
    when the file or its header is unusable (unreadable, truncated, no WCS, a missing
    zero-point keyword, ...): then ``skipped[filter_name]`` says why, naming the file, and the
    other filters go on.
    """
    try:
        image = analysed_image(context.services.data_root, cutout.fits_path, filter_name)
        return measure_aperture_photometry(
            image.data,
            image.header,
            image.wcs,
            sky,
            get_filter(filter_name),
            image.analysis,
            correlated_noise=image.noise_model,
        )
    except BackgroundEstimationError as exc:
        context.log.warning(f"{filter_name}: no background ({exc})")
        return None
    except Exception as exc:  # one unusable file or header must not stop the other filters
        reason = f"{cutout.fits_path}: {type(exc).__name__}: {' '.join(str(exc).split())}"
        context.log.warning(f"{filter_name} skipped: {reason}")
        skipped[filter_name] = reason[:500]
        return None


def _plain(value: float | None) -> float | None:
    """A Python float for the database drivers (psycopg2 cannot adapt numpy scalars)."""
    return None if value is None else float(value)


def store_photometry(
    session: Session,
    transient: Transient,
    aperture: Aperture,
    filter_id: int,
    result: PhotometryResult | None,
) -> AperturePhotometry:
    """Write the one row of (aperture, filter), replacing the previous values and validation
    (one atomic upsert)."""
    return upsert(
        session,
        AperturePhotometry,
        {"aperture_id": aperture.id, "filter_id": filter_id},
        {
            "transient_id": transient.id,
            "flux": _plain(None if result is None else result.flux),
            "flux_error": _plain(None if result is None else result.flux_error),
            "magnitude": _plain(None if result is None else result.magnitude),
            "magnitude_error": _plain(None if result is None else result.magnitude_error),
            "is_validated": None,
        },
    )


def delete_photometry(session: Session, aperture_id: int, keep_filter_ids: set[int]) -> None:
    """Remove an aperture's rows for the filters not measured in this run."""
    query = delete(AperturePhotometry).where(AperturePhotometry.aperture_id == aperture_id)
    if keep_filter_ids:
        query = query.where(AperturePhotometry.filter_id.not_in(keep_filter_ids))
    session.execute(query)


class GlobalAperturePhotometry(TransientTaskRunner):
    """Photometry of the host in every cutout through the primary global aperture, PSF-matched
    to each filter; one row per filter (a filter with no measurement has no row, an unusable
    file or header is named in ``skipped_filters``); "failed" when no filter is measured."""

    task_name = "Global aperture photometry"
    group = "transient_global"

    def _prerequisites(self) -> dict[str, str]:
        return {"Global aperture construction": "processed"}

    def _clean(self, session: Session, transient: Transient, data_root) -> None:
        """The PSF-matched global apertures and all global photometry (the primary aperture
        belongs to Global aperture construction)."""
        copies = session.scalars(
            select(Aperture.id).where(
                Aperture.transient_id == transient.id,
                Aperture.type == "global",
                Aperture.is_primary.is_(False),
            )
        ).all()
        delete_apertures(session, list(copies))
        primary = primary_global_aperture(session, transient.id)
        if primary is not None:
            delete_photometry(session, primary.id, set())

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        session = context.session
        primary = primary_global_aperture(session, transient.id)
        if primary is None or primary.cutout is None:
            raise MissingGlobalAperture(
                f"{transient.name} has no primary global aperture; run Global aperture "
                "construction first"
            )
        primary_sky = sky_aperture_of(primary)
        fwhm_ref = primary.cutout.filter.image_fwhm_arcsec
        kept_apertures = {primary.id}
        measured = skipped = 0
        unusable: dict[str, str] = {}
        for filter_name, cutout in sorted(cutouts_with_files(session, transient.id).items()):
            if cutout.id == primary.cutout_id:
                aperture, sky = primary, primary_sky
            else:
                sky = psf_matched_aperture(primary_sky, fwhm_ref, cutout.filter.image_fwhm_arcsec)
                if sky is None:
                    context.log.info(f"{filter_name}: PSF-matched aperture would be empty")
                    skipped += 1
                    continue
                aperture = upsert_aperture(
                    session,
                    global_aperture_name(cutout),
                    transient_id=transient.id,
                    cutout_id=cutout.id,
                    type="global",
                    is_primary=False,
                    **aperture_fields(sky),
                )
            kept_apertures.add(aperture.id)
            result = measure(context, cutout, filter_name, sky, unusable)
            if result is None:
                delete_photometry(session, aperture.id, set())
                skipped += 1
                continue
            store_photometry(session, transient, aperture, cutout.filter_id, result)
            delete_photometry(session, aperture.id, {cutout.filter_id})
            measured += 1
        stale = session.scalars(
            select(Aperture.id).where(
                Aperture.transient_id == transient.id,
                Aperture.type == "global",
                Aperture.id.not_in(kept_apertures),
            )
        ).all()
        delete_apertures(session, list(stale))
        session.flush()
        context.add_metadata(
            measured=measured,
            without_measurement=skipped,
            skipped_filters=unusable,
            photometry=photometry_table(photometry(session, transient.id, "global")),
        )
        if measured == 0:  # no data is not success
            context.add_metadata(reason="no filter could be measured")
            return FAILED
        return PROCESSED


class LocalAperturePhotometry(TransientTaskRunner):
    """Photometry in a 2 kpc-radius circle at the transient in every cutout; a row per filter
    even without a measurement (as Blast); "failed" without a positive best redshift or when
    no filter is measured."""

    task_name = "Local aperture photometry"
    group = "transient_local"

    def _prerequisites(self) -> dict[str, str]:
        return {"Host information": "processed"}

    def _clean(self, session: Session, transient: Transient, data_root) -> None:
        """The local aperture and its photometry."""
        ids = session.scalars(
            select(Aperture.id).where(
                Aperture.transient_id == transient.id, Aperture.type == "local"
            )
        ).all()
        delete_apertures(session, list(ids))

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        z = transient.best_redshift
        if z is None or not z > 0:
            context.add_metadata(reason=f"best redshift is {z!r}")
            return FAILED
        session = context.session
        radius = local_aperture_radius_arcsec(z)
        sky = SkyCircularAperture(
            SkyCoord(transient.ra_deg * u.deg, transient.dec_deg * u.deg), radius * u.arcsec
        )
        aperture = upsert_aperture(
            session,
            local_aperture_name(transient),
            transient_id=transient.id,
            cutout_id=None,
            type="local",
            is_primary=True,
            **aperture_fields(sky),
        )
        filter_ids: set[int] = set()
        measured = 0
        unusable: dict[str, str] = {}
        for filter_name, cutout in sorted(cutouts_with_files(session, transient.id).items()):
            result = measure(context, cutout, filter_name, sky, unusable)
            store_photometry(session, transient, aperture, cutout.filter_id, result)
            filter_ids.add(cutout.filter_id)
            measured += result is not None
        delete_photometry(session, aperture.id, filter_ids)
        session.flush()
        context.add_metadata(
            radius_arcsec=round(float(radius), 4),
            best_redshift=round(float(z), 4),
            rows=len(filter_ids),
            measured=measured,
            skipped_filters=unusable,
            photometry=photometry_table(photometry(session, transient.id, "local")),
        )
        if measured == 0:  # rows without a flux are no photometry
            context.add_metadata(reason="no filter could be measured")
            return FAILED
        return PROCESSED
