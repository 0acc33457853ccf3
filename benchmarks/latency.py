"""Latency: seconds from a transient's insertion into the Blast database to its first task
starting, with ``dagster-daemon run`` doing the work (sensor -> run queue -> run launcher).

A temporary DAGSTER_HOME gets a copy of the project's ``dagster.yaml`` with its storage moved
under the temporary folder; BLAST_HOME is a temporary folder; the cutouts have Blast's
geometry (``--fov``, 360" by default: a transient takes ~3 s, well inside the spacing). The daemon is started from the repository root
(``dagster-daemon run -w workspace.yaml``) and always stopped at the end (terminate, wait, kill
on timeout). Transients of the simulated sky are inserted one at a time, ``--spacing`` seconds
apart, through the same database API as ``blast-pipeline simulate``; for each, the Dagster
event log is polled for the first STEP_START of its run (run tag ``dagster/partition``).

    .venv/bin/python benchmarks/latency.py                 # 5 transients, 20 s apart
    .venv/bin/python benchmarks/latency.py --n 3 --spacing 25 --keep-log /tmp/daemon.log
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import register_transients

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TARGET_S = 30.0


def instance_yaml(dagster_home: Path, overrides: dict | None = None) -> str:
    """The project's dagster.yaml with its storage under ``dagster_home``."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(dagster_home / "storage")}}
    config["local_artifact_storage"]["config"]["base_dir"] = str(dagster_home / "storage")
    for key, value in (overrides or {}).items():
        config[key] = value
    return yaml.safe_dump(config, sort_keys=False)


