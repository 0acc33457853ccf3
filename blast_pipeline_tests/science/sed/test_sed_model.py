"""The SED forward model against bagpipes, and the posterior's training, persistence and sampling."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from blast_pipeline.science.sed import SEDPhotometry, get_sed_model, load_default_posterior
from blast_pipeline.science.sed.calibration import calibration_report, held_out_observations
from blast_pipeline.science.sed.forward import (
    FILTER_NAMES,
    bagpipes_components,
    filter_files,
    import_bagpipes,
)
from blast_pipeline.science.sed.parameters import THETA_HIGH, THETA_LOW, sfh_bin_edges_gyr
from blast_pipeline.science.sed.posterior import SEDPosterior
from blast_pipeline.science.sed.training import train_posterior
from blast_pipeline_tests.science.sed.conftest import TINY

THETA = np.array([10.3, 0.6, 0.2, -0.3, 0.4, -2.5])  # log Mformed, age_q, log tau, log Z, Av, log U


def test_forward_model_equals_bagpipes_called_directly():
    pipes = import_bagpipes()
    for z in (0.003, 0.08, 0.45):
        with contextlib.redirect_stdout(io.StringIO()):
            direct = pipes.model_galaxy(
                bagpipes_components(THETA, z), filt_list=filter_files(), phot_units="mujy"
            )
        ours = get_sed_model().photometry(THETA, z)
        np.testing.assert_allclose(ours, direct.photometry, rtol=1e-10)
        assert np.all(ours > 0)
        # the model SED's one-evaluation path gives the same spectrum and photometry
        get_sed_model().photometry(THETA + 0.1, 0.2)  # another state first
        wavelength, f_nu, fluxes = get_sed_model().spectrum_and_photometry(THETA, z)
        np.testing.assert_allclose(fluxes, direct.photometry, rtol=1e-10)
        np.testing.assert_allclose(wavelength, direct.wavelengths * (1 + z), rtol=1e-12)
        spectrum = get_sed_model().spectrum(THETA, z)[1]
        np.testing.assert_allclose(f_nu, spectrum, rtol=1e-12)


def test_flux_is_linear_in_formed_mass_and_a_subset_keeps_its_order():
    model = get_sed_model()
    heavier = THETA.copy()
    heavier[0] += 1.0
    np.testing.assert_allclose(model.photometry(heavier, 0.1), 10 * model.photometry(THETA, 0.1))
    subset = model.photometry(THETA, 0.1, ["WISE_W1", "SDSS_r"])
    full = model.photometry(THETA, 0.1)
    assert subset.tolist() == [
        full[FILTER_NAMES.index("WISE_W1")],
        full[FILTER_NAMES.index("SDSS_r")],
    ]


def test_sfh_bins_are_blasts():
    edges = sfh_bin_edges_gyr(0.05)
    assert len(edges) == 8 and edges[0] == 0.0
    assert edges[1] == pytest.approx(10**7.47712 / 1e9)
    assert edges[2] == pytest.approx(0.1)
    assert np.all(np.diff(edges) > 0)


def _photometry(_unused=None, keep=FILTER_NAMES, huge_error_band=None, z=0.05):
    flux = get_sed_model().photometry(THETA, z)
    err = 0.05 * flux
    if huge_error_band is not None:
        err[FILTER_NAMES.index(huge_error_band)] = 0.3 * flux[FILTER_NAMES.index(huge_error_band)]
    index = [FILTER_NAMES.index(name) for name in keep]
    return SEDPhotometry(tuple(keep), flux[index], err[index], z, "global")


def test_tiny_posterior_samples_inside_the_prior_and_deterministically(tiny_posterior, tmp_path):
    samples = tiny_posterior.sample(_photometry(None), n_samples=300, seed=5)
    assert samples.theta.shape == (300, 6) and samples.sfh.shape == (300, 7)
    assert np.all(samples.theta >= THETA_LOW) and np.all(samples.theta <= THETA_HIGH)
    again = tiny_posterior.sample(_photometry(None), n_samples=300, seed=5)
    np.testing.assert_array_equal(samples.theta, again.theta)
    path = tmp_path / "posterior.pt"
    tiny_posterior.save(path)
    loaded = SEDPosterior.load(path)
    assert loaded.version == tiny_posterior.version
    np.testing.assert_array_equal(
        loaded.sample(_photometry(None), n_samples=300, seed=5).theta, samples.theta
    )
    p = samples.percentiles()
    assert p["log_mass"][0] <= p["log_mass"][1] <= p["log_mass"][2]


def test_training_is_reproducible(tiny_training_set, tiny_posterior):
    again = train_posterior(tiny_training_set, TINY)
    for key, value in tiny_posterior.network.state_dict().items():
        assert torch.equal(value, again.network.state_dict()[key]), key


def test_load_refuses_a_file_of_another_model(tiny_posterior, tmp_path):
    path = tmp_path / "other.pt"
    version = tiny_posterior.version
    tiny_posterior.version = "other-model"
    try:
        tiny_posterior.save(path)
    finally:
        tiny_posterior.version = version
    with pytest.raises(ValueError, match="is not"):
        SEDPosterior.load(path)


def _width(samples) -> float:
    lo, _, hi = samples.percentiles()["log_mass"]
    return hi - lo


def test_missing_bands_and_a_huge_error_widen_the_shipped_posterior():
    posterior = load_default_posterior()
    full = _width(posterior.sample(_photometry(None), n_samples=2000, seed=1))
    optical = ("PanSTARRS_g", "PanSTARRS_r", "PanSTARRS_i", "PanSTARRS_z", "PanSTARRS_y")
    few = _width(posterior.sample(_photometry(None, keep=("PanSTARRS_g", "PanSTARRS_r")), 2000, 1))
    noisy = _width(
        posterior.sample(_photometry(None, keep=optical, huge_error_band="PanSTARRS_i"), 2000, 1)
    )
    five = _width(posterior.sample(_photometry(None, keep=optical), 2000, 1))
    assert few > full
    assert noisy > 0.95 * five  # a band with a large error carries less information


def test_bad_photometry_is_refused_with_the_reason(tiny_posterior):
    with pytest.raises(ValueError, match="outside the SED model's range"):
        tiny_posterior.sample(
            SEDPhotometry(("SDSS_r",), np.ones(1), np.full(1, 0.1), 0.9, "global")
        )
    with pytest.raises(ValueError, match="aperture"):
        tiny_posterior.sample(
            SEDPhotometry(("SDSS_r",), np.ones(1), np.full(1, 0.1), 0.1, "nuclear")
        )
    with pytest.raises(ValueError, match="S/N"):
        tiny_posterior.sample(SEDPhotometry(("SDSS_r",), np.ones(1), np.ones(1), 0.1, "global"))


def test_an_overconfident_posterior_loses_coverage(tiny_training_set, tiny_posterior):
    held = held_out_observations(tiny_training_set, np.arange(1200, 1500), seed=0)
    honest = calibration_report(tiny_posterior, held, 200, 0)
    narrow = SEDPosterior(
        tiny_posterior.network,
        tiny_posterior.hyper,
        tiny_posterior.feature_mean,
        tiny_posterior.feature_std,
        tiny_posterior.u_mean,
        tiny_posterior.u_std * 0.05,
        tiny_posterior.live_fraction,
        tiny_posterior.version,
    )
    bad = calibration_report(narrow, held, 200, 0)
    assert bad["coverage68_log_mass"] < 0.5 < honest["coverage68_log_mass"]


def test_sampling_prints_no_torch_deprecation_notice(recwarn):
    """nflows' triangular_solve notice is silenced where the network is sampled (fit-sed printed it)."""
    load_default_posterior().sample(_photometry(None), n_samples=100, seed=0)
    assert not [w for w in recwarn if "triangular_solve" in str(w.message)]


