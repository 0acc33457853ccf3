"""Calibration of a posterior on held-out simulations: interval coverage and point errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blast_pipeline.science.sed.derived import derived_quantities
from blast_pipeline.science.sed.forward import FILTER_NAMES
from blast_pipeline.science.sed.parameters import SED_QUANTITIES, THETA_HIGH, THETA_LOW, THETA_NAMES

#: Blast's optical bands (its SBI filter-sufficiency rule, reference 1.17 step 5).
OPTICAL_BANDS = (
    "SDSS_g", "SDSS_r", "SDSS_i", "SDSS_z",
    "PanSTARRS_g", "PanSTARRS_r", "PanSTARRS_i", "PanSTARRS_z", "PanSTARRS_y",
    "DES_g", "DES_r",
)  # fmt: skip
_OPTICAL = np.isin(FILTER_NAMES, OPTICAL_BANDS)
_MASS = THETA_NAMES.index("log_mass_formed")


@dataclass(frozen=True)
class Observed:
    """Noisy photometry (n, 24) over FILTER_NAMES and the redshifts it is conditioned on."""

    redshift: np.ndarray
    flux: np.ndarray
    err: np.ndarray
    present: np.ndarray

    def optical_high_snr(self, min_snr: float = 20.0, min_bands: int = 3) -> np.ndarray:
        """Objects with at least ``min_bands`` optical bands at S/N >= ``min_snr``."""
        snr = np.where(self.present, self.flux / self.err, 0.0)
        return np.sum((snr >= min_snr) & _OPTICAL, axis=1) >= min_bands


@dataclass(frozen=True)
class HeldOut(Observed):
    """Observed held-out simulations with their true parameters theta (n, 6)."""

    theta: np.ndarray


def held_out_observations(training_set, index: np.ndarray, seed: int) -> HeldOut:
    """One seeded mass re-draw + observation of the simulations ``index`` (>= 1 band kept)."""
    from blast_pipeline.science.sed.observation import observe

    rng = np.random.default_rng([seed, 3])
    theta = training_set.theta[index].copy()
    new_mass = rng.uniform(THETA_LOW[_MASS], THETA_HIGH[_MASS], size=len(index))
    flux_true = training_set.flux[index] * 10 ** (new_mass - theta[:, _MASS])[:, None]
    theta[:, _MASS] = new_mass
    flux, err, present = observe(flux_true, rng)
    keep = present.any(axis=1)
    return HeldOut(
        redshift=training_set.redshift[index][keep],
        flux=flux[keep],
        err=err[keep],
        present=present[keep],
        theta=theta[keep],
    )


def posterior_draws(posterior, held: Observed, n_samples: int, seed: int, chunk: int = 100):
    """Derived-quantity samples of every observed object: dict name -> (n_objects, n_samples)."""
    features = posterior.features(held.flux, held.err, held.present, held.redshift)
    out = {name: np.empty((len(held.redshift), n_samples)) for name in SED_QUANTITIES}
    for start in range(0, len(held.redshift), chunk):
        theta = posterior.sample_theta(features[start : start + chunk], n_samples, seed + start)
        for j in range(theta.shape[1]):
            quantities, _ = derived_quantities(
                theta[:, j], held.redshift[start + j], posterior.live_fraction
            )
            for name in SED_QUANTITIES:
                out[name][start + j] = quantities[name]
    return out


def truth_quantities(held: HeldOut, live_fraction) -> dict[str, np.ndarray]:
    """The held-out objects' true SED quantities."""
    truths = [
        derived_quantities(t[None], z, live_fraction)[0]
        for t, z in zip(held.theta, held.redshift, strict=True)
    ]
    return {name: np.array([t[name][0] for t in truths]) for name in SED_QUANTITIES}


def coverage_and_errors(draws: dict, truth: dict, mask: np.ndarray | None = None) -> dict:
    """68/95 % central-interval coverage and median |median - truth| per quantity."""
    report = {}
    for name in draws:
        d, t = draws[name], truth[name]
        if mask is not None:
            d, t = d[mask], t[mask]
        lo68, hi68, lo95, hi95, med = np.percentile(d, [16, 84, 2.5, 97.5, 50], axis=1)
        report[name] = {
            "coverage68": float(np.mean((t >= lo68) & (t <= hi68))),
            "coverage95": float(np.mean((t >= lo95) & (t <= hi95))),
            "median_abs_error": float(np.median(np.abs(med - t))),
            "median_width68": float(np.median(hi68 - lo68) / 2),
        }
    return report


def calibration_report(posterior, held: HeldOut, n_samples: int, seed: int) -> dict:
    """Coverage per quantity, median errors of log M* and log SFR, on ``held``."""
    draws = posterior_draws(posterior, held, n_samples, seed)
    truth = truth_quantities(held, posterior.live_fraction)
    per_quantity = coverage_and_errors(draws, truth)
    bright = held.optical_high_snr()
    bright_report = coverage_and_errors(draws, truth, bright) if bright.any() else {}
    return {
        "n_objects": int(len(held.redshift)),
        "n_samples": int(n_samples),
        "quantities": per_quantity,
        "coverage68_log_mass": per_quantity["log_mass"]["coverage68"],
        "coverage68_log_sfr": per_quantity["log_sfr"]["coverage68"],
        "median_abs_error_log_mass": per_quantity["log_mass"]["median_abs_error"],
        "median_abs_error_log_sfr": per_quantity["log_sfr"]["median_abs_error"],
        "n_optical_snr20": int(bright.sum()),
        "median_abs_error_log_mass_optical_snr20": (
            bright_report["log_mass"]["median_abs_error"] if bright_report else None
        ),
    }
