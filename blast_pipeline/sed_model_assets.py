"""The SED model as Dagster assets (group ``sed_model``, not partitioned; no ``from __future__
import annotations``: Dagster reads the parameter annotations).

``sed_training_set`` simulates seeded bagpipes photometry in parallel over the cores;
``sed_posterior`` trains the sbi posterior on it and attaches its calibration report (coverage of
the 68 % and 95 % intervals per quantity, median errors on held-out simulations) as metadata.
Two asset checks fail when the 68 % coverage of log M* or log SFR leaves 0.60-0.76. With the
default config, materialising both reproduces the posterior shipped in
``blast_pipeline/science/sed/data/`` (same seeds, same settings).
"""

import time
from pathlib import Path

import dagster as dg

from blast_pipeline.resources import BlastResource
from blast_pipeline.science.sed.posterior import SEDPosterior
from blast_pipeline.science.sed.simulate import TrainingSet, simulate_training_set
from blast_pipeline.science.sed.training import TrainingSettings, train_posterior

SED_MODEL_GROUP = "sed_model"
#: The accepted 68 % coverage of log M* and log SFR on held-out simulations.
COVERAGE68_RANGE = (0.60, 0.76)
#: Quantities whose coverage the asset checks guard.
CHECKED_QUANTITIES = ("log_mass", "log_sfr")


class SEDTrainingSetConfig(dg.Config):
    """Simulations of the training set (defaults: the shipped posterior's)."""

    n_simulations: int = 100_000
    seed: int = 1
    n_workers: int = 0  # 0: all cores


class SEDPosteriorConfig(dg.Config):
    """Network training (defaults: the shipped posterior's, see ``TrainingSettings``)."""

    seed: int = TrainingSettings.seed
    epochs: int = TrainingSettings.epochs
    n_holdout: int = TrainingSettings.n_holdout


def sed_model_dir(blast: BlastResource) -> Path:
    """Where the SED model assets are written: ``$BLAST_HOME/sed_model``."""
    return Path(blast.home).expanduser().resolve() / "sed_model"


def coverage_check(report: dict, quantity: str) -> dg.AssetCheckResult:
    """Pass when the 68 % coverage of ``quantity`` lies in ``COVERAGE68_RANGE``."""
    coverage = float(report["quantities"][quantity]["coverage68"])
    lo, hi = COVERAGE68_RANGE
    return dg.AssetCheckResult(
        passed=lo <= coverage <= hi,
        metadata={"coverage68": round(coverage, 4), "accepted": f"{lo}-{hi}"},
        description=f"68 % interval coverage of {quantity} on held-out simulations",
    )


def calibration_markdown(report: dict) -> str:
    """The calibration report as a Markdown table (one row per quantity)."""
    rows = [
        "| quantity | 68 % cov | 95 % cov | median abs err | median 1σ width |",
        "|---|---|---|---|---|",
    ]
    for name, q in report["quantities"].items():
        rows.append(
            f"| {name} | {q['coverage68']:.3f} | {q['coverage95']:.3f} | "
            f"{q['median_abs_error']:.3f} | {q['median_width68']:.3f} |"
        )
    return "\n".join(rows)


@dg.asset(group_name=SED_MODEL_GROUP, kinds={"bagpipes"})
def sed_training_set(config: SEDTrainingSetConfig, blast: BlastResource) -> dg.MaterializeResult:
    """Seeded bagpipes simulations (theta, redshift, noiseless µJy in 24 bands) as an .npz file."""
    start = time.monotonic()
    training_set = simulate_training_set(
        config.n_simulations, config.seed, config.n_workers or None
    )
    path = sed_model_dir(blast) / "sed_training_set.npz"
    training_set.save(path)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "n_simulations": len(training_set),
            "seed": config.seed,
            "seconds": round(time.monotonic() - start, 1),
        }
    )


@dg.asset(
    group_name=SED_MODEL_GROUP,
    deps=[sed_training_set],
    kinds={"pytorch"},
    check_specs=[
        dg.AssetCheckSpec(f"coverage68_{name}", asset="sed_posterior")
        for name in CHECKED_QUANTITIES
    ],
)
def sed_posterior(config: SEDPosteriorConfig, blast: BlastResource):
    """The sbi neural posterior trained on ``sed_training_set``, with its calibration report."""
    directory = sed_model_dir(blast)
    training_set = TrainingSet.load(directory / "sed_training_set.npz")
    settings = TrainingSettings(seed=config.seed, epochs=config.epochs, n_holdout=config.n_holdout)
    posterior = train_posterior(training_set, settings)
    path = directory / "sed_posterior.pt"
    posterior.save(path)
    report = posterior.report
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "version": posterior.version,
            "calibration": dg.MetadataValue.md(calibration_markdown(report)),
            "coverage68_log_mass": report["coverage68_log_mass"],
            "coverage68_log_sfr": report["coverage68_log_sfr"],
            "median_abs_error_log_mass": report["median_abs_error_log_mass"],
            "median_abs_error_log_sfr": report["median_abs_error_log_sfr"],
            "train_seconds": round(report["training"]["train_seconds"], 1),
        }
    )
    for name in CHECKED_QUANTITIES:
        result = coverage_check(report, name)
        yield dg.AssetCheckResult(
            check_name=f"coverage68_{name}",
            passed=result.passed,
            metadata=result.metadata,
            description=result.description,
        )


def load_trained_posterior(blast: BlastResource) -> SEDPosterior:
    """The posterior last materialised in this BLAST_HOME."""
    return SEDPosterior.load(sed_model_dir(blast) / "sed_posterior.pt")


SED_MODEL_ASSETS = [sed_training_set, sed_posterior]
