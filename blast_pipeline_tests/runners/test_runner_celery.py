"""Steps on real Celery workers with the local Redis as broker, routed by queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest
from sqlalchemy import func, select

from blast_pipeline.db.models import Alias, TaskRegister
from blast_pipeline.db.task_register import initialise_registers, task_statuses
from blast_pipeline.db.transients import NewTransient, add_transient, get_transient
from blast_pipeline.definitions import celery_config_source
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline_tests.celery_workers import (
    ROOT,
    celery_workers,  # noqa: F401 - fixture
    flush_redis,
    redis_queue_length,
    redis_urls,
    wait_for,
    worker_env,
    write_celery_yaml,
)
from blast_pipeline_tests.runners.toy_runners import ToyPhotometry, toy_registry


@pytest.fixture
def toy_celery(tmp_path, monkeypatch, celery_workers):  # noqa: F811
    """Broker databases, a Dagster instance, the toy registry's database; yields
    ``(workers, blast, broker)``."""
    broker, backend = redis_urls()
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        f"storage:\n  sqlite:\n    base_dir: {dagster_home / 'storage'}\ntelemetry:\n  enabled: false\n"
    )
    env = worker_env(
        {
            "BLAST_TEST_CELERY_BROKER": broker,
            "BLAST_TEST_CELERY_BACKEND": backend,
            "BLAST_TEST_HOME": str(home),
            "DAGSTER_HOME": str(dagster_home),
        }
    )
    for key in ("BLAST_TEST_CELERY_BROKER", "BLAST_TEST_CELERY_BACKEND", "BLAST_TEST_HOME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    # the instance's SQLite storage exists before a worker opens it (no creation race)
    dg.DagsterInstance.get().dispose()
    celery_yaml = write_celery_yaml(
        tmp_path / "celery.yaml",
        broker,
        backend,
        # loaded before the pool forks: a worker's first step does not pay the imports
        include=("blast_pipeline_tests.runners.celery_defs",),
        **celery_config_source(env),
    )
    workers = celery_workers(env, celery_yaml)
    yield workers, BlastResource(home=str(home), sky="none"), broker
    workers.stop_all()
    flush_redis(broker)
    flush_redis(backend)


def _start_run(workers, tmp_path, name: str, *job: str) -> subprocess.Popen:
    """A workflow run of the toy job on the Celery executor, in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "blast_pipeline_tests.runners.celery_defs", name, *job],
        cwd=ROOT,
        env=workers.env,
        stdout=(tmp_path / "run.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def _add(blast: BlastResource, name: str) -> None:
    graph = WorkflowGraph.from_runners(toy_registry())
    with blast.services().database.session() as session:
        transient = add_transient(session, NewTransient(name, 10.0, 5.0))
        initialise_registers(session, transient, graph.task_names)
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("transients", [name])


def _statuses(blast: BlastResource, name: str) -> dict[str, str]:
    with blast.services().database.session() as session:
        return task_statuses(session, get_transient(session, name))


def _workers_of(instance: dg.DagsterInstance, asset: str) -> set[str]:
    """The ``worker`` metadata of the asset's materialisations (set by the toy "sed" step)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=10).records
    return {r.asset_materialization.metadata["worker"].value for r in records}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_workflow_steps_run_on_a_celery_worker(toy_celery):
    workers, blast, _ = toy_celery
    _add(blast, "2024celery")
    workers.start("dagster,sed", "both")
    with dg.DagsterInstance.get() as instance:
        from blast_pipeline_tests.runners.celery_defs import workflow_job

        result = dg.execute_job(
            dg.reconstructable(workflow_job), instance, tags={"dagster/partition": "2024celery"}
        )
        assert result.success, workers.logs()
        engine = [e.message for e in result.all_events if e.event_type_value == "ENGINE_EVENT"]
        assert any("celery worker" in (m or "").lower() for m in engine)
    assert set(_statuses(blast, "2024celery").values()) == {"processed"}  # the "sed" step too


def test_the_toy_sed_step_is_routed_as_the_real_sed_tasks(tmp_path):
    """The queue test below relies on the project's own routing: the tag compile puts on the
    real SED steps is the tag of the toy step."""
    from blast_pipeline.definitions import build_definitions
    from blast_pipeline.tasks import TASK_RUNNERS
    from blast_pipeline.tasks.sed_inference import GlobalHostSEDFitting

    def tags(runners, asset):
        defs = build_definitions(runners, BlastResource(home=str(tmp_path), sky="none"))
        job = defs.resolve_job_def("transient_workflow")
        return {k: v for k, v in job.graph.node_dict[asset].definition.tags.items() if "queue" in k}

    real = tags(TASK_RUNNERS, GlobalHostSEDFitting().asset_name)
    assert ToyPhotometry.queue == GlobalHostSEDFitting.queue == "sed"
    assert tags(toy_registry(), ToyPhotometry().asset_name) == real
    assert real["dagster-celery/queue"] == "sed"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_sed_step_waits_for_a_worker_of_the_sed_queue(toy_celery, tmp_path):
    workers, blast, broker = toy_celery
    name = "2024sedqueue"
    sed_step = ToyPhotometry().asset_name
    _add(blast, name)
    workers.start("dagster", "dagster")
    run = _start_run(workers, tmp_path, name)
    try:
        # the steps before it ran on the dagster worker; the SED step's message waits in `sed`
        wait_for(
            lambda: redis_queue_length(broker, "sed") == 1,
            420,  # the run process's imports and first steps take minutes on a loaded machine
            what="the SED step in the broker's `sed` queue",
            on_timeout=workers.logs,
        )
        assert _statuses(blast, name)["Host match"] == "processed"
        waited = time.monotonic() + 15
        while time.monotonic() < waited:
            assert _statuses(blast, name)["Validate local photometry"] == "not processed"
            assert run.poll() is None
            time.sleep(1)
        assert redis_queue_length(broker, "sed") == 1  # nobody took it

        workers.start("sed", "sed")
        assert run.wait(timeout=300) == 0, (tmp_path / "run.log").read_text() + workers.logs()
    finally:
        if run.poll() is None:
            run.kill()
    assert set(_statuses(blast, name).values()) == {"processed"}
    with dg.DagsterInstance.get() as instance:
        assert _workers_of(instance, sed_step) == {"sed"}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_worker_killed_mid_task_is_replaced_and_the_step_runs_again(toy_celery, tmp_path):
    """SIGKILL of a whole worker (main process and pool) while a step runs: the message was not
    acknowledged (acks late), the broker gives it to the next worker after the visibility
    timeout, the step re-claims its task; no half-written or duplicated rows, the run succeeds."""
    from blast_pipeline_tests.runners.celery_defs import BLOCK_MARKER

    workers, blast, _ = toy_celery
    # a killed worker's step goes back to the queue after 90 s (production: 4000 s); longer
    # than any toy step on this loaded machine (a worker's first step can take 40 s), or a
    # step still running would be delivered twice
    workers.env["BLAST_CELERY_VISIBILITY_TIMEOUT_SECONDS"] = "90"
    broker, backend = (
        workers.env["BLAST_TEST_CELERY_BROKER"],
        workers.env["BLAST_TEST_CELERY_BACKEND"],
    )
    write_celery_yaml(
        workers.celery_yaml,
        broker,
        backend,
        include=("blast_pipeline_tests.runners.celery_defs",),
        **celery_config_source(workers.env),
    )
    name = "2024killed"
    _add(blast, name)
    root = blast.services().data_root
    (root / BLOCK_MARKER).write_text("")
    first = workers.start("dagster,sed", "first")
    run = _start_run(workers, tmp_path, name, "blocking")
    try:
        wait_for(
            lambda: (root / "blocked").exists(),
            420,
            what="the blocking step to start",
            on_timeout=workers.logs,
        )
        assert _statuses(blast, name)["Host match"] == "processing"
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(timeout=10)
        (root / BLOCK_MARKER).unlink()
        # the dead delivery's work: the claim only (row and status roll back with its transaction)
        with blast.services().database.session() as session:
            assert session.scalar(select(func.count()).select_from(Alias)) == 0
        workers.start("dagster,sed", "second")
        assert run.wait(timeout=300) == 0, (tmp_path / "run.log").read_text() + workers.logs()
        recovery = time.monotonic() - killed_at
    finally:
        if run.poll() is None:
            run.kill()
    print(f"recovered {recovery:.0f} s after the kill")
    assert set(_statuses(blast, name).values()) == {"processed"}
    with blast.services().database.session() as session:
        aliases = session.scalars(select(Alias.alias)).all()
        claims = session.scalars(select(TaskRegister.claim).where(TaskRegister.claim.is_not(None)))
        assert aliases == [f"{name}-alias"] and list(claims) == []
    assert (root / "aliases" / f"{name}.txt").read_text() == "whole"
