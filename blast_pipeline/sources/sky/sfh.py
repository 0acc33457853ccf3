"""Non-parametric, bursty star-formation histories of the simulated galaxies, and their truth.

Deliberately *not* the delayed-tau family the SED posterior is trained on: every galaxy forms its
stars at a constant rate within each of ``N_BINS`` lookback-time bins, edges 0, 10, 30, 100 Myr,
then 7 log-spaced bins from 100 Myr to the age of the universe at its redshift (bagpipes'
cosmology). Given the mass, SFR, redshift and type that ``galaxies.draw_properties`` drew:

* **the last 100 Myr** (bins 0-2) form ``SFR * 100 Myr``, split by log-normal bursts
  (0.3 dex per bin), so ``log_sfr`` over 100 Myr is the drawn SFR;
* **older bins** follow a continuity prior (Leja et al. 2019: Student-t steps, nu = 2, 0.3 dex,
  clipped at +-1 dex) around a trend in log lookback time (older for more massive galaxies),
  30 % of galaxies get one old burst (+0.5-1 dex in one bin), and quiescent galaxies are
  quenched (bins younger than a quenching time of 0.3 Gyr-0.5 t_univ suppressed by 1.5 dex);
  they are scaled so that the *surviving* stellar mass (bagpipes' BC03 live fractions) is the
  drawn mass; when the last 100 Myr alone would exceed 60 % of it, the SFR is lowered to that;
* **metallicity** (one per galaxy) from a mass-metallicity relation
  ``log Z/Z_sun = min(-0.1 + 0.4 (log M - 10.5), 0.25) + 0.15 N(0, 1)``.

``bagpipes_weights`` turns histories into bagpipes' ``ceh.grid`` (its internal 0.0025-dex age
sampling histogrammed into its age bins, metallicity split linearly between nodes), which
``sps_grid.SPSGrid.photometry`` turns into fluxes. Truth (``StepHistory.truth``) uses the
contract's names: ``log_mass`` (surviving), ``log_sfr`` (100 Myr), ``log_ssfr``, ``log_age``
(formed-mass-weighted age, Gyr), ``log_z``, ``av`` and the SFR in Blast's 7 bins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy.cosmology import FlatLambdaCDM

from blast_pipeline.sources.sky.sps_grid import SPSGrid, load_grid

N_BINS = 10
YOUNG_EDGES_YR = (0.0, 1e7, 3e7, 1e8)
N_YOUNG = len(YOUNG_EDGES_YR) - 1
SFR_TIMESCALE_YR = 1e8
YOUNG_BURST_DEX = 0.3
CONTINUITY_SCALE_DEX = 0.3
CONTINUITY_CLIP_DEX = 1.0
OLD_BURST_FRACTION = 0.3
QUENCH_SUPPRESSION_DEX = 1.5
MAX_YOUNG_MASS_FRACTION = 0.6
METALLICITY_SCATTER_DEX = 0.15
#: Columns of the per-galaxy shape draws (``draw_shape``).
_YOUNG = slice(0, N_YOUNG)
_STEPS = slice(N_YOUNG, N_BINS)
_BURST_U, _BURST_BIN, _BURST_DEX, _QUENCH_U, _Z_NORMAL = range(N_BINS, N_BINS + 5)
N_SHAPE_DRAWS = N_BINS + 5


def draw_shape(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random numbers fixing each galaxy's history shape and metallicity scatter, (count, 15)."""
    draws = np.empty((count, N_SHAPE_DRAWS))
    draws[:, _YOUNG] = rng.standard_normal((count, N_YOUNG))
    draws[:, _STEPS] = rng.standard_t(2.0, (count, N_BINS - N_YOUNG))
    draws[:, N_BINS:] = rng.random((count, 5))
    draws[:, _Z_NORMAL] = rng.standard_normal(count)
    return draws


