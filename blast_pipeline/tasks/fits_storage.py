"""How cutouts and crops are stored: the image in the first extension, written atomically,
**lossless**, tile-compressed (``CompImageHDU``) only where that pays:

* integer images: Rice (cheap, and it always pays);
* floating-point images: GZIP with byte shuffling, unquantised, when a sample of the image
  shrinks below ``WORTHWHILE_COMPRESSION`` of its size; otherwise a plain ``ImageHDU``.
  Survey images delivered as quantised floats (the 2010H SDSS, GALEX, 2MASS and WISE files)
  shrink to 0.2-0.8; full-precision noise (the simulated sky's PanSTARRS, DES and SDSS) only
  to ~0.9, and there astropy's GZIP (zlib level 9) cost ~1.3 CPU-s to write and ~0.6 to read
  per 360" transient for a 10 % saving (benchmarks/README.md, "Cutout storage").
  Quantising floats (Rice at 1/16 of the noise sigma, CFITSIO's usual lossy mode) was measured
  and rejected: it moved aperture fluxes on simulated cutouts by up to 0.6 sigma. The disk is
  protected by the free-space gate (``runners/disk.py``).

Readers take the first HDU holding an image (``image_hdu``), so files written before, or by
Blast, still read; crops are image sections of extension 1 either way.
"""

from __future__ import annotations

import zlib
from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits

from blast_pipeline.atomic import replace_atomically
from blast_pipeline.science.image_checks import first_image_hdu

#: A float image is compressed when a sample of it compresses to at most this fraction.
WORTHWHILE_COMPRESSION = 0.8
#: Rows of the image sampled to judge it (evenly spaced).
_SAMPLE_ROWS = 32


def compressed_fraction(data: np.ndarray) -> float:
    """Size after byte-shuffled zlib (level 1) over size before, of ~``_SAMPLE_ROWS`` evenly
    spaced rows each compressed on its own, as GZIP_2 compresses one-row tiles: what it would
    achieve, at ~1 % of its cost. ``data`` must not be empty."""
    step = -(-data.shape[0] // _SAMPLE_ROWS)  # ceil: at most _SAMPLE_ROWS rows
    rows = np.asarray(data[::step], dtype=data.dtype.newbyteorder(">"))
    itemsize = rows.dtype.itemsize
    packed = sum(
        len(zlib.compress(row.view(np.uint8).reshape(-1, itemsize).T.tobytes(), 1)) for row in rows
    )
    return packed / rows.nbytes


def stored(hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU) -> fits.HDUList:
    """A file's HDU list holding ``hdu``'s image (header kept) in its first extension,
    compressed where that pays (module docstring)."""
    data = np.asarray(hdu.data)
    header = hdu.header.copy()
    for key in ("SIMPLE", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "BITPIX", "BZERO", "BSCALE"):
        header.remove(key, ignore_missing=True, remove_all=True)
    if not np.issubdtype(data.dtype, np.floating):
        image = fits.CompImageHDU(data=data, header=header, compression_type="RICE_1")
    elif data.size and compressed_fraction(data) <= WORTHWHILE_COMPRESSION:
        image = fits.CompImageHDU(
            data=data,
            header=header,
            compression_type="GZIP_2",
            quantize_level=0.0,  # no quantisation: every pixel is stored exactly
        )
    else:
        image = fits.ImageHDU(data=data, header=header)
    return fits.HDUList([fits.PrimaryHDU(), image])


def write_image(hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU, path: Path) -> None:
    """Write ``hdu`` as stored (``stored``), atomically (a reader never sees half a file)."""
    replace_atomically(path, partial(stored(hdu).writeto, overwrite=True))


def image_hdu(hdul: fits.HDUList):
    """The first HDU of a file that holds an image (extension 1 of a stored file, compressed or
    plain, or the primary HDU of a file written by Blast)."""
    hdu = first_image_hdu(hdul)
    if hdu is None:
        raise ValueError(f"{hdul.filename() or 'FITS file'} has no image HDU")
    return hdu
