"""The ``sed_model`` assets materialise, carry the calibration report, and their checks can fail."""

from __future__ import annotations

import dagster as dg

from blast_pipeline.resources import BlastResource
from blast_pipeline.sed_model_assets import (
    SED_MODEL_ASSETS,
    calibration_markdown,
    coverage_check,
    load_trained_posterior,
)


def _report(coverage: float) -> dict:
    q = {"coverage68": coverage, "coverage95": 0.95, "median_abs_error": 0.1, "median_width68": 0.2}
    return {"quantities": {"log_mass": q, "log_sfr": dict(q)}}


def test_coverage_check_accepts_only_the_calibrated_range():
    assert coverage_check(_report(0.68), "log_mass").passed
    assert not coverage_check(_report(0.55), "log_mass").passed
    assert not coverage_check(_report(0.80), "log_sfr").passed
    assert "| log_mass | 0.680 |" in calibration_markdown(_report(0.68))


def test_materialising_the_sed_model_assets(tmp_path):
    config = {
        "ops": {
            "sed_training_set": {"config": {"n_simulations": 1500, "seed": 3, "n_workers": 1}},
            "sed_posterior": {"config": {"epochs": 1, "n_holdout": 300}},
        }
    }
    result = dg.materialize(
        SED_MODEL_ASSETS,
        resources={"blast": BlastResource(home=str(tmp_path))},
        run_config=config,
    )
    assert result.success
    metadata = result.asset_materializations_for_node("sed_posterior")[0].metadata
    assert 0.0 <= metadata["coverage68_log_mass"].value <= 1.0
    assert "log_sfr" in metadata["calibration"].value
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"coverage68_log_mass", "coverage68_log_sfr"}
    for name, evaluation in checks.items():
        coverage = evaluation.metadata["coverage68"].value
        assert evaluation.passed == (0.60 <= coverage <= 0.76), name
    posterior = load_trained_posterior(BlastResource(home=str(tmp_path)))
    assert posterior.version.startswith("bagpipes1.3.6")