def metallicity_log_z(log_stellar_mass: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """log10 Z/Z_sun from the mass-metallicity relation plus scatter, within bagpipes' grid."""
    relation = np.minimum(-0.1 + 0.4 * (np.asarray(log_stellar_mass) - 10.5), 0.25)
    log_z = relation + METALLICITY_SCATTER_DEX * draws[:, _Z_NORMAL]
    return np.clip(log_z, math.log10(0.005), math.log10(5.0))


@dataclass(frozen=True)
class StepHistory:
    """One galaxy's SFH: constant ``sfr`` (M_sun/yr) between lookback ``edges_yr``."""

    edges_yr: tuple[float, ...]
    sfr: tuple[float, ...]
    log_z: float
    av: float
    redshift: float

    def mass_formed(self, lo_yr: float, hi_yr: float) -> float:
        """Mass (M_sun) formed between lookback times ``lo_yr`` and ``hi_yr``."""
        edges = np.asarray(self.edges_yr)
        overlap = np.clip(np.minimum(edges[1:], hi_yr) - np.maximum(edges[:-1], lo_yr), 0, None)
        return float(np.dot(overlap, self.sfr))

    def truth(self, log_mass: float) -> dict:
        """The contract's SED quantities; ``log_mass`` is the surviving mass it was scaled to."""
        edges = np.asarray(self.edges_yr)
        sfr = np.asarray(self.sfr)
        formed = sfr * np.diff(edges)
        age_gyr = float(np.sum(sfr * np.diff(edges**2) / 2) / formed.sum()) / 1e9
        log_sfr = math.log10(self.mass_formed(0.0, SFR_TIMESCALE_YR) / SFR_TIMESCALE_YR)
        blast_edges = sfh_bin_edges_gyr(self.redshift)
        blast_sfr = [
            float(self.mass_formed(1e9 * lo, 1e9 * hi) / (1e9 * (hi - lo)))
            for lo, hi in zip(blast_edges[:-1], blast_edges[1:], strict=True)
        ]
        return {
            "log_mass": log_mass,
            "log_sfr": log_sfr,
            "log_ssfr": log_sfr - log_mass,
            "log_age": math.log10(age_gyr),
            "log_z": self.log_z,
            "av": self.av,
            "sfh_bin_edges_gyr": [float(e) for e in blast_edges],
            "sfh": blast_sfr,
        }

    def scaled(self, fraction: float) -> StepHistory:
        """The same history with every rate times ``fraction`` (part of the galaxy)."""
        return StepHistory(
            self.edges_yr, tuple(fraction * s for s in self.sfr), self.log_z, self.av, self.redshift
        )


_BAGPIPES_COSMOLOGY = FlatLambdaCDM(H0=70.0, Om0=0.3)


@lru_cache(maxsize=4096)
def _age_of_universe_gyr(redshift: float) -> float:
    return float(_BAGPIPES_COSMOLOGY.age(redshift).value)


def sfh_bin_edges_gyr(redshift: float) -> np.ndarray:
    """Blast's 7 SFH bins as 8 lookback-time edges (Gyr): 0, 30 Myr, 5 log-spaced edges from
    100 Myr to 0.9 t_univ, t_univ (FlatLambdaCDM H0 = 70, Om0 = 0.3, as bagpipes)."""
    t_univ = _age_of_universe_gyr(float(redshift))
    middle = np.logspace(8.0, math.log10(0.9 * t_univ * 1e9), 5) / 1e9
    return np.concatenate(([0.0, 10**7.47712 / 1e9], middle, [t_univ]))


def bin_edges_yr(redshift: np.ndarray, grid: SPSGrid) -> np.ndarray:
    """The sky's lookback-time bin edges (yr) for each redshift, shape (galaxies, N_BINS + 1)."""
    t_univ = 1e9 * grid.age_of_universe_gyr(np.asarray(redshift, dtype=float))
    fraction = np.linspace(0.0, 1.0, N_BINS - N_YOUNG + 1)[1:]
    old = SFR_TIMESCALE_YR * (t_univ[:, None] / SFR_TIMESCALE_YR) ** fraction[None, :]
    young = np.broadcast_to(np.array(YOUNG_EDGES_YR), (t_univ.size, N_YOUNG + 1))
    return np.concatenate([young, old], axis=1)


def _cumulative_fine_widths(grid: SPSGrid, times_yr: np.ndarray) -> np.ndarray:
    """Sum of bagpipes' fine-sampling widths over the fine ages below each time."""
    cumulative = np.concatenate(([0.0], np.cumsum(grid.fine_widths)))
    return cumulative[np.searchsorted(grid.fine_ages, times_yr, side="left")]


def bin_to_age_matrix(edges_yr: np.ndarray, grid: SPSGrid) -> np.ndarray:
    """(galaxies, N_BINS, age bins): years of each history bin in each bagpipes age bin.

    Exactly bagpipes' treatment of a history sampled at its fine ages (``custom`` SFH: SFR at
    each fine age times its width, histogrammed into ``age_bins``), without the fine array.
    """
    at_edges = _cumulative_fine_widths(grid, edges_yr)[:, :, None]
    at_bins = _cumulative_fine_widths(grid, grid.age_bins)[None, None, :]
    upper = np.minimum(at_edges[:, 1:], at_bins[:, :, 1:])
    lower = np.maximum(at_edges[:, :-1], at_bins[:, :, :-1])
    return np.clip(upper - lower, 0.0, None)


def fine_sfr(edges_yr: np.ndarray, sfr: np.ndarray, grid: SPSGrid) -> np.ndarray:
    """Step histories sampled at bagpipes' fine ages (zero beyond the last edge): what a
    bagpipes ``custom`` SFH is given to reproduce a sky galaxy."""
    ages = grid.fine_ages
    index = np.sum(ages[None, :, None] >= edges_yr[:, None, 1:], axis=2)  # bin of each age
    inside = ages[None, :] < edges_yr[:, -1:]
    values = np.take_along_axis(sfr, np.clip(index, 0, sfr.shape[1] - 1), axis=1)
    return np.where(inside, values, 0.0)


def metallicity_split(log_z: np.ndarray, grid: SPSGrid) -> np.ndarray:
    """bagpipes' delta metallicity history: (galaxies, nodes) linear weights in Z."""
    nodes = grid.metallicities
    z = 10 ** np.atleast_1d(np.asarray(log_z, dtype=float))
    high = np.clip(np.searchsorted(nodes, z, side="left"), 1, nodes.size - 1)
    fraction = np.clip((z - nodes[high - 1]) / (nodes[high] - nodes[high - 1]), 0.0, 1.0)
    split = np.zeros((z.size, nodes.size))
    rows = np.arange(z.size)
    split[rows, high] = fraction
    split[rows, high - 1] = 1.0 - fraction
    return split


def bagpipes_weights(
    edges_yr: np.ndarray, sfr: np.ndarray, log_z: np.ndarray, grid: SPSGrid
) -> np.ndarray:
    """bagpipes' ``ceh.grid`` of step histories: mass formed, (galaxies, metallicity, age)."""
    per_age = np.einsum("gk,gka->ga", sfr, bin_to_age_matrix(edges_yr, grid))
    return metallicity_split(log_z, grid)[:, :, None] * per_age[:, None, :]


def build_histories(
    log_stellar_mass: np.ndarray,
    sfr: np.ndarray,
    redshift: np.ndarray,
    quiescent: np.ndarray,
    log_z: np.ndarray,
    draws: np.ndarray,
    grid: SPSGrid | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges (yr), SFR per bin (M_sun/yr) and bagpipes weights of a batch of galaxies.

    The surviving mass of each history equals ``10**log_stellar_mass`` (to rounding).
    """
    grid = load_grid() if grid is None else grid
    log_mass = np.asarray(log_stellar_mass, dtype=float)
    count = log_mass.size
    edges = bin_edges_yr(redshift, grid)
    widths = np.diff(edges, axis=1)
    mid = np.sqrt(np.maximum(edges[:, :-1], 1e6) * edges[:, 1:])
    young = 10 ** (YOUNG_BURST_DEX * draws[:, _YOUNG])
    young *= (
        np.asarray(sfr, dtype=float)
        * SFR_TIMESCALE_YR
        / np.sum(young * widths[:, :N_YOUNG], axis=1)
    )[:, None]
    slope = np.clip(0.25 * (log_mass - 9.5), -0.3, 0.6) + np.where(quiescent, 0.3, 0.0)
    steps = np.clip(
        CONTINUITY_SCALE_DEX * draws[:, _STEPS], -CONTINUITY_CLIP_DEX, CONTINUITY_CLIP_DEX
    )
    log_old = slope[:, None] * np.log10(mid[:, N_YOUNG:] / SFR_TIMESCALE_YR) + np.cumsum(
        steps, axis=1
    )
    n_old = N_BINS - N_YOUNG
    burst_bin = np.minimum((draws[:, _BURST_BIN] * n_old).astype(int), n_old - 1)
    burst = np.where(draws[:, _BURST_U] < OLD_BURST_FRACTION, 0.5 + 0.5 * draws[:, _BURST_DEX], 0.0)
    log_old[np.arange(count), burst_bin] += burst
    t_univ = edges[:, -1]
    log_quench = np.log10(3e8) + draws[:, _QUENCH_U] * np.log10(np.maximum(0.5 * t_univ / 3e8, 1.0))
    quenched = np.asarray(quiescent, dtype=bool)[:, None] & (
        np.log10(mid[:, N_YOUNG:]) < log_quench[:, None]
    )
    log_old -= np.where(quenched, QUENCH_SUPPRESSION_DEX, 0.0)
    old = 10 ** (log_old - log_old.max(axis=1, keepdims=True))
    years = bin_to_age_matrix(edges, grid)
    split = metallicity_split(log_z, grid)
    live = split @ grid.live_frac  # (galaxies, age bins) surviving fraction
    young_age = np.einsum("gk,gka->ga", young, years[:, :N_YOUNG])
    old_age = np.einsum("gk,gka->ga", old, years[:, N_YOUNG:])
    target = 10**log_mass
    young_mass = np.sum(young_age * live, axis=1)
    cap = np.minimum(1.0, MAX_YOUNG_MASS_FRACTION * target / young_mass)
    scale_old = (target - cap * young_mass) / np.sum(old_age * live, axis=1)
    rates = np.concatenate([young * cap[:, None], old * scale_old[:, None]], axis=1)
    per_age = young_age * cap[:, None] + old_age * scale_old[:, None]
    return edges, rates, split[:, :, None] * per_age[:, None, :]
