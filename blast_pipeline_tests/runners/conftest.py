"""Fixtures of the runner tests: a Dagster test instance and the toy registry's Blast resource
(SQLite and PostgreSQL), one run per transient or batches of two."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from blast_pipeline.resources import BlastResource


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def blast(tmp_path, database_url) -> BlastResource:
    """One run per transient (batch mode: ``batch_blast``)."""
    return BlastResource(
        home=str(tmp_path), database_url=database_url, sky="none", workflow_batch_size=1
    )


@pytest.fixture
def batch_blast(tmp_path, database_url) -> BlastResource:
    return BlastResource(
        home=str(tmp_path), database_url=database_url, sky="none", workflow_batch_size=2
    )
