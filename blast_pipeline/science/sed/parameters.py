"""The SED model's parameters, priors and ranges: the one place they are defined.

The forward model (``forward.py``) is bagpipes 1.3.6 with
- a delayed-tau star-formation history ``SFR(t) ∝ t exp(-t/tau)`` (t = time since onset),
- a constant stellar metallicity (BC03 MILES grids, Chabrier IMF as shipped with bagpipes),
- Calzetti (2000) dust attenuation of all starlight by ``A_V``,
- Cloudy nebular lines and continuum with ionisation parameter ``log U``,
- Draine & Li (2007) dust emission in energy balance (bagpipes' defaults qpah=2, umin=1,
  gamma=0.01), so WISE W3/W4 are modelled,
- bagpipes' cosmology FlatLambdaCDM(H0=70, Om0=0.3) and Inoue (2014) IGM absorption.

Raw parameters ``theta`` (all priors uniform in the listed coordinate, independent):

=================  ==========================================================  ===============
name               meaning                                                     prior range
=================  ==========================================================  ===============
log_mass_formed    log10 total mass formed [M_sun]                             5.0 .. 12.5
age_q              onset of star formation: log10(age/Gyr) runs linearly from  0 .. 1
                   log10(0.1 Gyr) at 0 to log10(0.995 t_univ(z)) at 1
log_tau            log10 delayed-tau timescale [Gyr]                           -1.0 .. 1.0
log_z              log10 stellar (and gas) metallicity [Z/Z_sun]               -2.0 .. 0.3
av                 Calzetti V-band attenuation A_V [mag]                       0.0 .. 2.5
log_u              nebular ionisation parameter log10 U                        -4.0 .. -1.0
=================  ==========================================================  ===============

``age_q`` instead of the age keeps the prior a box at every redshift (no star older than the
Universe).  The mass range covers global apertures of massive hosts and 2 kpc local apertures of
dwarfs (surviving masses ~1e5-3e12 M_sun).  Redshift is not a parameter: the posterior is
conditioned on it, for 0.001 <= z <= 0.5.
"""

from __future__ import annotations

import numpy as np
from astropy.cosmology import FlatLambdaCDM

#: bagpipes' hard-wired cosmology (its SFH ages, distances and the contract's SFH bins use it).
SED_COSMOLOGY = FlatLambdaCDM(H0=70, Om0=0.3)

THETA_NAMES: tuple[str, ...] = ("log_mass_formed", "age_q", "log_tau", "log_z", "av", "log_u")
THETA_LOW = np.array([5.0, 0.0, -1.0, -2.0, 0.0, -4.0])
THETA_HIGH = np.array([12.5, 1.0, 1.0, 0.3, 2.5, -1.0])

#: Redshifts the posterior is trained for (inclusive).
REDSHIFT_RANGE: tuple[float, float] = (0.001, 0.5)

#: The age_q mapping: youngest onset of star formation, and the fraction of t_univ at age_q = 1.
MIN_AGE_GYR = 0.1
MAX_AGE_FRACTION = 0.995

#: Quantities every posterior sample carries (names and units in SED_CONTRACT / README).
SED_QUANTITIES: tuple[str, ...] = ("log_mass", "log_sfr", "log_ssfr", "log_age", "log_z", "av")

#: SFR is averaged over this lookback time (bagpipes' ``sfr_timescale``, Blast's 100 Myr column).
SFR_TIMESCALE_GYR = 0.1

#: Floor of log10 sSFR [1/yr]: a delayed-tau history with age >> tau has SFR ~ exp(-age/tau),
#: which is 0 to any measurement; log_sfr and log_ssfr are reported no lower than this floor.
LOG_SSFR_FLOOR = -14.0


def age_of_universe_gyr(redshift: float | np.ndarray) -> np.ndarray:
    """Age of the Universe at ``redshift`` [Gyr] in bagpipes' cosmology."""
    return np.asarray(SED_COSMOLOGY.age(redshift).to_value("Gyr"), dtype=float)


def age_gyr(age_q: np.ndarray, redshift: float | np.ndarray) -> np.ndarray:
    """Time since the onset of star formation [Gyr] for ``age_q`` at ``redshift``."""
    lo = np.log10(MIN_AGE_GYR)
    hi = np.log10(MAX_AGE_FRACTION * age_of_universe_gyr(redshift))
    return 10 ** (lo + np.asarray(age_q, dtype=float) * (hi - lo))


def sfh_bin_edges_gyr(redshift: float) -> np.ndarray:
    """Blast's 7 SFH bins as 8 lookback-time edges [Gyr] (reference 1.17 step 4).

    ``[0, 10**7.47712 yr, 5 log-spaced edges from 1e8 yr to 0.9 t_univ(z), t_univ(z)]``.
    """
    t_univ_yr = float(age_of_universe_gyr(redshift)) * 1e9
    log_edges = np.concatenate(
        [[7.47712], np.linspace(8.0, np.log10(0.9 * t_univ_yr), 5), [np.log10(t_univ_yr)]]
    )
    return np.concatenate([[0.0], 10**log_edges / 1e9])


def check_redshift(redshift: float) -> float:
    """The redshift as a float, or ValueError naming the trained range."""
    z = float(redshift)
    lo, hi = REDSHIFT_RANGE
    if not np.isfinite(z) or z < lo or z > hi:
        raise ValueError(f"redshift {redshift!r} is outside the SED model's range {lo}-{hi}")
    return z


def sample_prior(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of theta from the box prior, shape (n, 6)."""
    return THETA_LOW + rng.random((n, len(THETA_NAMES))) * (THETA_HIGH - THETA_LOW)


def sample_redshifts(n: int, rng: np.random.Generator) -> np.ndarray:
    """Training redshifts: half uniform, half log-uniform in REDSHIFT_RANGE (dense at low z)."""
    lo, hi = REDSHIFT_RANGE
    uniform = lo + rng.random(n) * (hi - lo)
    log_uniform = 10 ** (np.log10(lo) + rng.random(n) * np.log10(hi / lo))
    return np.where(rng.random(n) < 0.5, uniform, log_uniform)
