"""Fixtures for the simulated-sky tests: one small sky shared by the whole folder."""

from __future__ import annotations

import pytest
from sky_fixtures import make_sky


@pytest.fixture(scope="session")
def small_sky(tmp_path_factory):
    """60 transients, seed 42, 90 arcsec fields (read-only for tests)."""
    return make_sky(tmp_path_factory.mktemp("small_sky"))