def test_parallel_simulation_shares_one_filter_folder(tmp_path, monkeypatch):
    """Spawned workers read the filter curves from one shared cache folder and leave no
    folder of their own (a killed worker used to leave a temporary one each time)."""
    import tempfile

    from blast_pipeline.science.sed.simulate import simulate_training_set

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the workers inherit it

    def temporary() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("blast_sed_filters_*"))

    before = temporary()
    training_set = simulate_training_set(600, seed=5, n_workers=2)
    assert len(training_set) == 600
    assert temporary() - before == set()
    cached = sorted(p.name for p in (tmp_path / "blast-pipeline").iterdir())
    assert len(cached) == 1 and cached[0].startswith("sed-filters-")


def test_filter_folder_is_written_once_and_survives_a_lost_race(tmp_path, monkeypatch):
    import shutil

    from blast_pipeline.science.sed import forward

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = forward._filter_dir.__wrapped__()
    assert first.parent == tmp_path / "blast-pipeline"
    assert sorted(p.name for p in first.iterdir()) == sorted(f"{n}.txt" for n in FILTER_NAMES)
    assert forward._filter_dir.__wrapped__() == first  # found, not written again
    shutil.rmtree(first)
    # another process renames its copy into place while this one writes: its folder is kept
    rename = Path.rename

    def racing(self, target):
        shutil.copytree(self, target)
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", racing)
    assert forward._filter_dir.__wrapped__() == first
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no staging left
    assert len(list(first.iterdir())) == len(FILTER_NAMES)
