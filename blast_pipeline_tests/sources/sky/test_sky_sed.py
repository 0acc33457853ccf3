"""The sky's SPS: fluxes equal bagpipes called directly, truth files carry the SED, colours."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blast_pipeline.science.filters import FILTERS
from blast_pipeline.sources.sky.galaxies import draw_properties
from blast_pipeline.sources.sky.sed import galaxy_band_flux, galaxy_seds
from blast_pipeline.sources.sky.sfh import fine_sfr
from blast_pipeline.sources.sky.sps_grid import _bagpipes_components, bagpipes_model, load_grid

INDEX = {spec.name: i for i, spec in enumerate(FILTERS)}
SED_KEYS = {"log_mass", "log_sfr", "log_ssfr", "log_age", "log_z", "av", "sfh_bin_edges_gyr", "sfh"}


def test_band_fluxes_equal_bagpipes_called_directly(small_sky):
    grid = load_grid()
    galaxies = [g for t in small_sky.transients()[:3] for g in small_sky.field(t.name).galaxies[:2]]
    model = None
    for galaxy in galaxies:
        history = galaxy.sfh
        sfr = fine_sfr(np.array([history.edges_yr]), np.array([history.sfr]), grid)[0]
        table = np.column_stack([grid.fine_ages, sfr])
        components = _bagpipes_components(history.redshift, 10**history.log_z, table, history.av)
        components["custom"]["massformed"] = np.log10(np.sum(sfr * grid.fine_widths))
        if model is None:
            model = bagpipes_model(table)
        model.update(components)
        assert np.allclose(galaxy.flux_no_mw_ujy, model.photometry, rtol=1e-6, atol=0)
        assert model.sfh.stellar_mass == pytest.approx(galaxy.log_stellar_mass, abs=1e-6)
        assert np.log10(model.sfh.sfr) == pytest.approx(np.log10(galaxy.sfr), abs=0.01)


def test_truth_files_carry_the_sed_quantities(small_sky):
    for transient in small_sky.transients()[:10]:
        truth = json.loads((small_sky.truth_dir / f"{transient.name}.json").read_text())
        if truth["host"] is None:
            continue
        sed = truth["host"]["sed"]
        assert set(sed) >= SED_KEYS and len(sed["sfh"]) == 7 and len(sed["sfh_bin_edges_gyr"]) == 8
        assert sed["log_mass"] == pytest.approx(truth["host"]["log_stellar_mass"])
        assert sed["log_ssfr"] == pytest.approx(sed["log_sfr"] - sed["log_mass"])
        local = truth["host"]["sed_local"]
        if local is not None:
            assert 0 < local["enclosed_light_fraction"] <= 1
            assert local["log_mass"] <= sed["log_mass"] and local["log_ssfr"] == pytest.approx(
                sed["log_ssfr"]
            )
        for neighbour in truth["neighbours"]:
            assert set(neighbour["sed"]) >= SED_KEYS


def test_star_forming_galaxies_are_bluer_than_quiescent_ones():
    rng = np.random.default_rng(1)
    count = 200
    mass, z = np.full(count, 10.4), np.full(count, 0.05)
    quiescent = np.arange(count) < count // 2
    fluxes, histories = galaxy_seds(draw_properties(rng, mass, z, quiescent))
    g_r = -2.5 * np.log10(fluxes[:, INDEX["PanSTARRS_g"]] / fluxes[:, INDEX["PanSTARRS_r"]])
    nuv_r = -2.5 * np.log10(fluxes[:, INDEX["GALEX_NUV"]] / fluxes[:, INDEX["PanSTARRS_r"]])
    assert np.median(g_r[quiescent]) > np.median(g_r[~quiescent]) + 0.15
    assert np.median(nuv_r[quiescent]) > np.median(nuv_r[~quiescent]) + 1.0
    assert np.median(g_r[quiescent]) > 0.6
    ages = np.array([h.truth(10.4)["log_age"] for h in histories])
    assert np.median(ages[quiescent]) > np.median(ages[~quiescent])
    # energy balance: star formation and dust light up W4
    w4_r = fluxes[:, INDEX["WISE_W4"]] / fluxes[:, INDEX["PanSTARRS_r"]]
    assert np.median(w4_r[~quiescent]) > 3 * np.median(w4_r[quiescent])


def test_one_band_flux_equals_that_band_of_the_full_photometry():
    """The mass solve's r-band-only evaluation is the full model's r band; bands that see
    dust emission are refused rather than approximated."""
    grid = load_grid()
    rng = np.random.default_rng(3)
    count = 60
    mass, z = rng.uniform(7.0, 11.5, count), rng.uniform(0.005, 1.5, count)
    props = draw_properties(rng, mass, z, rng.random(count) < 0.3)
    fluxes, _ = galaxy_seds(props)
    for band in ("PanSTARRS_r", "SDSS_g", "DES_r"):
        assert np.allclose(
            galaxy_band_flux(props, INDEX[band]), fluxes[:, INDEX[band]], rtol=1e-12, atol=0
        )
    with pytest.raises(ValueError, match="dust emission"):
        grid.band_flux(
            np.ones((1, *grid.live_frac.shape)), np.ones(1), np.ones(1), INDEX["WISE_W1"]
        )
