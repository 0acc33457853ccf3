"""The photometry a host SED fit sees, as Blast builds it (reference 1.17 step 3), and Blast's
filter-sufficiency rule (step 5). Pure: numbers in, numbers out.

Fluxes are µJy. Milky-Way extinction is Fitzpatrick (1999) with R_V = 3.1 at each filter's
effective wavelength; after the correction the error gets a 1 % floor in quadrature and points
with S/N < 3 are dropped from the fit (kept aside, e.g. as upper limits in a plot).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import extinction
import numpy as np

R_V = 3.1
#: Fractional error added in quadrature to the corrected flux (Blast: 0.01 * flux).
ERROR_FLOOR = 0.01
#: Points below this signal-to-noise ratio are not fitted.
MIN_SNR = 3.0

#: Blast's bands for its "enough filters" rule (run_sbi_blast.py). DES_u is in Blast's UV list
#: although Blast has no DES_u filter; it is kept so the rule reads as Blast's.
UV_FILTERS = frozenset({"GALEX_NUV", "GALEX_FUV", "SDSS_u", "DES_u"})
OPTICAL_FILTERS = frozenset(
    {
        "SDSS_g",
        "SDSS_r",
        "SDSS_i",
        "SDSS_z",
        "PanSTARRS_g",
        "PanSTARRS_r",
        "PanSTARRS_i",
        "PanSTARRS_z",
        "PanSTARRS_y",
        "DES_g",
        "DES_r",
    }
)
IR_FILTERS = frozenset(
    {"WISE_W1", "WISE_W2", "WISE_W3", "WISE_W4", "2MASS_J", "2MASS_H", "2MASS_K"}
)


@dataclass(frozen=True)
class PhotometryPoint:
    """One validated measurement of an aperture in one filter (µJy, Å)."""

    filter_name: str
    flux_ujy: float
    flux_err_ujy: float
    wavelength_eff_angstrom: float


@dataclass(frozen=True)
class SEDInput:
    """Corrected photometry: ``fitted`` goes to the posterior, ``rejected`` had S/N < 3."""

    filters: tuple[str, ...]
    wavelength_angstrom: np.ndarray
    flux_ujy: np.ndarray
    flux_err_ujy: np.ndarray
    rejected_filters: tuple[str, ...]
    rejected_wavelength_angstrom: np.ndarray
    rejected_flux_ujy: np.ndarray
    rejected_flux_err_ujy: np.ndarray
    #: A_lambda [mag] of the fitted points, as applied.
    extinction_mag: np.ndarray


def mw_extinction_mag(wavelength_angstrom: Sequence[float] | np.ndarray, ebv: float) -> np.ndarray:
    """Milky-Way A_lambda [mag] at ``wavelength_angstrom`` for reddening E(B-V) [mag]:
    Fitzpatrick (1999), R_V = 3.1, A_V = 3.1 E(B-V)."""
    if not np.isfinite(ebv) or ebv < 0:
        raise ValueError(f"E(B-V) must be a finite number >= 0, got {ebv!r}")
    wave = np.atleast_1d(np.asarray(wavelength_angstrom, dtype=float))
    return extinction.fitzpatrick99(wave, R_V * float(ebv), r_v=R_V)


def correct_photometry(
    flux_ujy: np.ndarray, flux_err_ujy: np.ndarray, extinction_mag: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """De-redden fluxes and errors by 10**(0.4 A) and add the 1 % floor in quadrature:
    ``err = sqrt((err 10**(0.4 A))**2 + (0.01 flux_corrected)**2)`` (µJy)."""
    factor = 10.0 ** (0.4 * np.asarray(extinction_mag, dtype=float))
    flux = np.asarray(flux_ujy, dtype=float) * factor
    err = np.hypot(np.asarray(flux_err_ujy, dtype=float) * factor, ERROR_FLOOR * flux)
    return flux, err


def prepare_sed_input(points: Iterable[PhotometryPoint], ebv: float) -> SEDInput:
    """Blast's ``build_obs``: correct every point for MW extinction, apply the error floor and
    split off points with S/N < 3 (or a non-finite flux/error). Points come in any order;
    the result is sorted by wavelength."""
    usable = [p for p in points if np.isfinite(p.flux_ujy) and np.isfinite(p.flux_err_ujy)]
    usable.sort(key=lambda p: p.wavelength_eff_angstrom)
    wave = np.array([p.wavelength_eff_angstrom for p in usable], dtype=float)
    a_mag = mw_extinction_mag(wave, ebv) if usable else np.zeros(0)
    flux, err = correct_photometry(
        np.array([p.flux_ujy for p in usable], dtype=float),
        np.array([p.flux_err_ujy for p in usable], dtype=float),
        a_mag,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (err > 0) & (flux / err >= MIN_SNR)
    names = np.array([p.filter_name for p in usable], dtype=object)
    return SEDInput(
        filters=tuple(names[keep]),
        wavelength_angstrom=wave[keep],
        flux_ujy=flux[keep],
        flux_err_ujy=err[keep],
        rejected_filters=tuple(names[~keep]),
        rejected_wavelength_angstrom=wave[~keep],
        rejected_flux_ujy=flux[~keep],
        rejected_flux_err_ujy=err[~keep],
        extinction_mag=a_mag[keep],
    )


def has_enough_filters(filters: Iterable[str]) -> bool:
    """Blast's rule: an optical band, or else both a UV and an IR band."""
    names = set(filters)
    has_opt = bool(names & OPTICAL_FILTERS)
    has_uv = bool(names & UV_FILTERS)
    has_ir = bool(names & IR_FILTERS)
    return has_opt or (has_uv and has_ir)
