"""Which survey covers which part of the simulated sky (deterministic functions of position).

Roughly as in reality: 2MASS and WISE are all-sky; PanSTARRS covers dec > -30; DES / Legacy
Survey covers dec < +32 away from the Galactic plane (|b| > 15); SDSS covers a northern cap
(b > 25, -10 < dec < 70) plus the equatorial Stripe 82; GALEX NUV covers |b| > 15 except for
patches that an analytic pattern removes (~15% of the sky), and FUV additionally misses a second
pattern (the late NUV-only years). A cutout exists when its centre is covered.
"""

from __future__ import annotations

import numpy as np

from blast_pipeline.science.filters import FilterSpec
from blast_pipeline.sources.sky.positions import galactic_from_icrs


def _galactic_latitude(ra_deg: float, dec_deg: float) -> float:
    return float(galactic_from_icrs(ra_deg, dec_deg)[1])


def _galex_nuv(ra_deg: float, dec_deg: float, b_deg: float) -> bool:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    hole = np.sin(3.0 * ra + 0.3) * np.cos(5.0 * dec) > 0.72
    return abs(b_deg) > 15.0 and not hole


def _galex_fuv(ra_deg: float, dec_deg: float, b_deg: float) -> bool:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    nuv_only = np.sin(7.0 * ra + 2.0 * dec + 1.1) > 0.8
    return _galex_nuv(ra_deg, dec_deg, b_deg) and not nuv_only


def survey_covers(spec: FilterSpec, ra_deg: float, dec_deg: float) -> bool:
    """True when ``spec``'s survey has an image at this position."""
    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg)) or abs(dec_deg) > 90:
        raise ValueError(f"invalid position ra={ra_deg}, dec={dec_deg}")
    survey = spec.survey
    if survey in ("2MASS", "WISE"):
        return True
    if survey == "PanSTARRS":
        return dec_deg > -30.0
    b_deg = _galactic_latitude(ra_deg, dec_deg)
    if survey == "DES":
        return dec_deg < 32.0 and abs(b_deg) > 15.0
    if survey == "SDSS":
        cap = b_deg > 25.0 and -10.0 < dec_deg < 70.0
        stripe82 = abs(dec_deg) < 1.26 and (ra_deg > 310.0 or ra_deg < 60.0)
        return cap or stripe82
    if survey == "GALEX":
        if spec.band == "FUV":
            return _galex_fuv(ra_deg, dec_deg, b_deg)
        return _galex_nuv(ra_deg, dec_deg, b_deg)
    raise ValueError(f"unknown survey {survey!r} for filter {spec.name}")
