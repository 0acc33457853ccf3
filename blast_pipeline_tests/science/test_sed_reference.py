"""Reference mode: bagpipes' nautilus fit of the posterior's inputs, summarised like the fast
posterior (a tiny sampler configuration; the real one has 400 live points and ~95 s)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from blast_pipeline.science.sed import SEDPhotometry, get_sed_model, load_default_posterior
from blast_pipeline.science.sed.derived import derived_quantities
from blast_pipeline.science.sed.parameters import age_gyr
from blast_pipeline.science.sed.reference import age_q_of, reference_fit, theta_from_bagpipes

THETA = np.array([10.3, 0.6, 0.2, -0.3, 0.4, -2.5])
FILTERS = (
    "GALEX_NUV", "PanSTARRS_g", "PanSTARRS_r", "PanSTARRS_i", "PanSTARRS_z", "PanSTARRS_y",
    "2MASS_J", "WISE_W1", "WISE_W2",
)  # fmt: skip
Z = 0.05


def test_bagpipes_samples_map_back_to_theta():
    age = age_gyr(np.array([0.0, 0.3, 1.0]), 0.2)
    assert age_q_of(age, 0.2) == pytest.approx([0.0, 0.3, 1.0])
    params = ["delayed:age", "delayed:massformed", "delayed:metallicity", "delayed:tau"]
    params += ["dust:Av", "nebular:logU"]
    samples = np.array([[float(age_gyr(0.6, Z)), 10.3, 10**-0.3, 10**0.2, 0.4, -2.5]])
    assert theta_from_bagpipes(params, samples, Z)[0] == pytest.approx(THETA)


@pytest.mark.slow
def test_nautilus_reference_agrees_with_the_fast_posterior(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flux = get_sed_model().photometry(THETA, Z, FILTERS)
    photometry = SEDPhotometry(FILTERS, flux, 0.05 * flux, Z, "global")
    fast = load_default_posterior().sample(photometry, seed=0).percentiles()
    samples = reference_fit(photometry, n_live=50, pool=1, n_networks=1, n_posterior=300)
    ref = samples.percentiles()
    assert os.listdir(tmp_path) == []  # bagpipes' pipes/ folder went to a removed temp dir
    assert samples.sfh.shape == (len(samples.theta), 7) and len(samples.theta) >= 300
    assert set(ref) == set(fast)

    from blast_pipeline.science.sed.reference import _live_fraction

    true_mass = derived_quantities(THETA, Z, _live_fraction())[0]["log_mass"][0]
    lo, mid, hi = ref["log_mass"]
    assert lo < mid < hi
    assert abs(mid - true_mass) < 0.3
    # the reference's median lies in (a generous margin around) the fast 16-84 % interval
    for key, margin in (("log_mass", 0.3), ("log_sfr", 0.5)):
        f16, _, f84 = fast[key]
        assert f16 - margin <= ref[key][1] <= f84 + margin, (key, fast[key], ref[key])
