"""Shared helpers for the simulated-sky tests: small skies and transient look-ups."""

from __future__ import annotations

from pathlib import Path

from blast_pipeline.sources.sky import SimulatedSky

TEST_SEED = 42
TEST_FOV_ARCSEC = 90.0
TEST_COUNT = 60


def make_sky(root: Path, count: int = TEST_COUNT, seed: int = TEST_SEED) -> SimulatedSky:
    sky = SimulatedSky(root, seed=seed, fov_arcsec=TEST_FOV_ARCSEC)
    sky.generate(count)
    return sky


def first(sky: SimulatedSky, predicate) -> str:
    """Name of the first transient whose field satisfies ``predicate`` (fails if none)."""
    for transient in sky.transients():
        if predicate(sky.field(transient.name)):
            return transient.name
    raise AssertionError("no simulated transient satisfies the test's condition")
