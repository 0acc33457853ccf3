"""How the posterior sees photometry: the training noise model and the network's input features.

Training draws, per simulated galaxy, what the pipeline meets (reference 1.17 step 3):
- a survey footprint: PanSTARRS p=0.75, SDSS 0.35, DES 0.25, GALEX 0.7, 2MASS 0.9, WISE 0.95,
  then each remaining band is dropped with p=0.08;
- per-band errors ``sigma^2 = sigma_depth^2 + (f_floor F)^2``: 5-sigma depth = the survey's
  point-source depth shifted by one offset per galaxy U(-3, +0.5) mag (extended apertures are
  shallower) plus N(0, 0.3) per band; ``f_floor`` log-uniform 1-10 % per galaxy, x e^N(0,0.3)
  per band, never below Blast's 1 % floor;
- a Gaussian noise draw, then Blast's cut: bands with S/N < 3 are dropped.

Features per band (24 x 3): absolute magnitude ``m_AB - DM(z)``, log10 S/N, present flag;
plus z and log10 z.  Present-band features are standardised with the training set's mean and
standard deviation; a missing band contributes zeros.
"""

from __future__ import annotations

import numpy as np

from blast_pipeline.science.sed.forward import FILTER_NAMES
from blast_pipeline.science.sed.parameters import SED_COSMOLOGY

#: Minimum S/N of a band the posterior uses (Blast's cut; the task applies it too).
MIN_SNR = 3.0

#: Nominal 5-sigma point-source depths [AB mag] (the simulated sky's survey depths).
NOMINAL_DEPTH_AB: dict[str, float] = {
    "2MASS_H": 17.4, "2MASS_J": 17.6, "2MASS_K": 17.1,
    "WISE_W1": 19.9, "WISE_W2": 19.3, "WISE_W3": 16.8, "WISE_W4": 14.6,
    "GALEX_NUV": 21.0, "GALEX_FUV": 20.5,
    "PanSTARRS_g": 23.3, "PanSTARRS_r": 23.2, "PanSTARRS_i": 23.1, "PanSTARRS_z": 22.3,
    "PanSTARRS_y": 21.4,
    "SDSS_u": 22.0, "SDSS_g": 22.2, "SDSS_r": 22.2, "SDSS_i": 21.3, "SDSS_z": 20.5,
    "DES_g": 24.0, "DES_r": 23.6, "DES_i": 23.2, "DES_z": 22.9, "DES_Y": 21.5,
}  # fmt: skip

SURVEY_PROBABILITY: dict[str, float] = {
    "PanSTARRS": 0.75, "SDSS": 0.35, "DES": 0.25, "GALEX": 0.7, "2MASS": 0.9, "WISE": 0.95,
}  # fmt: skip
BAND_DROPOUT = 0.08
DEPTH_OFFSET_RANGE = (-3.0, 0.5)
DEPTH_JITTER = 0.3
FLOOR_RANGE = (0.01, 0.10)
FLOOR_JITTER = 0.3
BLAST_ERROR_FLOOR = 0.01

N_BANDS = len(FILTER_NAMES)
N_FEATURES = 3 * N_BANDS + 2
_SURVEY_OF_BAND = np.array([name.split("_", 1)[0] for name in FILTER_NAMES])
_DEPTHS = np.array([NOMINAL_DEPTH_AB[name] for name in FILTER_NAMES])


def survey_footprint(n: int, rng: np.random.Generator) -> np.ndarray:
    """Bands covered (n, 24): a survey footprint draw per galaxy, then per-band drop-out."""
    present = np.ones((n, N_BANDS), dtype=bool)
    for survey, p in SURVEY_PROBABILITY.items():
        covered = rng.random(n) < p
        present[:, survey == _SURVEY_OF_BAND] &= covered[:, None]
    return present & (rng.random((n, N_BANDS)) >= BAND_DROPOUT)


def noisy_photometry(
    flux_true: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy fluxes, errors [µJy] and the S/N >= MIN_SNR mask for noiseless fluxes (n, 24)."""
    n = flux_true.shape[0]
    depth = (
        _DEPTHS[None, :]
        + rng.uniform(*DEPTH_OFFSET_RANGE, size=(n, 1))
        + rng.normal(0.0, DEPTH_JITTER, size=(n, N_BANDS))
    )
    sigma_depth = 10 ** (-0.4 * (depth - 23.9)) / 5.0
    lo, hi = np.log(FLOOR_RANGE)
    floor = np.exp(rng.uniform(lo, hi, size=(n, 1)) + rng.normal(0, FLOOR_JITTER, (n, N_BANDS)))
    floor = np.maximum(floor, BLAST_ERROR_FLOOR)
    err = np.sqrt(sigma_depth**2 + (floor * flux_true) ** 2)
    flux = flux_true + err * rng.standard_normal((n, N_BANDS))
    return flux, err, flux >= MIN_SNR * err


def observe(
    flux_true: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy fluxes, errors [µJy] and the present mask for noiseless fluxes (n, 24)."""
    present = survey_footprint(flux_true.shape[0], rng)
    flux, err, detected = noisy_photometry(flux_true, rng)
    return flux, err, present & detected


_LOG_Z_GRID = np.linspace(np.log(1e-4), np.log(0.7), 4000)
_DM_GRID = SED_COSMOLOGY.distmod(np.exp(_LOG_Z_GRID)).value


def distance_modulus(redshift: np.ndarray) -> np.ndarray:
    """Distance modulus [mag] in bagpipes' cosmology (tabulated; < 1e-4 mag off astropy)."""
    return np.interp(np.log(np.asarray(redshift, dtype=float)), _LOG_Z_GRID, _DM_GRID)


def raw_features(
    flux: np.ndarray, err: np.ndarray, present: np.ndarray, redshift: np.ndarray
) -> np.ndarray:
    """Unstandardised features (n, 74); missing bands hold NaN in their value columns."""
    flux = np.atleast_2d(flux)
    err = np.atleast_2d(err)
    present = np.atleast_2d(present) & (flux > 0) & (err > 0)
    z = np.atleast_1d(np.asarray(redshift, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        absmag = 23.9 - 2.5 * np.log10(flux) - distance_modulus(z)[:, None]
        log_snr = np.log10(flux / err)
    absmag = np.where(present, absmag, np.nan)
    log_snr = np.where(present, log_snr, np.nan)
    return np.column_stack([absmag, log_snr, present.astype(float), z, np.log10(z)])


def feature_scaling(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std over present entries (present flags are left unscaled)."""
    mean = np.nan_to_num(np.nanmean(features, axis=0))
    std = np.nan_to_num(np.nanstd(features, axis=0), nan=1.0)
    std[std <= 0] = 1.0
    flags = slice(2 * N_BANDS, 3 * N_BANDS)
    mean[flags], std[flags] = 0.0, 1.0
    return mean, std


def standardise(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardised features with missing entries set to 0, float32 for the network."""
    return np.nan_to_num((features - mean) / std, nan=0.0).astype(np.float32)
