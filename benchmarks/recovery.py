"""Crash recovery: N simulated transients processed by ``blast-pipeline process``, which is
killed with SIGKILL at K random points while a run executes; after each kill the same command
is started again (what the daemon's sensor and retrigger schedule do). Measures, for each kill,
the time from the kill until every transient of the killed run has finished (its heartbeat must
time out first, then the batch is redone), and counts lost, duplicated and contradictory rows at
the end (``system/consistency.py``).

    .venv/bin/python benchmarks/recovery.py --n 100 --kills 5
    .venv/bin/python benchmarks/recovery.py --n 20 --kills 2 --postgres   # Blast DB on PostgreSQL

Heartbeat every 2 s, a run is dead after 10 s of silence (BLAST_HEARTBEAT_*), 120" cutouts
unless --fov. Last line:
RESULT recovered=<n>/<n> lost_rows=0 duplicate_rows=0 contradictions=0 max_recovery_s=<s>
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--fov", type=float, default=120.0, help="cutout side, arcsec")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--postgres", action="store_true", help="Blast database on 127.0.0.1:5432")
    p.add_argument("--timeout", type=float, default=3 * 3600)
    args = p.parse_args(argv)
    children: list[subprocess.Popen] = []

    def stop(number, _frame):
        for child in children:
            if child.poll() is None:
                child.kill()
        sys.exit(128 + number)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)

    from _common import geometry_line, pg_admin, setup_home

    print(geometry_line(args.fov), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="blast-recovery-"))
    env = {
        "BLAST_HOME": str(tmp / "home"),
        "BLAST_CUTOUT_FOV_ARCSEC": str(args.fov),
        "BLAST_SKY_SEED": str(args.seed),
        "DAGSTER_HOME": str(tmp / "dagster"),
        "BLAST_HEARTBEAT_INTERVAL_SECONDS": "2",
        "BLAST_HEARTBEAT_TIMEOUT_SECONDS": "10",
        "BLAST_LAUNCH_GRACE_SECONDS": "10",
        "BLAST_WORKFLOW_BATCH_SIZE": "20",
    }
    db_name = None
    if args.postgres:
        db_name = f"blast_recovery_{uuid.uuid4().hex[:8]}"
        pg_admin("127.0.0.1", 5432, f'CREATE DATABASE "{db_name}"')
        env["BLAST_DATABASE_URL"] = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db_name}"
        from blast_pipeline.db import BlastDatabase

        BlastDatabase(env["BLAST_DATABASE_URL"]).migrate()  # production: an explicit step
    (tmp / "dagster").mkdir()
    os.environ.update(env)

    from sqlalchemy import select

    from blast_pipeline.db.models import Transient
    from blast_pipeline.resources import blast_resource_from_env
    from blast_pipeline.system.consistency import check_consistency

    setup_home(tmp / "home", args.n, args.seed, args.fov)
    services = blast_resource_from_env(resolve=True).services()
    child_env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def unfinished() -> set[str]:
        with services.database.session() as session:
            return set(
                session.scalars(
                    select(Transient.name).where(
                        Transient.processing_status.not_in(["completed", "blocked"])
                    )
                )
            )

    import dagster as dg

    from blast_pipeline.system.runs import transients_of_run

    def in_run() -> set[str]:
        """Transients of the runs executing now (what a kill interrupts)."""
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        return set().union(*(transients_of_run(r.tags) for r in runs)) & unfinished()

    def in_flight() -> set[str]:
        """Unfinished transients the sensor has claimed (in a run, or about to be)."""
        with services.database.session() as session:
            return set(
                session.scalars(
                    select(Transient.name).where(
                        Transient.processing_status.not_in(["completed", "blocked"]),
                        Transient.workflow_requested_at.is_not(None),
                    )
                )
            )

    rng = random.Random(args.seed)
    start = time.monotonic()
    pending_kills: list[tuple[float, set[str]]] = []  # (kill time, transients in flight)
    recovery: list[float] = []
    kills = 0
    try:
        while time.monotonic() - start < args.timeout:
            child = subprocess.Popen(
                [sys.executable, "-m", "blast_pipeline.cli", "process"],
                cwd=ROOT,
                env=child_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            children.append(child)
            kill_after = rng.uniform(15, 60) if kills < args.kills else None
            began = time.monotonic()
            while child.poll() is None:
                now = time.monotonic()
                left = unfinished()
                for item in list(pending_kills):
                    if not (item[1] & left):
                        recovery.append(now - item[0])
                        pending_kills.remove(item)
                running = in_run() if kill_after is not None and now - began > kill_after else set()
                if running:
                    os.kill(child.pid, signal.SIGKILL)
                    child.wait()
                    kills += 1
                    pending_kills.append((time.monotonic(), running))
                    print(
                        f"  kill {kills} at {time.monotonic() - start:6.0f} s, "
                        f"{len(left)} unfinished, {len(in_flight())} claimed, {len(running)} in "
                        "the killed run",
                        flush=True,
                    )
                    break
                time.sleep(0.5)
            if child.returncode not in (None, -signal.SIGKILL) and not unfinished():
                break
        now = time.monotonic()
        for killed_at, names in pending_kills:
            if not (names & unfinished()):
                recovery.append(now - killed_at)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    left = unfinished()
    with services.database.session() as session:
        report = check_consistency(session, services.data_root)
    elapsed = time.monotonic() - start
    print(
        f"{report.transients} transients, {kills} kills, {elapsed:.0f} s in all; recovery after "
        f"each kill: {', '.join(f'{s:.0f} s' for s in recovery) or '-'}"
    )
    for line in (report.duplicates + report.contradictions + report.lost)[:20]:
        print(f"  {line}")
    services.database.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    if db_name:
        pg_admin("127.0.0.1", 5432, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    recovered = args.n - len(left)
    print(
        f"RESULT recovered={recovered}/{args.n} lost_rows={len(report.lost)} "
        f"duplicate_rows={len(report.duplicates)} contradictions={len(report.contradictions)} "
        f"max_recovery_s={max(recovery, default=0):.0f}"
    )
    ok = recovered == args.n and not (report.lost or report.duplicates or report.contradictions)
    return 0 if ok and len(recovery) == kills else 1


if __name__ == "__main__":
    sys.exit(main())
