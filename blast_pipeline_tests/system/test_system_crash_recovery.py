"""kill -9 of ``blast-pipeline process``, and of a run worker of ``dagster-daemon run`` (the
default run launcher's subprocess), in the middle of a batch and of a task (SQLite: batch
runs; PostgreSQL: one run per transient): the next sweep fails the dead run from its silent
heartbeat and retriggers its transients from their stalled tasks; every transient ends
completed or blocked, with no duplicate or contradictory rows, within a bounded time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import text

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase
from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.system.consistency import check_consistency
from blast_pipeline.system.runs import transients_of_run
from blast_pipeline.tasks import TASK_RUNNERS

ROOT = Path(__file__).resolve().parents[2]
#: From the kill to every transient finished, on a loaded 2-core machine.
RECOVERY_BOUND_SECONDS = 180


def _count(database: BlastDatabase, status: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM task_register r JOIN statuses s ON r.status_id = s.id "
                "WHERE s.message = :m"
            ),
            {"m": status},
        ).scalar()


@pytest.mark.slow
def test_kill_9_mid_task_recovers_without_an_operator(monkeypatch, tmp_path, database_url):
    batch = database_url.startswith("sqlite")  # SQLite: batch runs; PostgreSQL: per transient
    env = {
        "BLAST_HOME": str(tmp_path / "home"),
        "BLAST_DATABASE_URL": database_url,
        "BLAST_CUTOUT_FOV_ARCSEC": "120",
        "BLAST_WORKFLOW_BATCH_SIZE": "20" if batch else "1",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BLAST_HEARTBEAT_INTERVAL_SECONDS": "0.5",
        "BLAST_HEARTBEAT_TIMEOUT_SECONDS": "4",
        "BLAST_LAUNCH_GRACE_SECONDS": "4",
    }
    (tmp_path / "dagster").mkdir()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["simulate", "3", "--seed", "11"]) == 0
    database = BlastDatabase(database_url)
    child = subprocess.Popen(
        [sys.executable, "-m", "blast_pipeline.cli", "process"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # mid-batch (first transient done) or mid-run, and in the middle of a task
    needed = 14 if batch else 5
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        if _count(database, "processed") >= needed and _count(database, "processing") >= 1:
            break
        time.sleep(0.05)
    assert child.poll() is None, "the process finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed_at = time.monotonic()
    assert _count(database, "processing") >= 1  # what the kill left behind

    # what the daemon's retrigger schedule and sensor do (here: `blast-pipeline process`)
    blast = blast_resource_from_env(resolve=True)
    defs = build_definitions(TASK_RUNNERS, blast)
    with dg.DagsterInstance.get() as instance:
        recovered = None
        while time.monotonic() - killed_at < RECOVERY_BOUND_SECONDS:
            summary = process_pending(defs, instance)
            if summary.recovered:
                recovered = summary.recovered
            with database.session() as session:
                report = check_consistency(session, Path(env["BLAST_HOME"]) / "data")
            if not report.unfinished:
                break
            time.sleep(1)
        elapsed = time.monotonic() - killed_at
        assert not report.unfinished, f"still unfinished after {elapsed:.0f} s: {report}"
        assert recovered and "1 dead run(s) failed" in recovered
        failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert len(failed) == 1  # the killed run, marked failed from its silent heartbeat
        live = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert live == []
    assert report.transients == 3
    assert report.duplicates == [] and report.contradictions == [] and report.lost == []
    assert _count(database, "processing") == 0
    database.dispose()


#: Daemon path: the retrigger schedule ticks every 120 s, then the sensor relaunches the run,
#: which redoes the stalled tasks (the SED fits are minutes on a machine loaded ~20 on 2 cores).
DAEMON_RECOVERY_BOUND_SECONDS = 900


def _instance_yaml(dagster_home: Path) -> str:
    """The project's dagster.yaml (queued runs, pools, run monitoring) with its storage here."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(dagster_home / "storage")}}
    config["local_artifact_storage"]["config"]["base_dir"] = str(dagster_home / "storage")
    config["compute_logs"]["config"]["base_dir"] = str(dagster_home / "compute_logs")
    return yaml.safe_dump(config)


