"""Global aperture construction (reference 1.10) and the aperture rows shared by later tasks."""

from __future__ import annotations

import astropy.units as u
from astropy.coordinates import SkyCoord
from photutils.aperture import SkyCircularAperture, SkyEllipticalAperture
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Aperture, AperturePhotometry, Cutout, Transient
from blast_pipeline.db.upsert import upsert
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.science.apertures import choose_aperture_filter, construct_global_aperture
from blast_pipeline.science.background import BackgroundEstimationError
from blast_pipeline.statuses import FAILED, PROCESSED
from blast_pipeline.tasks.cutouts_io import cutouts_with_files
from blast_pipeline.tasks.image_cache import analysed_image

#: Blast tries ``select_cutout_aperture(cutouts, choice)`` for choice 0..8.
APERTURE_CHOICES = 9


def global_aperture_name(cutout: Cutout) -> str:
    return f"{cutout.name}_global"


def local_aperture_name(transient: Transient) -> str:
    return f"{transient.name}_local"


def sky_aperture_of(row: Aperture) -> SkyEllipticalAperture | SkyCircularAperture:
    """The photutils sky aperture stored in an `Aperture` row (a circle when a == b, theta 0)."""
    centre = SkyCoord(row.ra_deg * u.deg, row.dec_deg * u.deg)
    a, b = row.semi_major_axis_arcsec, row.semi_minor_axis_arcsec
    if row.type == "local" and a == b:
        return SkyCircularAperture(centre, a * u.arcsec)
    return SkyEllipticalAperture(
        centre, a * u.arcsec, b * u.arcsec, theta=row.orientation_deg * u.deg
    )


def aperture_fields(sky: SkyEllipticalAperture | SkyCircularAperture) -> dict[str, float]:
    """Column values of a sky aperture (orientation in degrees, as Blast stores it)."""
    centre = sky.positions
    if isinstance(sky, SkyCircularAperture):
        a = b = sky.r.to_value(u.arcsec)
        theta = 0.0
    else:
        a, b = sky.a.to_value(u.arcsec), sky.b.to_value(u.arcsec)
        theta = sky.theta.to_value(u.deg)
    return {
        "ra_deg": float(centre.ra.deg),
        "dec_deg": float(centre.dec.deg),
        "semi_major_axis_arcsec": float(a),
        "semi_minor_axis_arcsec": float(b),
        "orientation_deg": float(theta),
    }


def upsert_aperture(session: Session, name: str, **values) -> Aperture:
    """Blast's ``create_or_update_aperture``: update the row with this name in place, or add it
    (one atomic statement)."""
    return upsert(session, Aperture, {"name": name}, values)


def delete_apertures(session: Session, aperture_ids: list[int]) -> None:
    """Delete apertures and their photometry (explicitly, whatever the database's FK settings)."""
    if not aperture_ids:
        return
    session.execute(
        delete(AperturePhotometry).where(AperturePhotometry.aperture_id.in_(aperture_ids))
    )
    session.execute(delete(Aperture).where(Aperture.id.in_(aperture_ids)))
    session.flush()


def primary_global_aperture(session: Session, transient_id: int) -> Aperture | None:
    """The transient's primary global aperture (the one built on the reference image)."""
    return session.scalar(
        select(Aperture).where(
            Aperture.transient_id == transient_id,
            Aperture.type == "global",
            Aperture.is_primary.is_(True),
        )
    )


def aperture_candidates(available: dict[str, Cutout]) -> list[str]:
    """Filters tried in turn, as Blast's 9 choices, each distinct filter once (the outcome of a
    repeated try would be the same)."""
    names: list[str] = []
    for choice in range(APERTURE_CHOICES):
        name = choose_aperture_filter(available, start=choice)
        if name is not None and name not in names:
            names.append(name)
    return names


class GlobalApertureConstruction(TransientTaskRunner):
    """The host's Kron ellipse on the first usable image in Blast's filter priority: one primary
    global aperture per transient; "failed" without a host or when no image gives one."""

    task_name = "Global aperture construction"
    group = "transient_global"

    def _prerequisites(self) -> dict[str, str]:
        return {"Host information": "processed"}

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        host = transient.host
        if host is None:
            context.add_metadata(reason="the transient has no host")
            return FAILED
        session, data_root = context.session, context.services.data_root
        available = cutouts_with_files(session, transient.id)
        tried: list[str] = []
        for filter_name in aperture_candidates(available):
            cutout = available[filter_name]
            tried.append(filter_name)
            try:
                image = analysed_image(data_root, cutout.fits_path, filter_name)
                sky = construct_global_aperture(
                    image.data,
                    image.wcs,
                    host.ra_deg,
                    host.dec_deg,
                    analysis=image.analysis,
                    filter_name=filter_name,
                )
            except (BackgroundEstimationError, ValueError, OSError) as exc:
                context.log.warning(f"{filter_name}: no global aperture ({exc})")
                continue
            if sky is None:
                context.log.info(f"{filter_name}: no source within 5 arcsec of the host")
                continue
            self._store(session, transient, cutout, sky)
            fields = aperture_fields(sky)
            context.add_metadata(
                filter=filter_name,
                tried=", ".join(tried),
                ra_deg=round(fields["ra_deg"], 6),
                dec_deg=round(fields["dec_deg"], 6),
                semi_major_axis_arcsec=round(fields["semi_major_axis_arcsec"], 3),
                semi_minor_axis_arcsec=round(fields["semi_minor_axis_arcsec"], 3),
                orientation_deg=round(fields["orientation_deg"], 1),
            )
            return PROCESSED
        context.add_metadata(
            reason="no image gave a host aperture", tried=", ".join(tried) or "no image"
        )
        return FAILED

    def _clean(self, session: Session, transient: Transient, data_root) -> None:
        """Every global aperture of the transient (primary and PSF-matched) and its photometry."""
        ids = session.scalars(
            select(Aperture.id).where(
                Aperture.transient_id == transient.id, Aperture.type == "global"
            )
        ).all()
        delete_apertures(session, list(ids))

    @staticmethod
    def _store(
        session: Session, transient: Transient, cutout: Cutout, sky: SkyEllipticalAperture
    ) -> None:
        name = global_aperture_name(cutout)
        stale = session.scalars(
            select(Aperture.id).where(
                Aperture.transient_id == transient.id,
                Aperture.type == "global",
                Aperture.is_primary.is_(True),
                Aperture.name != name,
            )
        ).all()
        delete_apertures(session, list(stale))
        upsert_aperture(
            session,
            name,
            transient_id=transient.id,
            cutout_id=cutout.id,
            type="global",
            is_primary=True,
            **aperture_fields(sky),
        )
