"""Truncated elliptical Sérsic profiles rendered on pixel stamps.

``I(r) = exp(-b_n ((r / r_e)^(1/n) - 1))`` with elliptical radius ``r^2 = x'^2 + (y'/q)^2``
(``x'`` along the major axis at position angle ``pa`` east of north), truncated at
``TRUNCATION_IN_RE * r_e`` so every galaxy has a finite total flux and a finite stamp. The
truncated profile's half-light radius is slightly smaller than ``r_e`` for high ``n``; it is the
size the catalogue reports. Stamps are integrated over pixels by sub-sampling, and normalised to
the analytic total (or to their own sum when the whole profile is on the stamp), so the image
holds exactly the galaxy's total flux.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma, gammainc, gammaincinv

TRUNCATION_IN_RE = 6.0
CENTRAL_OVERSAMPLING = 15


def sersic_b(n: float | np.ndarray) -> np.ndarray:
    """b_n such that r_e encloses half the light of the untruncated profile."""
    return gammaincinv(2.0 * np.asarray(n, dtype=float), 0.5)


def truncated_half_light_radius(n: float | np.ndarray, r_e: float | np.ndarray) -> np.ndarray:
    """Semi-major half-light radius of the profile truncated at TRUNCATION_IN_RE * r_e."""
    n = np.asarray(n, dtype=float)
    b = sersic_b(n)
    enclosed = gammainc(2 * n, b * TRUNCATION_IN_RE ** (1.0 / n))
    return np.asarray(r_e) * (gammaincinv(2 * n, 0.5 * enclosed) / b) ** n


def truncated_integral(n: float, r_e_pixels: float, axis_ratio: float) -> float:
    """Integral of the truncated profile (I_e = 1) over the plane, in pixel units."""
    b = float(sersic_b(n))
    two_n = 2.0 * n
    full = 2 * np.pi * axis_ratio * r_e_pixels**2 * n * np.exp(b) * b ** (-two_n) * gamma(two_n)
    return float(full * gammainc(two_n, b * TRUNCATION_IN_RE ** (1.0 / n)))


def oversampling_for(r_e_pixels: float, axis_ratio: float) -> int:
    """Sub-pixels per pixel side over the whole stamp (the centre gets more, see below)."""
    return 1 if r_e_pixels * axis_ratio >= 3.0 else 3


def render_sersic(
    x_centre: float,
    y_centre: float,
    x_range: tuple[int, int],
    y_range: tuple[int, int],
    r_e_pixels: float,
    n: float,
    axis_ratio: float,
    pa_deg: float,
    east_sign: float = -1.0,
) -> np.ndarray:
    """Unit-flux stamp over pixels [y0, y1) x [x0, x1) for a galaxy at (x_centre, y_centre).

    Pixel coordinates as numpy indices (x along columns); north is +y and east is
    ``east_sign`` * x (-1 for the usual north-up, east-left images).
    """
    if not (r_e_pixels > 0 and 0 < axis_ratio <= 1 and n > 0):
        raise ValueError(f"invalid Sérsic parameters r_e={r_e_pixels}, q={axis_ratio}, n={n}")
    (x0, x1), (y0, y1) = x_range, y_range
    shape = (r_e_pixels, n, axis_ratio, pa_deg, east_sign)
    stamp = _sampled(
        x_centre, y_centre, x_range, y_range, shape, oversampling_for(r_e_pixels, axis_ratio)
    )
    # The cusp of high-n (or pixel-sized) profiles needs finer sampling in the central pixels.
    if n >= 1.5 or r_e_pixels * axis_ratio < 3.0:
        cx0, cx1 = max(x0, int(np.floor(x_centre)) - 1), min(x1, int(np.floor(x_centre)) + 3)
        cy0, cy1 = max(y0, int(np.floor(y_centre)) - 1), min(y1, int(np.floor(y_centre)) + 3)
        if cx1 > cx0 and cy1 > cy0:
            stamp[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = _sampled(
                x_centre, y_centre, (cx0, cx1), (cy0, cy1), shape, CENTRAL_OVERSAMPLING
            )
    whole = _contains_ellipse(x_range, y_range, x_centre, y_centre, shape)
    total = stamp.sum() if whole else truncated_integral(n, r_e_pixels, axis_ratio)
    if not total > 0:
        return np.zeros_like(stamp)
    return stamp / total


def _sampled(
    x_centre: float,
    y_centre: float,
    x_range: tuple[int, int],
    y_range: tuple[int, int],
    shape: tuple[float, float, float, float, float],
    sub: int,
) -> np.ndarray:
    """Mean of the (unnormalised) profile over ``sub`` x ``sub`` points in each pixel."""
    r_e_pixels, n, axis_ratio, pa_deg, east_sign = shape
    (x0, x1), (y0, y1) = x_range, y_range
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    # float32 arithmetic: 3-4x faster on big stamps, and far more precise than needed
    xs = ((np.arange(x0, x1)[:, None] + offsets[None, :]).ravel() - x_centre).astype(np.float32)
    ys = ((np.arange(y0, y1)[:, None] + offsets[None, :]).ravel() - y_centre).astype(np.float32)
    pa = np.radians(pa_deg)
    sin_pa, cos_pa = np.float32(np.sin(pa)), np.float32(np.cos(pa))
    east = np.float32(east_sign) * xs
    major = east[None, :] * sin_pa + ys[:, None] * cos_pa
    minor = (east[None, :] * cos_pa - ys[:, None] * sin_pa) * np.float32(1.0 / axis_ratio)
    radius2 = (major * major + minor * minor) * np.float32(1.0 / r_e_pixels**2)
    b = float(sersic_b(n))
    profile = np.exp(np.float32(-b) * (np.power(radius2, np.float32(0.5 / n)) - np.float32(1.0)))
    profile[radius2 > np.float32(TRUNCATION_IN_RE**2)] = 0.0
    return profile.reshape(y1 - y0, sub, x1 - x0, sub).mean(axis=(1, 3), dtype=np.float64)


def _contains_ellipse(
    x_range: tuple[int, int],
    y_range: tuple[int, int],
    x_centre: float,
    y_centre: float,
    shape: tuple[float, float, float, float, float],
) -> bool:
    """Whether the pixel box holds the whole truncated profile (so its sum is the total)."""
    r_e_pixels, _, axis_ratio, pa_deg, _ = shape
    major = TRUNCATION_IN_RE * r_e_pixels
    minor = major * axis_ratio
    pa = np.radians(pa_deg)
    half_x = float(np.hypot(major * np.sin(pa), minor * np.cos(pa)))
    half_y = float(np.hypot(major * np.cos(pa), minor * np.sin(pa)))
    return (
        x_range[0] <= x_centre - half_x - 0.5
        and x_range[1] >= x_centre + half_x + 1.5
        and y_range[0] <= y_centre - half_y - 0.5
        and y_range[1] >= y_centre + half_y + 1.5
    )
