"""Directional light radius (DLR) of elliptical galaxies, after Gupta et al. (2016, AJ 152, 154).

The DLR is the radius of a galaxy's light ellipse in the direction of a given point. The
fractional offset ``separation / DLR`` of a transient then measures how far out in its galaxy
the transient sits, whatever the galaxy's size and orientation: 1 means "on the ellipse".

For an ellipse with semi-axes ``a >= b`` and major-axis position angle ``pa`` (east of north),
and a point at position angle ``phi`` from the galaxy centre (east of north)::

    DLR = a b / sqrt((a sin(phi - pa))**2 + (b cos(phi - pa))**2)

so that DLR = a along the major axis and DLR = b along the minor axis.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import angular_separation, position_angle

__all__ = ["directional_light_radius", "fractional_offset", "separation_arcsec"]


def _as_float_array(name: str, value: float | np.ndarray) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if np.any(np.isinf(array)):
        raise ValueError(f"{name} contains infinite values")
    return array


def separation_arcsec(
    ra1_deg: float | np.ndarray,
    dec1_deg: float | np.ndarray,
    ra2_deg: float | np.ndarray,
    dec2_deg: float | np.ndarray,
) -> np.ndarray:
    """Great-circle separation in arcsec between positions in degrees (broadcast)."""
    sep = angular_separation(
        _as_float_array("ra1_deg", ra1_deg) * u.deg,
        _as_float_array("dec1_deg", dec1_deg) * u.deg,
        _as_float_array("ra2_deg", ra2_deg) * u.deg,
        _as_float_array("dec2_deg", dec2_deg) * u.deg,
    )
    return np.asarray(sep.to_value(u.arcsec))


def directional_light_radius(
    galaxy_ra: float | np.ndarray,
    galaxy_dec: float | np.ndarray,
    a: float | np.ndarray,
    b: float | np.ndarray,
    pa_deg: float | np.ndarray,
    ra: float | np.ndarray,
    dec: float | np.ndarray,
) -> np.ndarray:
    """The DLR (same unit as ``a`` and ``b``) of galaxies in the direction of points (ra, dec).

    All positions are in degrees; ``pa_deg`` is the major-axis position angle east of north.
    Arguments broadcast against each other (e.g. galaxies as ``(n, 1)`` and samples of the
    point as ``(1, m)``). A point exactly at the galaxy centre gets the DLR along the major
    axis (``a``). A NaN position angle means the orientation is unknown: the galaxy is then
    round, of the same area (DLR ``sqrt(a b)`` in every direction), not an ellipse pointing
    north.
    """
    a_arr = _as_float_array("a", a)
    b_arr = _as_float_array("b", b)
    if np.any(a_arr <= 0) or np.any(b_arr <= 0):
        raise ValueError("galaxy semi-axes a and b must be positive")
    pa_raw = _as_float_array("pa_deg", pa_deg)
    pa = np.nan_to_num(pa_raw, nan=0.0)
    phi = position_angle(
        _as_float_array("galaxy_ra", galaxy_ra) * u.deg,
        _as_float_array("galaxy_dec", galaxy_dec) * u.deg,
        _as_float_array("ra", ra) * u.deg,
        _as_float_array("dec", dec) * u.deg,
    ).to_value(u.rad)
    delta = np.asarray(phi) - np.radians(pa)
    dlr = a_arr * b_arr / np.hypot(a_arr * np.sin(delta), b_arr * np.cos(delta))
    return np.where(np.isnan(pa_raw), np.sqrt(a_arr * b_arr), dlr)


def fractional_offset(
    galaxy_ra: float | np.ndarray,
    galaxy_dec: float | np.ndarray,
    a: float | np.ndarray,
    b: float | np.ndarray,
    pa_deg: float | np.ndarray,
    ra: float | np.ndarray,
    dec: float | np.ndarray,
) -> np.ndarray:
    """Separation of (ra, dec) from the galaxy centre in units of its DLR (``a``, ``b`` in arcsec)."""
    sep = separation_arcsec(galaxy_ra, galaxy_dec, ra, dec)
    return sep / directional_light_radius(galaxy_ra, galaxy_dec, a, b, pa_deg, ra, dec)
