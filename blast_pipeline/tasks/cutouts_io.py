"""Reading a transient's stored cutouts back (shared by the image tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Cutout, Filter
from blast_pipeline.files import parse_image_section
from blast_pipeline.science.crop import crop_view
from blast_pipeline.science.filters import APERTURE_FILTER_PRIORITY, FilterSpec, get_filter
from blast_pipeline.tasks.fits_storage import image_hdu


@dataclass(frozen=True)
class StoredImage:
    """One cutout read from disk."""

    cutout: Cutout
    spec: FilterSpec
    data: object
    header: fits.Header
    wcs: WCS


def cutouts_with_files(session: Session, transient_id: int) -> dict[str, Cutout]:
    """Filter name -> cutout row, for the cutouts that have a downloaded file."""
    rows = session.execute(
        select(Cutout, Filter.name)
        .join(Filter, Cutout.filter_id == Filter.id)
        .where(Cutout.transient_id == transient_id, Cutout.fits_path.is_not(None))
    )
    return {name: cutout for cutout, name in rows}


def read_image(
    data_root: Path, cutout: Cutout, filter_name: str, cropped: bool = False
) -> StoredImage:
    """The cutout's image (float64), or with ``cropped`` its crop when it has one: a view of
    the cutout (only the crop's pixels are read) or, from an earlier version, a file."""
    relative = cutout.cropped_path if cropped and cutout.cropped_path else cutout.fits_path
    section = parse_image_section(relative)
    if section is not None:
        relative, index, box = section
    with fits.open(data_root / relative, memmap=section is not None) as hdul:
        hdu = image_hdu(hdul) if section is None else crop_view(hdul[index], box)
        data, header = hdu.data.astype("float64"), hdu.header.copy()
    return StoredImage(cutout, get_filter(filter_name), data, header, WCS(header).celestial)


def best_cutout_filter(available: dict[str, Cutout]) -> str | None:
    """The first filter of Blast's priority list that has an image (``select_best_cutout``)."""
    for name in APERTURE_FILTER_PRIORITY:
        if name in available:
            return name
    return None
