"""Blast's cosmology and the physical-to-angular sizes of its apertures (reference 1.3).

Blast uses ``FlatLambdaCDM(H0=70, Om0=0.315)`` for the local aperture and the crop size (its SED
code uses WMAP9 instead; that is not this module's concern).
"""

from __future__ import annotations

import math

import numpy as np
from astropy.cosmology import FlatLambdaCDM

COSMOLOGY = FlatLambdaCDM(H0=70, Om0=0.315)

#: Radius of Blast's local aperture around the transient.
LOCAL_APERTURE_RADIUS_KPC = 2.0

_ARCSEC_PER_RADIAN = 180.0 / math.pi * 3600.0


def _check_redshift(z: float) -> float:
    try:
        z = float(z)
    except (TypeError, ValueError):
        raise ValueError(f"redshift must be a number, got {z!r}") from None
    if not math.isfinite(z) or z <= 0:
        raise ValueError(f"redshift must be finite and positive, got {z!r}")
    return z


def angular_size_arcsec(z: float, size_kpc: float) -> float:
    """Angle in arcsec subtended by a proper length ``size_kpc`` at redshift ``z``.

    Uses the angular diameter distance of :data:`COSMOLOGY`, exactly as Blast's
    ``get_local_aperture_size(z, apr_kpc)``.
    """
    z = _check_redshift(z)
    size_kpc = float(size_kpc)
    if not math.isfinite(size_kpc) or size_kpc <= 0:
        raise ValueError(f"size_kpc must be finite and positive, got {size_kpc!r}")
    d_a_kpc = COSMOLOGY.angular_diameter_distance(z).to_value("kpc")
    return float(np.float64(size_kpc / d_a_kpc * _ARCSEC_PER_RADIAN))


def local_aperture_radius_arcsec(z: float, radius_kpc: float = LOCAL_APERTURE_RADIUS_KPC) -> float:
    """Radius in arcsec of Blast's local aperture (2 kpc by default) at redshift ``z``.

    Raises `ValueError` for a redshift that is not finite and positive: the angular size of a
    fixed proper length diverges at z = 0.
    """
    return angular_size_arcsec(z, radius_kpc)
