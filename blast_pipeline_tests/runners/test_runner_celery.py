"""Steps on a real Celery worker with the local Redis as broker, routed by queue."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from blast_pipeline.db.task_register import initialise_registers, task_statuses
from blast_pipeline.db.transients import NewTransient, add_transient, get_transient
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline_tests.runners.toy_runners import toy_registry

ROOT = Path(__file__).resolve().parents[2]


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
        return True
    except OSError:
        return False


def _celery_setup(tmp_path, monkeypatch, name: str):
    """Broker databases, a Dagster instance, the toy registry's database with ``name``."""
    if not _redis_up():
        pytest.skip("Redis at 127.0.0.1:6379 cannot be reached; the Celery broker test needs it")
    db = 7 + uuid.uuid4().int % 4 * 2
    broker, backend = f"redis://127.0.0.1:6379/{db}", f"redis://127.0.0.1:6379/{db + 1}"
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        f"storage:\n  sqlite:\n    base_dir: {dagster_home / 'storage'}\ntelemetry:\n  enabled: false\n"
    )
    celery_yaml = tmp_path / "celery.yaml"
    celery_yaml.write_text(f"execution:\n  config:\n    broker: {broker}\n    backend: {backend}\n")
    env = {
        **os.environ,
        "BLAST_TEST_CELERY_BROKER": broker,
        "BLAST_TEST_CELERY_BACKEND": backend,
        "BLAST_TEST_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    for key in ("BLAST_TEST_CELERY_BROKER", "BLAST_TEST_CELERY_BACKEND", "BLAST_TEST_HOME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))

    blast = BlastResource(home=str(home), sky="none")
    graph = WorkflowGraph.from_runners(toy_registry())
    with blast.services().database.session() as session:
        transient = add_transient(session, NewTransient(name, 10.0, 5.0))
        initialise_registers(session, transient, graph.task_names)

    # the instance's SQLite storage exists before the worker opens it (no creation race)
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("transients", [name])
    return env, celery_yaml, blast


def _start_worker(tmp_path, env, celery_yaml, queues: str, label: str) -> subprocess.Popen:
    """A dagster-celery worker consuming ``queues`` (comma list); ``label`` is what the toy
    "sed" step reports as its worker."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(celery_yaml),
            "-n",
            f"blast-test-{label}-{uuid.uuid4().hex[:8]}",
            # one -q with a comma list: dagster-celery turns repeated -q into repeated -Q, and
            # Celery keeps only the last of those
            "-q",
            queues,
        ],
        cwd=ROOT,
        env={**env, "BLAST_TEST_WORKER": label},
        stdout=(tmp_path / f"worker-{label}.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_workflow_steps_run_on_a_celery_worker(tmp_path, monkeypatch):
    env, celery_yaml, blast = _celery_setup(tmp_path, monkeypatch, "2024celery")
    worker = _start_worker(tmp_path, env, celery_yaml, "dagster,sed", "both")
    try:
        with dg.DagsterInstance.get() as instance:
            from blast_pipeline_tests.runners.celery_defs import workflow_job

            result = dg.execute_job(
                dg.reconstructable(workflow_job),
                instance,
                tags={"dagster/partition": "2024celery"},
            )
            assert result.success
            engine = [e.message for e in result.all_events if e.event_type_value == "ENGINE_EVENT"]
            assert any("celery" in (m or "").lower() for m in engine)
    finally:
        _stop_worker(worker)
    with blast.services().database.session() as session:
        statuses = task_statuses(session, get_transient(session, "2024celery"))
    assert set(statuses.values()) == {"processed"}  # the "sed"-queue step ran too