def _run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the run's worker, from the launcher's "Started process for run" event."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if record.message.startswith("Started process for run"):
            return int(record.dagster_event.engine_event_data.metadata["pid"].value)
    return None


def _stop(daemon: subprocess.Popen) -> None:
    """Terminate the daemon, then what is left of its process group (code server, workers)."""
    if daemon.poll() is None:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=10)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(daemon.pid, sig)
        except ProcessLookupError:
            break
        time.sleep(1)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # daemon start-up, the first run, the recovery bound
def test_kill_9_of_a_daemon_run_worker_recovers_by_itself(monkeypatch, tmp_path, database_url):
    """``dagster-daemon run`` as deployed (default run launcher: one subprocess per run):
    SIGKILL of the run worker in the middle of a task. Nothing else is called: the run is
    marked failed (by its code server, which sees the process die, else by the retrigger sweep
    from its silent heartbeat), the daemon's retrigger schedule retriggers its transients, its
    sensor launches them again, and they all finish within the stated bound."""
    batch = database_url.startswith("sqlite")  # SQLite: a batch run; PostgreSQL: per transient
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(_instance_yaml(dagster_home))
    env = {
        "BLAST_HOME": str(tmp_path / "home"),
        "BLAST_DATABASE_URL": database_url,
        "BLAST_CUTOUT_FOV_ARCSEC": "120",
        "BLAST_WORKFLOW_BATCH_SIZE": "20" if batch else "1",
        "DAGSTER_HOME": str(dagster_home),
        "BLAST_HEARTBEAT_INTERVAL_SECONDS": "0.5",
        "BLAST_HEARTBEAT_TIMEOUT_SECONDS": "4",
        "BLAST_LAUNCH_GRACE_SECONDS": "4",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["simulate", "3", "--seed", "11"]) == 0
    database = BlastDatabase(database_url)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log, dg.DagsterInstance.get() as instance:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            run_id = pid = None
            deadline = time.monotonic() + 600  # daemon start-up on a loaded machine
            while time.monotonic() < deadline and daemon.poll() is None:
                running = [
                    r
                    for r in instance.get_runs(
                        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
                    )
                    if transients_of_run(r.tags)  # a workflow run, not a system job
                ]
                if (
                    running
                    and _count(database, "processing") >= 1
                    and _count(database, "processed") >= (3 if batch else 2)
                ):
                    run_id = running[0].run_id
                    pid = _run_worker_pid(instance, run_id)
                    if pid:
                        break
                time.sleep(0.1)
            assert pid, f"no workflow run to kill; daemon log:\n{log_path.read_text()[-3000:]}"
            assert pid not in (daemon.pid, os.getpid())
            # kill in the middle of a task (between two tasks nothing is "processing")
            while _count(database, "processing") == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            with database.session() as session:  # what the kill left behind
                assert check_consistency(session, Path(env["BLAST_HOME"]) / "data").unfinished

            report = None
            while time.monotonic() - killed_at < DAEMON_RECOVERY_BOUND_SECONDS:
                with database.session() as session:
                    report = check_consistency(session, Path(env["BLAST_HOME"]) / "data")
                if not report.unfinished and _count(database, "processing") == 0:
                    break
                time.sleep(2)
            elapsed = time.monotonic() - killed_at
            assert report is not None and not report.unfinished, (
                f"still unfinished {elapsed:.0f} s after the kill: {report}\n"
                f"{log_path.read_text()[-3000:]}"
            )
            print(f"recovered {elapsed:.0f} s after the kill of run worker {pid}")
            # failed by the code server that launched the worker (it saw the process die) or by
            # the retrigger sweep (silent heartbeat, e.g. the code server died with it)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            reasons = [
                e.message
                for e in instance.all_logs(run_id)
                if any(k in e.message for k in ("heartbeat silent", "signal 9", "SIGKILL"))
            ]
            assert reasons, [e.message for e in instance.all_logs(run_id)][-5:]
            print(*reasons, sep="\n")
        finally:
            _stop(daemon)
    assert report.transients == 3
    assert report.duplicates == [] and report.contradictions == [] and report.lost == []
    database.dispose()
