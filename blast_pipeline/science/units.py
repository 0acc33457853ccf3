"""Image units to AB microjansky, following Blast's per-survey conventions (reference 1.12).

Zero point: the header keyword (``MAGZP`` for 2MASS) when the filter names one; otherwise the
filter's zero point for images in counts/s; otherwise zero point + 2.5 log10(EXPTIME) for images
in counts. Flux in microjansky: ``F * 10**(-0.4 (zpt - 23.9)) * 10**(-0.4 ab_offset)``
(23.9 is the AB magnitude of 1 microjansky). SDSS nanomaggies (ZP 22.5) give 3.631 uJy per nmgy.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec

AB_MAG_OF_ONE_MICROJANSKY = 23.9


class MissingHeaderKeyword(KeyError):
    """The image lacks a header keyword its survey's unit convention needs."""


def image_zero_point(spec: FilterSpec, header: fits.Header) -> float:
    """The magnitude zero point of an image of ``spec`` with this header."""
    if spec.magnitude_zero_point_keyword:
        key = spec.magnitude_zero_point_keyword
        if key not in header:
            raise MissingHeaderKeyword(f"{spec.name} image has no {key} header keyword")
        return float(header[key])
    if spec.magnitude_zero_point is None:
        raise ValueError(f"{spec.name} has neither a zero point nor a zero-point keyword")
    if spec.image_pixel_units == "counts/sec":
        return float(spec.magnitude_zero_point)
    if "EXPTIME" not in header:
        raise MissingHeaderKeyword(f"{spec.name} image in counts has no EXPTIME header keyword")
    exptime = float(header["EXPTIME"])
    if not exptime > 0:
        raise ValueError(f"{spec.name} image has a non-positive EXPTIME ({exptime})")
    return float(spec.magnitude_zero_point) + 2.5 * np.log10(exptime)


def microjansky_per_count(spec: FilterSpec, zero_point: float) -> float:
    """Conversion factor from image units to AB microjansky."""
    return 10 ** (-0.4 * (zero_point - AB_MAG_OF_ONE_MICROJANSKY)) * 10 ** (-0.4 * spec.ab_offset)


def ab_mag_to_microjansky(mag: float | np.ndarray) -> float | np.ndarray:
    return 10 ** (-0.4 * (np.asarray(mag) - AB_MAG_OF_ONE_MICROJANSKY))


def microjansky_to_ab_mag(flux: float | np.ndarray) -> float | np.ndarray:
    return AB_MAG_OF_ONE_MICROJANSKY - 2.5 * np.log10(flux)
