"""The SED tasks' engine on the real shipped posterior and bagpipes model (not a stand-in)."""

from __future__ import annotations

import numpy as np

from blast_pipeline.science.sed import get_sed_model
from blast_pipeline.science.sed_inputs import SEDInput
from blast_pipeline.tasks.sed_inference import default_sed_engine

THETA = np.array([10.3, 0.6, 0.2, -0.3, 0.4, -2.5])
FILTERS = ("PanSTARRS_g", "PanSTARRS_r", "PanSTARRS_i", "PanSTARRS_z", "WISE_W1")


def test_real_engine_recovers_the_mass_of_a_model_galaxy():
    z = 0.05
    flux = get_sed_model().photometry(THETA, z, FILTERS)
    empty = np.zeros(0)
    sed_input = SEDInput(
        FILTERS, np.ones(len(FILTERS)), flux, 0.05 * flux, (), empty, empty, empty,
        np.zeros(len(FILTERS)),
    )  # fmt: skip
    fit = default_sed_engine().fit(sed_input, z, "global", seed=1)
    assert fit.model_photometry_ujy.shape == (3, len(FILTERS))
    p16, p84 = np.percentile(fit.quantities["log_mass"], [16, 84])
    assert p84 - p16 < 1.0
    assert fit.sfh.shape[1] == 7
    # the model photometry band brackets the observed fluxes within a factor 2
    assert np.all(fit.model_photometry_ujy[1] / flux < 2) and np.all(
        fit.model_photometry_ujy[1] / flux > 0.5
    )
    assert fit.model.wavelength_angstrom.size == fit.model.p50_ujy.size
