"""SED inference: a bagpipes forward model and an amortised sbi posterior (pure, no Dagster).

Parameters, priors and ranges: ``parameters.py``.  Interface: ``/work/wt/SED_CONTRACT.md``
(see the README's "SED model" section).
"""

from blast_pipeline.science.sed.forward import SEDModel, get_sed_model
from blast_pipeline.science.sed.parameters import SED_QUANTITIES, sfh_bin_edges_gyr
from blast_pipeline.science.sed.posterior import (
    SEDPhotometry,
    SEDPosterior,
    SEDSamples,
    load_default_posterior,
)
from blast_pipeline.science.sed.predict import bagpipes_fit_instructions, model_sed_band

__all__ = [
    "SED_QUANTITIES",
    "SEDModel",
    "SEDPhotometry",
    "SEDPosterior",
    "SEDSamples",
    "bagpipes_fit_instructions",
    "get_sed_model",
    "load_default_posterior",
    "model_sed_band",
    "sfh_bin_edges_gyr",
]
