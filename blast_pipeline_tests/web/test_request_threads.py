"""The web app runs requests' blocking work on a configured number of threads
(``BLAST_API_THREADS``; default 2 on SQLite, whose driver releases the GIL at every row, and
Starlette's 40 on PostgreSQL)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from blast_pipeline.resources import ConfigurationError
from blast_pipeline.web.app import (
    SQLITE_REQUEST_THREADS,
    STARLETTE_REQUEST_THREADS,
    create_app,
    request_threads_from_env,
)


def _app_with_a_slow_sync_route(**kwargs):
    """The app plus one plain ``def`` route that records how many of its calls overlap."""
    app = create_app(**kwargs)
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    @app.get("/_slow")
    def slow() -> int:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return 0

    return app, state


@pytest.mark.parametrize("threads", [1, SQLITE_REQUEST_THREADS, 5])
def test_blocking_work_never_runs_on_more_threads_than_configured(threads, monkeypatch):
    monkeypatch.setenv("BLAST_API_THREADS", str(threads))
    app, state = _app_with_a_slow_sync_route()
    with TestClient(app) as client, ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda _: client.get("/_slow").status_code, range(24)))
    assert replies == [200] * 24
    assert state["most"] == threads


def test_the_default_follows_the_database_and_the_environment_overrides_it(monkeypatch):
    monkeypatch.delenv("BLAST_API_THREADS", raising=False)
    monkeypatch.setenv("BLAST_DATABASE_URL", "sqlite:////nonexistent/blast.sqlite")
    assert create_app().state.request_threads == SQLITE_REQUEST_THREADS
    monkeypatch.setenv("BLAST_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    assert create_app().state.request_threads == STARLETTE_REQUEST_THREADS
    assert request_threads_from_env("postgresql://x") == STARLETTE_REQUEST_THREADS
    monkeypatch.setenv("BLAST_API_THREADS", "7")
    assert create_app().state.request_threads == 7
    assert create_app(request_threads=3).state.request_threads == 3  # the argument wins


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "BLAST_API_THREADS must be >= 1, got 0"),
        ("-1", "BLAST_API_THREADS must be >= 1, got -1"),
        ("two", "BLAST_API_THREADS must be an integer, got 'two'"),
        ("1.5", "BLAST_API_THREADS must be an integer, got '1.5'"),
        ("\u0661", "BLAST_API_THREADS must be an integer, got '\u0661'"),  # Arabic-Indic one
    ],
)
def test_a_bad_thread_count_is_one_clear_error(raw, message, monkeypatch):
    monkeypatch.setenv("BLAST_API_THREADS", raw)
    with pytest.raises(ConfigurationError) as error:
        create_app()
    assert str(error.value) == message
