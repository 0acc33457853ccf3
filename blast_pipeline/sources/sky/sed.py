"""A two-component galaxy SED model giving AB magnitudes in Blast's 24 bands.

A galaxy is ``stellar mass x old-population template + SFR x young-population template``:

* the *old* template is the rest-frame AB absolute magnitude of one solar mass of an evolved
  population (M/L_r ~ 3): red optical colours, a 4000 A break, a weak UV upturn (NUV - r ~ 5.5),
  a 1.6 micron bump and a Rayleigh-Jeans tail in the mid-infrared;
* the *young* template is one solar mass per year of continuous star formation: flat in f_nu in
  the UV (M_FUV = -18.05, Kennicutt 1998), modest optical light, and warm-dust/PAH emission in
  WISE W3/W4 matching the Cluver et al. (2017) SFR calibrations (M_W3 ~ -20.7 per Msun/yr).

Internal dust attenuates the stellar light with the Calzetti law (young stars by A_V, old stars by
half of it); dust emission beyond 5 micron is not attenuated. Flux below the Lyman limit
(912 A rest) is zero. The templates are interpolated linearly in log wavelength at
``lambda_obs / (1 + z)`` and redshifted with ``m = M + DM(z) - 2.5 log10(1 + z)`` (f_nu
bandwidth term), so colours behave plausibly with redshift: passive galaxies are UV-faint and red,
star-forming galaxies blue in the UV and bright in W3/W4, all galaxies brighter in the near-IR.
It is not an SPS model: no metallicity, no emission lines, no energy balance.
"""

from __future__ import annotations

import numpy as np

from blast_pipeline.science.units import AB_MAG_OF_ONE_MICROJANSKY
from blast_pipeline.sources.sky.cosmology import distance_modulus
from blast_pipeline.sources.sky.extinction import CALZETTI_R_V, calzetti_k

#: Rest-frame wavelengths (A) of the template grid.
TEMPLATE_WAVELENGTH_ANGSTROM = np.array(
    [912, 1000, 1300, 1500, 2000, 2300, 2800, 3600, 4000, 4700, 5500, 6200, 7500, 9000,
     12000, 16000, 22000, 34000, 46000, 80000, 120000, 220000, 300000],
    dtype=float,
)  # fmt: skip
#: Old population: AB absolute magnitude of one solar mass (r-band value 5.84).
OLD_ABSMAG_PER_MSUN = 5.84 + np.array(
    [9.0, 8.0, 7.2, 7.0, 6.3, 5.5, 4.6, 2.5, 1.9, 0.8, 0.35, 0.0, -0.4, -0.7,
     -1.05, -1.27, -1.0, -0.25, 0.45, 1.4, 2.0, 3.0, 3.6],
)  # fmt: skip
#: Young population: AB absolute magnitude of 1 Msun/yr of continuous star formation.
YOUNG_ABSMAG_PER_SFR = np.array(
    [-15.5, -17.8, -18.0, -18.05, -18.2, -18.3, -18.45, -18.7, -19.0, -19.2, -19.35, -19.45,
     -19.55, -19.65, -19.8, -19.9, -19.75, -19.1, -18.85, -20.2, -20.7, -21.4, -21.9],
)  # fmt: skip
LYMAN_LIMIT_ANGSTROM = 912.0
DUST_EMISSION_ANGSTROM = 50_000.0
OLD_ATTENUATION_FRACTION = 0.5


def rest_frame_flux(
    log_stellar_mass: np.ndarray,
    sfr: np.ndarray,
    av_mag: np.ndarray,
    rest_wavelength_angstrom: np.ndarray,
) -> np.ndarray:
    """L_nu in units of a 0-mag AB source at 10 pc: shape (galaxies, wavelengths)."""
    lam = np.atleast_2d(rest_wavelength_angstrom)
    log_lam = np.log10(np.clip(lam, TEMPLATE_WAVELENGTH_ANGSTROM[0], None))
    grid = np.log10(TEMPLATE_WAVELENGTH_ANGSTROM)
    old = 10 ** (-0.4 * np.interp(log_lam, grid, OLD_ABSMAG_PER_MSUN))
    young = 10 ** (-0.4 * np.interp(log_lam, grid, YOUNG_ABSMAG_PER_SFR))
    av = np.asarray(av_mag, dtype=float)[:, None]
    stellar = lam < DUST_EMISSION_ANGSTROM
    a_young = np.where(stellar, av * calzetti_k(lam) / CALZETTI_R_V, 0.0)
    mass = 10 ** np.asarray(log_stellar_mass, dtype=float)[:, None]
    rate = np.asarray(sfr, dtype=float)[:, None]
    flux = mass * old * 10 ** (-0.4 * OLD_ATTENUATION_FRACTION * a_young)
    flux = flux + rate * young * 10 ** (-0.4 * a_young)
    return np.where(lam < LYMAN_LIMIT_ANGSTROM, 0.0, flux)


def apparent_flux_microjansky(
    log_stellar_mass: np.ndarray,
    sfr: np.ndarray,
    redshift: np.ndarray,
    av_mag: np.ndarray,
    observed_wavelength_angstrom: np.ndarray,
) -> np.ndarray:
    """Observed AB flux density (microjansky) before Milky Way extinction, (galaxies, bands)."""
    z = np.asarray(redshift, dtype=float)
    log_mass = np.asarray(log_stellar_mass, dtype=float)
    if not (z.shape == log_mass.shape == np.shape(sfr) == np.shape(av_mag)) or z.ndim != 1:
        raise ValueError("mass, sfr, redshift and A_V must be 1-d arrays of the same length")
    if np.any(np.asarray(sfr) < 0) or np.any(np.asarray(av_mag) < 0):
        raise ValueError("SFR and A_V must be non-negative")
    lam_obs = np.asarray(observed_wavelength_angstrom, dtype=float)[None, :]
    rest = lam_obs / (1.0 + z[:, None])
    luminosity = rest_frame_flux(log_mass, sfr, av_mag, rest)
    shift = distance_modulus(z) - 2.5 * np.log10(1.0 + z) - AB_MAG_OF_ONE_MICROJANSKY
    return luminosity * 10 ** (-0.4 * shift)[:, None]


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
