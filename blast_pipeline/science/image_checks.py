"""Is a cutout usable? The checks a downloaded or stored FITS image must pass.

A usable cutout opens, has a 2-D image (in the primary HDU or, for the pipeline's stored files,
the first image extension, tile-compressed or plain), a celestial WCS that transforms pixels
to the sky, and finite data that is not all zero (an all-NaN or all-zero image is a survey's
"no coverage", not an image).
Each check returns a reason (a short sentence) or None; nothing here raises for a bad file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

__all__ = ["first_image_hdu", "image_problem", "file_problem", "hdul_problem"]


def first_image_hdu(hdul: fits.HDUList) -> fits.PrimaryHDU | fits.ImageHDU | None:
    """The first HDU that holds image data (the primary one, or an extension), found
    from the headers alone: a tile-compressed image is not decompressed just to find it."""
    for hdu in hdul:
        naxis = int(hdu.header.get("NAXIS", 0)) if hdu.is_image else 0
        if naxis > 0 and all(int(hdu.header.get(f"NAXIS{i}", 0)) > 0 for i in range(1, naxis + 1)):
            return hdu
    return None


def image_problem(data: np.ndarray | None, header: fits.Header) -> str | None:
    """Why an image array with its header is not usable, or None when it is."""
    if data is None:
        return "has no image data"
    if np.ndim(data) != 2:
        return f"image is not 2-D (shape {np.shape(data)})"
    if not np.issubdtype(np.asarray(data).dtype, np.number):
        return f"image is not numeric (dtype {np.asarray(data).dtype})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header).celestial
            if wcs.naxis != 2 or not wcs.has_celestial:
                return "has no celestial WCS"
            ny, nx = np.shape(data)
            sky = wcs.pixel_to_world_values([(nx - 1) / 2.0], [(ny - 1) / 2.0])
    except Exception as exc:  # wcslib raises many types (ValueError, MemoryError, ...)
        return f"has an unusable WCS ({_one_line(exc)})"
    if not np.all(np.isfinite(sky)):
        return "has a WCS that gives no sky position at the image centre"
    values = np.asarray(data)
    finite = np.isfinite(values)
    if not finite.any():
        return "has no finite pixels"
    if not np.any(values[finite] != 0):
        return "is all zeros"
    return None


def file_problem(path: Path) -> str | None:
    """Why the FITS file at ``path`` is not a usable cutout, or None when it is."""
    path = Path(path)
    if not path.is_file():
        return "is missing"
    if path.stat().st_size == 0:
        return "is empty (0 bytes)"
    try:
        with fits.open(path, memmap=False) as hdul:
            return hdul_problem(hdul)
    except Exception as exc:  # a truncated or corrupt file raises OSError, TypeError, ...
        return f"cannot be read ({_one_line(exc)})"


def hdul_problem(hdul: fits.HDUList) -> str | None:
    """Why an opened FITS file (on disk or as downloaded, in memory) is not a usable cutout, or
    None when it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncation warnings become the reason below
            hdul.verify("silentfix")
            hdu = first_image_hdu(hdul)
            if hdu is None:
                return "has no image HDU"
            return image_problem(hdu.data, hdu.header)
    except Exception as exc:  # a truncated or corrupt file raises OSError, TypeError, ...
        return f"cannot be read ({_one_line(exc)})"


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
