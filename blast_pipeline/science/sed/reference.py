"""Reference mode: the same SED fit with bagpipes' own nested sampler (nautilus) instead of the
amortised posterior. ~95 s per object with 400 live points on 2 cores (sed-notes.md section 3)
against ~25 ms, so the pipeline never uses it; it checks the fast posterior on real inputs.

It fits exactly what the posterior sees (``SEDPhotometry.band_arrays``: the corrected fluxes with
the 1 % floor, bands with S/N < 3 dropped) at the known redshift, with the posterior's priors
(``predict.bagpipes_fit_instructions``), and maps bagpipes' samples back to ``theta`` so that
mass, SFR, ages and the SFH come from the same ``derived_quantities`` as the fast posterior's.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from blast_pipeline.science.sed.derived import LiveFractionTable, derived_quantities
from blast_pipeline.science.sed.forward import FILTER_NAMES, filter_files, import_bagpipes
from blast_pipeline.science.sed.parameters import (
    MAX_AGE_FRACTION,
    MIN_AGE_GYR,
    THETA_NAMES,
    age_of_universe_gyr,
    check_redshift,
    sfh_bin_edges_gyr,
)
from blast_pipeline.science.sed.posterior import SEDPhotometry, SEDSamples
from blast_pipeline.science.sed.predict import bagpipes_fit_instructions

#: bagpipes parameter name -> (theta name, transform from bagpipes' value to theta's).
_TO_THETA = {
    "delayed:massformed": ("log_mass_formed", lambda v, z: v),
    "delayed:age": ("age_q", lambda v, z: age_q_of(v, z)),
    "delayed:tau": ("log_tau", lambda v, z: np.log10(v)),
    "delayed:metallicity": ("log_z", lambda v, z: np.log10(v)),
    "dust:Av": ("av", lambda v, z: v),
    "nebular:logU": ("log_u", lambda v, z: v),
}


def age_q_of(age_gyr: np.ndarray, redshift: float) -> np.ndarray:
    """Inverse of ``parameters.age_gyr``: the age_q of an onset ``age_gyr`` [Gyr] at ``redshift``."""
    lo = np.log10(MIN_AGE_GYR)
    hi = np.log10(MAX_AGE_FRACTION * float(age_of_universe_gyr(redshift)))
    return (np.log10(np.asarray(age_gyr, dtype=float)) - lo) / (hi - lo)


@cache
def _live_fraction() -> LiveFractionTable:
    return LiveFractionTable.from_bagpipes()


def theta_from_bagpipes(params: list[str], samples2d: np.ndarray, redshift: float) -> np.ndarray:
    """bagpipes' posterior samples (columns ``params``) as theta (n, 6) in THETA_NAMES order."""
    theta = np.empty((samples2d.shape[0], len(THETA_NAMES)))
    for column, name in enumerate(params):
        theta_name, transform = _TO_THETA[name]
        theta[:, THETA_NAMES.index(theta_name)] = transform(samples2d[:, column], redshift)
    return theta


def reference_fit(
    photometry: SEDPhotometry,
    n_live: int = 400,
    pool: int = 2,
    n_networks: int = 4,
    n_posterior: int = 1000,
) -> SEDSamples:
    """Posterior samples of ``photometry`` from a bagpipes nautilus fit (same priors, same
    derived quantities as ``SEDPosterior.sample``; summarise with ``.percentiles()``).

    bagpipes writes its ``pipes/`` folder into the working directory: the fit runs in a
    temporary directory that is removed afterwards (the process's working directory is
    changed for the duration, so do not run two fits in threads of one process).
    """
    z = check_redshift(photometry.redshift)
    flux, err, present = photometry.band_arrays()
    index = np.flatnonzero(present)
    filters = [FILTER_NAMES[i] for i in index]
    table = np.column_stack([flux[index], err[index]])
    pipes = import_bagpipes()
    workdir = Path(tempfile.mkdtemp(prefix="blast_bagpipes_"))
    saved_dir = pipes.utils.working_dir
    try:
        pipes.utils.working_dir = str(workdir)
        with contextlib.chdir(workdir), contextlib.redirect_stdout(io.StringIO()):
            galaxy = pipes.galaxy(
                "reference",
                lambda _id: table,
                spectrum_exists=False,
                filt_list=filter_files(filters),
                phot_units="mujy",
            )
            fit = pipes.fit(galaxy, bagpipes_fit_instructions(z), n_posterior=n_posterior)
            fit.fit(
                sampler="nautilus", n_live=n_live, pool=pool, n_networks=n_networks, verbose=False
            )
            params = list(fit.fitted_model.params)
            samples2d = np.asarray(fit.results["samples2d"], dtype=float)
    finally:
        pipes.utils.working_dir = saved_dir
        shutil.rmtree(workdir, ignore_errors=True)
    theta = theta_from_bagpipes(params, samples2d, z)
    quantities, sfh = derived_quantities(theta, z, _live_fraction())
    return SEDSamples(quantities, sfh, sfh_bin_edges_gyr(z), theta)
