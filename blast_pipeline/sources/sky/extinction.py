"""Dust attenuation laws used by the simulated sky.

* Milky Way extinction: Cardelli, Clayton & Mathis (1989) with R_V = 3.1, evaluated at a band's
  effective wavelength, ``A_band = R_band * E(B-V)``. Beyond 3.3 micron (WISE) the CCM
  near-infrared power law (x^1.61) is extrapolated, as the ``extinction`` package Blast uses does.
  The true E(B-V) that reddens the simulated images is the recalibrated value
  ``0.86 * SFD`` (Schlafly & Finkbeiner 2011), the same value Blast computes.
* Internal attenuation of the simulated galaxies: Calzetti et al. (2000), R_V = 4.05, clipped at
  zero in the mid-infrared where it would turn negative.
"""

from __future__ import annotations

import numpy as np

MILKY_WAY_R_V = 3.1
SFD_RECALIBRATION = 0.86
CALZETTI_R_V = 4.05


def ccm89_a_over_ebv(wavelength_angstrom: float | np.ndarray) -> np.ndarray:
    """A_lambda / E(B-V) of the CCM89 law (R_V = 3.1) at 1000 A - 30 micron."""
    lam = np.asarray(wavelength_angstrom, dtype=float)
    if np.any(lam < 1000.0) or np.any(lam > 300_000.0):
        raise ValueError(f"CCM89 is defined here for 1000-300000 A, got {wavelength_angstrom}")
    x = 1e4 / lam
    a = np.empty_like(x)
    b = np.empty_like(x)
    infrared = x < 1.1
    a[infrared] = 0.574 * x[infrared] ** 1.61
    b[infrared] = -0.527 * x[infrared] ** 1.61
    optical = (x >= 1.1) & (x < 3.3)
    y = x[optical] - 1.82
    a[optical] = np.polyval(
        [0.32999, -0.77530, 0.01979, 0.72085, -0.02427, -0.50447, 0.17699, 1.0], y
    )
    b[optical] = np.polyval(
        [-2.09002, 5.30260, -0.62251, -5.38434, 1.07233, 2.28305, 1.41338, 0.0], y
    )
    uv = x >= 3.3
    xu = x[uv]
    excess = np.clip(xu - 5.9, 0.0, None)
    fa = -0.04473 * excess**2 - 0.009779 * excess**3
    fb = 0.2130 * excess**2 + 0.1207 * excess**3
    a[uv] = 1.752 - 0.316 * xu - 0.104 / ((xu - 4.67) ** 2 + 0.341) + fa
    b[uv] = -3.090 + 1.825 * xu + 1.206 / ((xu - 4.62) ** 2 + 0.263) + fb
    return a * MILKY_WAY_R_V + b


def calzetti_k(wavelength_angstrom: float | np.ndarray) -> np.ndarray:
    """Calzetti (2000) k(lambda) = A_lambda / E(B-V)_star, >= 0; A_lambda = A_V k / 4.05."""
    lam_um = np.asarray(wavelength_angstrom, dtype=float) / 1e4
    if np.any(lam_um <= 0):
        raise ValueError("wavelengths must be positive")
    blue = 2.659 * (-2.156 + 1.509 / lam_um - 0.198 / lam_um**2 + 0.011 / lam_um**3) + CALZETTI_R_V
    red = 2.659 * (-1.857 + 1.040 / lam_um) + CALZETTI_R_V
    k = np.where(lam_um < 0.63, blue, red)
    # Below 1200 A the polynomial turns over; continue it linearly from 1200-1250 A.
    short = lam_um < 0.12
    if np.any(short):
        k12 = 2.659 * (-2.156 + 1.509 / 0.12 - 0.198 / 0.12**2 + 0.011 / 0.12**3) + CALZETTI_R_V
        k125 = 2.659 * (-2.156 + 1.509 / 0.125 - 0.198 / 0.125**2 + 0.011 / 0.125**3) + CALZETTI_R_V
        slope = (k12 - k125) / (0.12 - 0.125)
        k = np.where(short, k12 + slope * (lam_um - 0.12), k)
    return np.clip(k, 0.0, None)