def stop_daemon(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """Terminate the daemon, wait, kill on timeout; then end what is left of its process group
    (its code server, run workers), which this script started."""
    how = "already exited"
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
            how = "terminated"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            how = "killed after timeout"
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the group led by the daemon (start_new_session=True)
        except ProcessLookupError:
            break
        time.sleep(2)
    return how


def wait_for(predicate, timeout: float, interval: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def wait_for_daemon_ready(daemon: subprocess.Popen, log_path: Path, timeout: float = 180) -> None:
    """Return once the daemon's sensor has finished one evaluation of new_transients_sensor;
    raise if the daemon exits or does not get there within ``timeout`` seconds."""
    ready = wait_for(
        lambda: (
            daemon.poll() is not None
            or "Sensor new_transients_sensor skipped" in log_path.read_text(errors="replace")
        ),
        timeout=timeout,
    )
    if not ready or daemon.poll() is not None:
        raise RuntimeError(f"the daemon did not start; see {log_path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5, help="transients inserted one at a time")
    p.add_argument("--spacing", type=float, default=20.0, help="seconds between insertions")
    p.add_argument("--fov", type=float, default=360.0, help="cutout side, arcsec")
    p.add_argument("--timeout", type=float, default=180.0, help="per transient, seconds")
    p.add_argument("--keep-log", type=Path, help="copy the daemon's log here")
    p.add_argument(
        "--dequeue-interval",
        type=int,
        help="run queue poll interval, seconds (run_queue.dequeue_interval_seconds; project: 1, Dagster default: 5)",
    )
    p.add_argument(
        "--sensor-interval",
        type=int,
        help="override new_transients_sensor's minimum interval (sensors.py: 5 s) through a "
        "wrapper code location, to measure its effect without editing the project",
    )
    args = p.parse_args(argv)
    from _common import geometry_line  # imports the project: after argument parsing

    print(geometry_line(args.fov), flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="blast-latency-"))
    dagster_home, blast_home = tmp / "dagster_home", tmp / "blast_home"
    dagster_home.mkdir()
    overrides = {}
    if args.dequeue_interval:
        overrides["run_queue"] = {"dequeue_interval_seconds": args.dequeue_interval}
    (dagster_home / "dagster.yaml").write_text(instance_yaml(dagster_home, overrides))
    workspace = "workspace.yaml"
    if args.sensor_interval:
        (tmp / "latency_defs.py").write_text(
            "import blast_pipeline.sensors as _sensors\n\n"
            f"_sensors.SENSOR_INTERVAL_SECONDS = {args.sensor_interval}\n"
            "from blast_pipeline.definitions import defs  # noqa: E402, F401\n"
        )
        workspace = str(tmp / "workspace.yaml")
        Path(workspace).write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {
                            "python_file": {
                                "relative_path": "latency_defs.py",
                                "working_directory": str(ROOT),
                                "location_name": "blast_pipeline",
                            }
                        }
                    ]
                }
            )
        )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "BLAST_HOME": str(blast_home),
        "BLAST_CUTOUT_FOV_ARCSEC": str(args.fov),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "BLAST_HOME")})
    os.environ["BLAST_CUTOUT_FOV_ARCSEC"] = env["BLAST_CUTOUT_FOV_ARCSEC"]

    import dagster as dg

    from blast_pipeline.resources import blast_resource_from_env
    from blast_pipeline.system.runs import IN_FLIGHT_STATUSES

    # The Blast database (migrated) and the simulated sky's next transients, before the clock.
    services = blast_resource_from_env(resolve=True).services()
    sky_transients = services.cutouts.generate(args.n)

    # Create the instance's SQLite storages before the daemon and its code server start: three
    # processes migrating a fresh schedule database at once can leave two alembic_version rows
    # ("more than one head present"), and the code server then fails to load.
    instance = dg.DagsterInstance.get()
    instance.get_runs(limit=1)
    instance.all_instigator_state()
    instance.get_dynamic_partitions("transients")

    log_path = tmp / "daemon.log"
    log_file = open(log_path, "w")  # noqa: SIM115 (closed in finally)
    daemon = subprocess.Popen(
        [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rows: list[dict] = []
    how = "not started"
    try:
        print(
            f"daemon pid {daemon.pid}; DAGSTER_HOME={dagster_home}; workspace {workspace}; "
            f"dequeue interval {args.dequeue_interval or 'project (1 s)'}; sensor interval "
            f"{args.sensor_interval or 'project (5 s)'}",
            flush=True,
        )
        wait_for_daemon_ready(daemon, log_path)
        print("daemon ready (first sensor tick done)", flush=True)

        for i, t in enumerate(sky_transients):
            if i:
                time.sleep(max(0.0, rows[-1]["inserted"] + args.spacing - time.time()))
            register_transients(services, [t])
            rows.append({"name": t.name, "inserted": time.time()})
            print(f"inserted {t.name}", flush=True)
            poll_pending(instance, rows)

        deadline = time.time() + args.timeout
        while any("step_start" not in r for r in rows) and time.time() < deadline:
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({daemon.returncode}); see {log_path}")
            time.sleep(0.5)
            poll_pending(instance, rows)
        # let the last runs finish so the daemon stops with nothing in flight
        wait_for(
            lambda: not instance.get_runs(dg.RunsFilter(statuses=list(IN_FLIGHT_STATUSES))), 120, 2
        )
    finally:
        how = stop_daemon(daemon)
        log_file.close()
        if args.keep_log:
            shutil.copy(log_path, args.keep_log)
        instance.dispose()
        print(f"daemon stopped ({how})", flush=True)

    latencies = []
    print(f"\n{'transient':<14}{'run created':>12}{'run started':>12}{'1st step':>10}")
    for r in rows:
        created = r.get("created", float("nan")) - r["inserted"]
        started = r.get("started", float("nan")) - r["inserted"]
        step = r.get("step_start", float("nan")) - r["inserted"]
        print(f"{r['name']:<14}{created:>11.1f}s{started:>11.1f}s{step:>9.1f}s")
        if "step_start" in r:
            latencies.append(step)
    shutil.rmtree(tmp, ignore_errors=True)
    if not latencies:
        print("RESULT latency_s_p50=nan latency_s_max=nan n=0")
        return 1
    p50, worst = statistics.median(latencies), max(latencies)
    print(
        f"(insertion -> run created: sensor tick; -> run started: queue + launch; "
        f"-> 1st step: run worker start-up). Target <= {TARGET_S:.0f} s: "
        f"{'met' if worst <= TARGET_S else 'MISSED'}"
    )
    print(f"RESULT latency_s_p50={p50:.1f} latency_s_max={worst:.1f} n={len(latencies)}")
    return 0


def poll_pending(instance, rows: list[dict]) -> None:
    """Fill ``created`` / ``started`` / ``step_start`` (epoch seconds) from the event log."""
    import dagster as dg

    from blast_pipeline.system.runs import as_utc

    for r in rows:
        if "step_start" in r:
            continue
        records = instance.get_run_records(
            dg.RunsFilter(tags={"dagster/partition": r["name"]}), limit=1, ascending=True
        )
        if not records:
            continue
        record = records[0]
        r["created"] = as_utc(record.create_timestamp).timestamp()
        if record.start_time:
            r["started"] = record.start_time
        steps = instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START)
        if steps:
            r["step_start"] = min(e.timestamp for e in steps)


if __name__ == "__main__":
    sys.exit(main())
