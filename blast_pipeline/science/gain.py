"""Effective gain of an image for the source Poisson term of its flux error [electrons per image
unit], as photutils' ``calc_total_error`` takes it (variance ``data / gain``).

Blast's rule, kept for every survey but three: ``EXPTIME`` for images in counts/s, 1 otherwise.
For SDSS frames, in nanomaggies, ``EXPTIME`` (53.9 s) has no relation to the noise: a
nanomaggy is ``1 / NMGY`` counts (DN, the ``NMGY`` header keyword) and a DN is the camera's gain
in electrons (the camcol x filter table of the SDSS frame data model), so an r-band nanomaggy is
about 4.7 / 0.0048 = 980 electrons and Blast's rule overstates a bright source's shot-noise
variance ~18x. SDSS images with ``NMGY`` get ``gain(camcol, filter) / NMGY`` (the filter's median
gain when ``CAMCOL`` is missing); without ``NMGY``, Blast's rule.

WISE Atlas images are in DN of a single exposure, averaged over the ``EXPTIME / t_frame``
exposures that cover the pixel (7.7 s frames in W1/W2, 8.8 s in W3/W4), so a DN is
``frame gain x EXPTIME / t_frame`` electrons: 88 in W1 for the 2010H cutout's 212 s, where
Blast's rule gives 212 (a source's shot-noise variance 2.4x too small). The frame gains are
those of the WISE Explanatory Supplement's pixel noise model.

Legacy Survey images (Blast's "DES" filters) are in nanomaggies, and the ``EXPTIME`` Blast gives
them is the value of the coadd's depth map at the transient (a point source's inverse variance,
1/nmgy^2), not a time. A nanomaggy is ``10^(0.4 (zp0 - 22.5))`` electrons per second of DECam
exposure (legacypipe's nominal DECam zero points for 1 e-/s); the gain is that times the DES
wide survey's design exposure, 10 tilings of 90 s (Y: 45 s), about 48,000 e-/nmgy in r instead
of Blast's depth value of a few hundred. Shallower coadds have proportionally less; the term
matters only for hosts whose photon noise rivals the sky's.

The simulated sky uses the same numbers, so the photometry benchmark checks the model's
consistency, not the numbers.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec
from blast_pipeline.science.units import MissingHeaderKeyword

__all__ = [
    "DECAM_ZERO_POINT_E_PER_S",
    "DES_WIDE_EXPOSURE_S",
    "SDSS_CAMCOL_GAIN",
    "WISE_FRAME_GAIN",
    "WISE_FRAME_SECONDS",
    "effective_gain",
    "legacy_survey_gain",
    "photon_exposure_s",
    "sdss_gain_electrons_per_dn",
    "wise_coadd_gain",
]

#: SDSS imaging camera gains [e-/DN], camcols 1-6, from the SDSS frame data model (the u-band
#: camcol 2 value is the one for runs after 1100).
SDSS_CAMCOL_GAIN: dict[str, tuple[float, ...]] = {
    "u": (1.62, 1.595, 1.59, 1.6, 1.47, 2.17),
    "g": (3.32, 3.855, 3.845, 3.995, 4.05, 4.035),
    "r": (4.71, 4.6, 4.72, 4.76, 4.725, 4.895),
    "i": (5.165, 6.565, 4.86, 4.885, 4.64, 4.76),
    "z": (4.745, 5.155, 4.885, 4.775, 3.48, 4.69),
}


#: WISE single-exposure gains [e-/DN] and frame exposure times [s].
WISE_FRAME_GAIN: dict[str, float] = {"W1": 3.20, "W2": 3.83, "W3": 6.83, "W4": 24.50}
WISE_FRAME_SECONDS: dict[str, float] = {"W1": 7.7, "W2": 7.7, "W3": 8.8, "W4": 8.8}


def wise_coadd_gain(band: str, exptime_s: float) -> float:
    """Electrons per DN of a WISE Atlas coadd of ``exptime_s`` seconds of ``band`` frames."""
    return WISE_FRAME_GAIN[band] * exptime_s / WISE_FRAME_SECONDS[band]


#: DECam AB magnitude of 1 e-/s (legacypipe's nominal zero points; i and Y from DES Y1 Stripe 82).
DECAM_ZERO_POINT_E_PER_S: dict[str, float] = {
    "g": 26.610, "r": 26.818, "i": 26.758, "z": 26.484, "Y": 25.321,
}  # fmt: skip
#: DES wide-survey design exposure per band [s]: 10 tilings of 90 s (Y: 45 s).
DES_WIDE_EXPOSURE_S: dict[str, float] = {"g": 900.0, "r": 900.0, "i": 900.0, "z": 900.0, "Y": 450.0}


def legacy_survey_gain(band: str) -> float:
    """Electrons per nanomaggy of a Legacy Survey DECam coadd at the DES wide design depth."""
    return 10 ** (0.4 * (DECAM_ZERO_POINT_E_PER_S[band] - 22.5)) * DES_WIDE_EXPOSURE_S[band]


def _positive_number(header: fits.Header, key: str) -> float | None:
    """``header[key]`` as a finite positive float, None when absent or not one."""
    try:
        value = float(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def sdss_gain_electrons_per_dn(band: str, camcol: int | None = None) -> float:
    """The SDSS camera gain [e-/DN] of ``band`` on ``camcol`` (1-6), or the band's median over
    the six camcols when ``camcol`` is None."""
    gains = SDSS_CAMCOL_GAIN[band]
    if camcol is None:
        return float(np.median(gains))
    if not 1 <= camcol <= len(gains):
        raise ValueError(f"SDSS camcol must be 1-6, got {camcol}")
    return gains[camcol - 1]


def _exposure_time(spec: FilterSpec, header: fits.Header) -> float:
    if "EXPTIME" not in header:
        raise MissingHeaderKeyword(f"{spec.name} image in counts/sec has no EXPTIME keyword")
    try:
        exptime = float(header["EXPTIME"])
    except (TypeError, ValueError):
        raise ValueError(
            f"{spec.name} image has a non-numeric EXPTIME {header['EXPTIME']!r}"
        ) from None
    if not (np.isfinite(exptime) and exptime > 0):
        raise ValueError(f"{spec.name} image has a non-positive EXPTIME ({exptime})")
    return exptime


def _sdss_camcol(spec: FilterSpec, header: fits.Header) -> int | None:
    """The header's CAMCOL (1-6), None when absent; a clear error when it is not one."""
    if "CAMCOL" not in header:
        return None
    try:
        value = float(header["CAMCOL"])
    except (TypeError, ValueError):
        value = math.nan
    if not (value.is_integer() and 1 <= value <= 6):
        raise ValueError(f"{spec.name} image has CAMCOL {header['CAMCOL']!r}, not a camcol 1-6")
    return int(value)


def photon_exposure_s(spec: FilterSpec, header: fits.Header) -> float | None:
    """Exposure [s] of a photon-counting map (GALEX: its ``EXPTIME``, required), None for the
    other surveys; `ImageAnalysis` detects sources and estimates the sky of such maps with
    Poisson statistics."""
    return _exposure_time(spec, header) if spec.survey == "GALEX" else None


def effective_gain(spec: FilterSpec, header: fits.Header) -> float:
    """Electrons per image unit for the Poisson term (see the module docstring)."""
    if spec.survey == "SDSS" and "NMGY" in header:
        nmgy = _positive_number(header, "NMGY")
        if nmgy is None:
            raise ValueError(
                f"{spec.name} image has NMGY {header['NMGY']!r}, not a positive number of "
                "nanomaggies per count"
            )
        return sdss_gain_electrons_per_dn(spec.band, _sdss_camcol(spec, header)) / nmgy
    if spec.survey == "DES":
        return legacy_survey_gain(spec.band)
    if spec.image_pixel_units != "counts/sec":
        return 1.0
    exptime = _exposure_time(spec, header)
    if spec.survey == "WISE":
        return wise_coadd_gain(spec.band, exptime)
    return exptime
