"""Square crops of the cutouts centred on the transient (reference 1.16).

Unlike Blast, which overwrites the downloaded image in place, a crop is a box of the cutout
(``crop_box``) read as a view (``crop_view``, only the pixels it covers): the uncropped image
product stays intact and its pixels are not stored twice.
"""

from __future__ import annotations

import re

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata.utils import NoOverlapError, overlap_slices
from astropy.wcs import WCS
from photutils.aperture import SkyAperture

from blast_pipeline.science.cosmology import angular_size_arcsec
from blast_pipeline.science.pixel_apertures import to_pixel

__all__ = [
    "CROP_DEFAULT_REDSHIFT",
    "CROP_MIN_SIZE_PIX",
    "crop_box",
    "crop_size_pixels",
    "crop_view",
    "pixel_scale_arcsec",
]

CROP_MIN_SIZE_PIX = 100
#: Margin in pixels added to twice the host or aperture extent.
CROP_MARGIN_PIX = 100
#: Physical half-size of the minimum crop.
CROP_HALF_SIZE_KPC = 5.0
#: Redshift used when there is none or it is below `CROP_MIN_REDSHIFT`.
CROP_DEFAULT_REDSHIFT = 0.01
CROP_MIN_REDSHIFT = 0.002

_WCS_KEY = re.compile(
    r"^(WCSAXES|CRPIX\d|CRVAL\d|CDELT\d|CTYPE\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|"
    r"LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|A_\d+_\d+|B_\d+_\d+|AP_\d+_\d+|BP_\d+_\d+|"
    r"A_ORDER|B_ORDER|AP_ORDER|BP_ORDER)$"
)


def pixel_scale_arcsec(wcs: WCS, ra: float, dec: float) -> float:
    """Pixel scale at (ra, dec), measured as Blast does from a 10-pixel offset along x."""
    wcs = wcs.celestial
    x, y = wcs.world_to_pixel(SkyCoord(ra * u.deg, dec * u.deg))
    here = wcs.pixel_to_world(x, y)
    offset = wcs.pixel_to_world(x + 10, y)
    return float(here.separation(offset).arcsec / 10.0)


def crop_size_pixels(
    wcs: WCS,
    transient_ra: float,
    transient_dec: float,
    *,
    redshift: float | None = None,
    host_ra_dec: tuple[float, float] | None = None,
    aperture: SkyAperture | None = None,
) -> int:
    """Side in pixels of Blast's crop of one cutout.

    At least 100 pixels and the diameter of 5 kpc at ``redshift`` (at z = 0.01 when the
    redshift is missing or below 0.002). With a host, large enough to hold the host position
    (``2 max(|dx|, |dy|) + 100``) or, when this cutout has a global ``aperture``, every edge of
    that aperture's bounding box around the transient. Rounded as ``Cutout2D`` rounds it.
    """
    wcs = wcs.celestial
    scale = pixel_scale_arcsec(wcs, transient_ra, transient_dec)
    z = redshift
    if z is None or not np.isfinite(z) or z < CROP_MIN_REDSHIFT:
        z = CROP_DEFAULT_REDSHIFT
    size_5kpc = 2 * angular_size_arcsec(z, CROP_HALF_SIZE_KPC) / scale
    cx, cy = wcs.world_to_pixel(SkyCoord(transient_ra * u.deg, transient_dec * u.deg))
    if host_ra_dec is None:
        size = size_5kpc
    elif aperture is not None:
        bbox = to_pixel(aperture, wcs).bbox
        size = max(
            abs(edge - centre) * 2 + CROP_MARGIN_PIX
            for edge, centre in (
                (bbox.ixmax, cx),
                (bbox.ixmin, cx),
                (bbox.iymax, cy),
                (bbox.iymin, cy),
            )
        )
    else:
        hx, hy = wcs.world_to_pixel(SkyCoord(host_ra_dec[0] * u.deg, host_ra_dec[1] * u.deg))
        size = max(abs(hx - cx), abs(hy - cy)) * 2 + CROP_MARGIN_PIX
    size = max(float(size), size_5kpc, CROP_MIN_SIZE_PIX)
    return int(np.round(size))


def crop_box(
    shape: tuple[int, int], wcs: WCS, transient_ra: float, transient_dec: float, size_pix: int
) -> tuple[slice, slice] | None:
    """The (rows, columns) slices of the square ``size_pix`` crop centred on the transient in
    an image of ``shape``, or None if it does not overlap. Near an edge the crop is trimmed to
    the image, as Blast's ``Cutout2D`` default does (the same ``overlap_slices``)."""
    size = int(size_pix)
    if size < 1:
        raise ValueError(f"size_pix must be positive, got {size_pix!r}")
    if wcs.naxis != 2 or not wcs.has_celestial:
        raise ValueError("crop_box needs a 2D celestial WCS")
    x, y = wcs.world_to_pixel(SkyCoord(transient_ra * u.deg, transient_dec * u.deg))
    try:
        rows, columns = overlap_slices(shape, (size, size), (float(y), float(x)), mode="trim")[0]
    except NoOverlapError:
        return None
    return rows, columns


def crop_view(hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU, box: tuple[slice, slice]):
    """A new HDU holding only ``box`` of ``hdu``'s image, read through ``hdu.section`` (only the
    tiles or rows it covers are read from a file). The WCS keywords are replaced by those of the
    cropped WCS; all other header keywords are kept; the input is not modified."""
    rows, columns = box
    source = hdu.section if hdu.fileinfo() is not None else hdu.data  # in memory: no file
    data = np.array(source[rows, columns])
    header = hdu.header.copy()
    wcs = WCS(header).slice((rows, columns))
    for key in [k for k in header if _WCS_KEY.match(k)]:
        del header[key]
    header.update(wcs.to_header(relax=True))
    return fits.PrimaryHDU(data=data, header=header)
