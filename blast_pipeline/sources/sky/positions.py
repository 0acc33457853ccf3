"""Where the simulated transients sit: a scrambled Halton sequence over the sphere.

Transient ``i`` of a seed is the ``i``-th point of a (2, 3) Halton sequence in (RA, sin dec),
shifted by a seed-dependent Cranley-Patterson rotation, that lies at |b| >= 10 deg and
|dec| <= 87 deg. Low-discrepancy points are far apart (degrees for thousands of transients), so
the 0.1 deg fields never overlap in practice; the sky still handles overlaps correctly because
every query considers all nearby fields. Positions depend only on (seed, i).
"""

from __future__ import annotations

import numpy as np
from astropy.coordinates import SkyCoord

MIN_ABS_GALACTIC_LATITUDE = 10.0
MAX_ABS_DECLINATION = 87.0


def _icrs_to_galactic_matrix() -> np.ndarray:
    """The ICRS -> Galactic rotation, taken from astropy once (conversion is a pure rotation)."""
    axes = SkyCoord(
        x=[1.0, 0.0, 0.0],
        y=[0.0, 1.0, 0.0],
        z=[0.0, 0.0, 1.0],
        representation_type="cartesian",
        frame="icrs",
    ).galactic.cartesian
    return np.array([axes.x.value, axes.y.value, axes.z.value])  # column j = image of axis j


_ICRS_TO_GALACTIC = _icrs_to_galactic_matrix()


def galactic_from_icrs(
    ra_deg: float | np.ndarray, dec_deg: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Galactic longitude and latitude (deg) of ICRS positions; fast, vectorised."""
    ra, dec = (
        np.radians(np.asarray(ra_deg, dtype=float)),
        np.radians(np.asarray(dec_deg, dtype=float)),
    )
    vector = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    x, y, z = np.tensordot(_ICRS_TO_GALACTIC, vector, axes=1)
    return np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))


def radical_inverse(indices: np.ndarray, base: int) -> np.ndarray:
    """Van der Corput radical inverse of non-negative integers in ``base``."""
    k = np.asarray(indices, dtype=np.int64).copy()
    result = np.zeros(k.shape, dtype=float)
    scale = 1.0 / base
    while np.any(k > 0):
        result += (k % base) * scale
        k //= base
        scale /= base
    return result


def field_centres(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (deg) of the first ``count`` transients of ``seed``."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    shift = np.random.default_rng(np.random.SeedSequence([seed, 7_000_001])).random(2)
    ra_all: list[np.ndarray] = []
    dec_all: list[np.ndarray] = []
    accepted = 0
    start = 1
    while accepted < count:
        block = np.arange(start, start + max(64, 2 * (count - accepted)))
        start = int(block[-1]) + 1
        u = (radical_inverse(block, 2) + shift[0]) % 1.0
        v = (radical_inverse(block, 3) + shift[1]) % 1.0
        ra = 360.0 * u
        dec = np.degrees(np.arcsin(2.0 * v - 1.0))
        b = galactic_from_icrs(ra, dec)[1]
        keep = (np.abs(b) >= MIN_ABS_GALACTIC_LATITUDE) & (np.abs(dec) <= MAX_ABS_DECLINATION)
        ra_all.append(ra[keep])
        dec_all.append(dec[keep])
        accepted += int(keep.sum())
    ra_out = np.concatenate(ra_all)[:count] if ra_all else np.zeros(0)
    dec_out = np.concatenate(dec_all)[:count] if dec_all else np.zeros(0)
    return ra_out, dec_out


def tangent_offsets_to_sky(
    ra0_deg: float, dec0_deg: float, east_arcsec: np.ndarray, north_arcsec: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions at gnomonic (tangent-plane) offsets east/north (arcsec) of a centre."""
    xi = np.radians(np.asarray(east_arcsec, dtype=float) / 3600.0)
    eta = np.radians(np.asarray(north_arcsec, dtype=float) / 3600.0)
    ra0, dec0 = np.radians(ra0_deg), np.radians(dec0_deg)
    denominator = np.cos(dec0) - eta * np.sin(dec0)
    ra = ra0 + np.arctan2(xi, denominator)
    dec = np.arctan2(np.sin(dec0) + eta * np.cos(dec0), np.hypot(xi, denominator))
    return np.degrees(ra) % 360.0, np.degrees(dec)


def sky_to_tangent_offsets(
    ra0_deg: float, dec0_deg: float, ra_deg: np.ndarray, dec_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic offsets east/north (arcsec) of positions from a centre (inverse of the above)."""
    ra0, dec0 = np.radians(ra0_deg), np.radians(dec0_deg)
    ra, dec = (
        np.radians(np.asarray(ra_deg, dtype=float)),
        np.radians(np.asarray(dec_deg, dtype=float)),
    )
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    xi = np.cos(dec) * np.sin(ra - ra0) / cos_c
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cos_c
    return np.degrees(xi) * 3600.0, np.degrees(eta) * 3600.0


def angular_separation_deg(
    ra1_deg: float | np.ndarray,
    dec1_deg: float | np.ndarray,
    ra2_deg: float | np.ndarray,
    dec2_deg: float | np.ndarray,
) -> np.ndarray:
    """Great-circle separation (deg), haversine formula (vectorised)."""
    ra1, dec1, ra2, dec2 = (
        np.radians(np.asarray(x, dtype=float)) for x in (ra1_deg, dec1_deg, ra2_deg, dec2_deg)
    )
    term = (
        np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    )
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(term, 0.0, 1.0))))
