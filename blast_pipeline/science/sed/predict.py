"""Model spectra and photometry of posterior draws, and the same priors for a bagpipes fit."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from blast_pipeline.science.sed.forward import FILTER_NAMES, SEDModel
from blast_pipeline.science.sed.parameters import (
    MAX_AGE_FRACTION,
    MIN_AGE_GYR,
    THETA_HIGH,
    THETA_LOW,
    THETA_NAMES,
    age_of_universe_gyr,
    check_redshift,
)


class SEDBand(NamedTuple):
    """16/50/84 % model spectrum [µJy] on observed wavelengths [Å], and photometry per filter."""

    wavelength_angstrom: np.ndarray  # (n_wave,) observed frame
    p16_ujy: np.ndarray
    p50_ujy: np.ndarray
    p84_ujy: np.ndarray
    photometry_p16_ujy: np.ndarray  # (24,) in `filters` order
    photometry_p50_ujy: np.ndarray
    photometry_p84_ujy: np.ndarray
    filters: tuple[str, ...]


def model_sed_band(
    model: SEDModel, samples, redshift: float, n_draws: int = 50, seed: int = 0
) -> SEDBand:
    """Percentile band of ``n_draws`` random posterior draws through the forward model."""
    rng = np.random.default_rng(seed)
    theta = samples.theta[
        rng.choice(len(samples.theta), size=min(n_draws, len(samples.theta)), replace=False)
    ]
    spectra, phot = [], []
    for t in theta:
        wavelength, flux, fluxes = model.spectrum_and_photometry(t, redshift)
        spectra.append(flux)
        phot.append(fluxes)
    s16, s50, s84 = np.percentile(np.array(spectra), [16, 50, 84], axis=0)
    p16, p50, p84 = np.percentile(np.array(phot), [16, 50, 84], axis=0)
    return SEDBand(wavelength, s16, s50, s84, p16, p50, p84, FILTER_NAMES)


def bagpipes_fit_instructions(redshift: float) -> dict:
    """``bagpipes.fit`` instructions with the posterior's priors at a fixed ``redshift``.

    ``age`` log-uniform between 0.1 Gyr and 0.995 t_univ(z) is the prior ``age_q ~ U(0, 1)``;
    ``tau`` and ``metallicity`` are log-uniform (``"log_10"``) as ``log_tau`` and ``log_z``.
    """
    z = check_redshift(redshift)
    lo = dict(zip(THETA_NAMES, THETA_LOW, strict=True))
    hi = dict(zip(THETA_NAMES, THETA_HIGH, strict=True))
    return {
        "redshift": z,
        "t_bc": 0.01,
        "delayed": {
            "age": (MIN_AGE_GYR, MAX_AGE_FRACTION * float(age_of_universe_gyr(z))),
            "age_prior": "log_10",
            "tau": (10 ** lo["log_tau"], 10 ** hi["log_tau"]),
            "tau_prior": "log_10",
            "massformed": (lo["log_mass_formed"], hi["log_mass_formed"]),
            "metallicity": (10 ** lo["log_z"], 10 ** hi["log_z"]),
            "metallicity_prior": "log_10",
        },
        "dust": {"type": "Calzetti", "Av": (lo["av"], hi["av"])},
        "nebular": {"logU": (lo["log_u"], hi["log_u"])},
    }
