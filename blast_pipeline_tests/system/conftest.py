"""Fixtures for the system-task tests: the registry's definitions, a Blast database (SQLite and
PostgreSQL), a Dagster test instance, the fake TNS server with credentials in the environment."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from blast_pipeline.definitions import defs as registry_defs
from blast_pipeline.resources import BlastResource
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline_tests.sources.fake_tns import FakeTNSServer
from blast_pipeline_tests.system.system_helpers import API_KEY


@pytest.fixture
def defs() -> dg.Definitions:
    return registry_defs


@pytest.fixture
def blast(tmp_path, database_url) -> BlastResource:
    return BlastResource(home=str(tmp_path), database_url=database_url, sky="none")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def tns(monkeypatch) -> Iterator[FakeTNSServer]:
    """The fake TNS server, with the bot credentials and its URL in the environment."""
    with FakeTNSServer(api_key=API_KEY, bot_name="blast_bot", bot_id=777) as server:
        monkeypatch.setenv("TNS_BOT_API_KEY", API_KEY)
        monkeypatch.setenv("TNS_BOT_NAME", "blast_bot")
        monkeypatch.setenv("TNS_BOT_ID", "777")
        monkeypatch.setenv("TNS_BASE_URL", server.base_url)
        yield server


@pytest.fixture
def no_sleep(monkeypatch) -> list[float]:
    """Replace the TNS runners' sleep; returns the list of requested waits."""
    waits: list[float] = []
    for runner in TASK_RUNNERS:
        if hasattr(runner, "sleep"):
            monkeypatch.setattr(runner, "sleep", waits.append)
    return waits


@pytest.fixture
def blast_sqlite(tmp_path) -> BlastResource:
    """SQLite only: for tests of HTTP and orchestration behaviour, not of the database."""
    url = f"sqlite:///{tmp_path / 'blast.sqlite'}"
    return BlastResource(home=str(tmp_path), database_url=url, sky="none")
