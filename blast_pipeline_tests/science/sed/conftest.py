"""A tiny training set and posterior shared by the SED tests (trained once per session)."""

from __future__ import annotations

import pytest

from blast_pipeline.science.sed.simulate import TrainingSet, simulate_training_set
from blast_pipeline.science.sed.training import TrainingSettings, train_posterior

TINY = TrainingSettings(epochs=2, n_holdout=300, n_calibration_samples=200)


@pytest.fixture(scope="session")
def tiny_training_set() -> TrainingSet:
    return simulate_training_set(1500, seed=3, n_workers=1)


@pytest.fixture(scope="session")
def tiny_posterior(tiny_training_set):
    return train_posterior(tiny_training_set, TINY)
