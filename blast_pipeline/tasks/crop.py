"""Crop transient images: a square crop of every cutout around the transient (reference 1.16).

Blast overwrites the downloaded image in place; here the original is never written to and the
crop is a view of it: ``Cutout.cropped_path`` holds the cutout's path with the crop's box as a
CFITSIO image section (``files.image_section``, e.g. ``cutouts/2024abc/SDSS/SDSS_g.fits[1][37:
236,37:236]``), read with ``cutouts_io.read_image(cropped=True)``. No pixel is stored twice.
"""

from __future__ import annotations

from pathlib import Path

from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import select

from blast_pipeline.db.models import Aperture, Cutout, Transient
from blast_pipeline.files import image_section, separate_crop_file
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.science.crop import crop_box, crop_size_pixels
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.apertures import global_aperture_name, sky_aperture_of
from blast_pipeline.tasks.cutouts_io import cutouts_with_files
from blast_pipeline.tasks.fits_storage import image_hdu


class CropTransientImages(TransientTaskRunner):
    """Square crops centred on the transient, large enough for the host and its aperture and at
    least 5 kpc across; recorded as views of (never written over) the downloaded cutouts."""

    task_name = "Crop transient images"
    group = "transient_images"

    def _prerequisites(self) -> dict[str, str]:
        return {"Validate global photometry": "processed", "Validate local photometry": "processed"}

    def _clean(self, session, transient: Transient, data_root: Path) -> None:
        """The crops (a crop file of an earlier version too; the downloaded originals stay)."""
        for cutout in session.scalars(select(Cutout).where(Cutout.transient_id == transient.id)):
            crop_file = separate_crop_file(cutout.cropped_path)
            if crop_file:
                (data_root / crop_file).unlink(missing_ok=True)
            cutout.cropped_path = None

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        session, data_root = context.session, context.services.data_root
        host = transient.host
        host_ra_dec = None if host is None else (host.ra_deg, host.dec_deg)
        z = transient.best_redshift
        cropped = no_overlap = 0
        for filter_name, cutout in sorted(cutouts_with_files(session, transient.id).items()):
            aperture = session.scalar(
                select(Aperture).where(
                    Aperture.name == global_aperture_name(cutout), Aperture.type == "global"
                )
            )
            with fits.open(data_root / cutout.fits_path) as hdul:  # the header only
                hdu = image_hdu(hdul)
                wcs = WCS(hdu.header)
                shape = (int(hdu.header["NAXIS2"]), int(hdu.header["NAXIS1"]))
                index = hdul.index(hdu)
            size = crop_size_pixels(
                wcs,
                transient.ra_deg,
                transient.dec_deg,
                redshift=z,
                host_ra_dec=host_ra_dec,
                aperture=None if aperture is None else sky_aperture_of(aperture),
            )
            box = crop_box(shape, wcs, transient.ra_deg, transient.dec_deg, size)
            if box is None:
                context.log.info(f"{filter_name}: the transient is outside the image; not cropped")
                cutout.cropped_path = None
                no_overlap += 1
                continue
            cutout.cropped_path = image_section(cutout.fits_path, index, box)
            cropped += 1
        context.add_metadata(cropped=cropped, not_cropped=no_overlap)
        return PROCESSED
