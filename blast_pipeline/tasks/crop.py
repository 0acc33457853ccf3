"""Crop transient images: a square crop of every cutout around the transient (reference 1.16).

Blast overwrites the downloaded image in place; here the crop is its own file
(``files.cropped_cutout_path``) recorded in ``Cutout.cropped_path``, and the original is never
written to.
"""

from __future__ import annotations

from pathlib import Path

from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import select

from blast_pipeline.db.models import Aperture, Cutout, Transient
from blast_pipeline.files import cropped_cutout_path, relative_to_root
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.science.crop import crop_cutout, crop_size_pixels
from blast_pipeline.science.filters import get_filter
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.apertures import global_aperture_name, sky_aperture_of
from blast_pipeline.tasks.cutouts_io import cutouts_with_files
from blast_pipeline.tasks.fits_storage import image_hdu, write_image


class CropTransientImages(TransientTaskRunner):
    """Square crops centred on the transient, large enough for the host and its aperture and at
    least 5 kpc across; written next to (never over) the downloaded cutouts."""

    task_name = "Crop transient images"
    group = "transient_images"

    def _prerequisites(self) -> dict[str, str]:
        return {"Validate global photometry": "processed", "Validate local photometry": "processed"}

    def _clean(self, session, transient: Transient, data_root: Path) -> None:
        """The cropped files and their paths (the downloaded originals stay)."""
        for cutout in session.scalars(select(Cutout).where(Cutout.transient_id == transient.id)):
            if cutout.cropped_path:
                (data_root / cutout.cropped_path).unlink(missing_ok=True)
                cutout.cropped_path = None

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        session, data_root = context.session, context.services.data_root
        host = transient.host
        host_ra_dec = None if host is None else (host.ra_deg, host.dec_deg)
        z = transient.best_redshift
        cropped = no_overlap = 0
        for filter_name, cutout in sorted(cutouts_with_files(session, transient.id).items()):
            spec = get_filter(filter_name)
            original = data_root / cutout.fits_path
            target = cropped_cutout_path(data_root, transient.name, spec)
            if target.resolve() == original.resolve():
                raise RuntimeError(f"the crop of {cutout.name} would overwrite its original")
            aperture = session.scalar(
                select(Aperture).where(
                    Aperture.name == global_aperture_name(cutout), Aperture.type == "global"
                )
            )
            # Memory-mapped: only the crop's rows are read; crop_cutout copies what it keeps.
            with fits.open(original, memmap=True) as hdul:
                size = crop_size_pixels(
                    WCS(image_hdu(hdul).header),
                    transient.ra_deg,
                    transient.dec_deg,
                    redshift=z,
                    host_ra_dec=host_ra_dec,
                    aperture=None if aperture is None else sky_aperture_of(aperture),
                )
                crop = crop_cutout(image_hdu(hdul), transient.ra_deg, transient.dec_deg, size)
            if crop is None:
                context.log.info(f"{filter_name}: the transient is outside the image; not cropped")
                cutout.cropped_path = None
                target.unlink(missing_ok=True)
                no_overlap += 1
                continue
            write_image(crop, target)
            cutout.cropped_path = relative_to_root(data_root, target)
            cropped += 1
        context.add_metadata(cropped=cropped, not_cropped=no_overlap)
        return PROCESSED
