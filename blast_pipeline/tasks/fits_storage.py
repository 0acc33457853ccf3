"""How cutouts and crops are stored: tiled FITS compression (``CompImageHDU``, one row per
tile) in the first extension, written atomically, **lossless**:

* integer images: Rice;
* floating-point images: GZIP with byte shuffling, unquantised. Quantising floats (Rice at
  1/16 of the noise sigma, CFITSIO's usual lossy mode, ~4x smaller) was measured and rejected:
  it moved aperture fluxes on simulated cutouts by up to 0.6 sigma (background estimation reacts
  to the rounding), so it is not harmless to the photometry. Lossless compression of noisy
  float images saves only ~4 % (benchmarks/README.md); the disk is protected by the free-space
  gate instead (``runners/disk.py``).

Readers take the first HDU holding an image (``image_hdu``), so uncompressed files written
before, or by Blast, still read.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits

from blast_pipeline.atomic import replace_atomically
from blast_pipeline.science.image_checks import first_image_hdu


def compressed(hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU) -> fits.HDUList:
    """A file's HDU list holding ``hdu``'s image tile-compressed (header kept)."""
    data = np.asarray(hdu.data)
    floating = np.issubdtype(data.dtype, np.floating)
    header = hdu.header.copy()
    for key in ("SIMPLE", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "BITPIX", "BZERO", "BSCALE"):
        header.remove(key, ignore_missing=True, remove_all=True)
    image = fits.CompImageHDU(
        data=data,
        header=header,
        compression_type="GZIP_2" if floating else "RICE_1",
        quantize_level=0.0,  # no quantisation: every pixel is stored exactly
    )
    return fits.HDUList([fits.PrimaryHDU(), image])


def write_image(hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU, path: Path) -> None:
    """Write ``hdu`` compressed, atomically (a reader never sees half a file)."""
    replace_atomically(path, partial(compressed(hdu).writeto, overwrite=True))


def image_hdu(hdul: fits.HDUList):
    """The first HDU of a file that holds an image (the compressed extension, or the primary
    HDU of an uncompressed file)."""
    hdu = first_image_hdu(hdul)
    if hdu is None:
        raise ValueError(f"{hdul.filename() or 'FITS file'} has no image HDU")
    return hdu
