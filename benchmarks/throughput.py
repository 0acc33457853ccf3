"""Throughput: transients per hour end to end (every task) on this machine, as a user runs it:
`dagster-daemon run` with the project's instance settings (2 runs at once, batch runs from the
sensor), N simulated transients inserted at once, clock stopped when every one of them has
finished (progress 100 %). Blast's real cutout geometry (360" fields) unless --fov.

    .venv/bin/python benchmarks/throughput.py --n 1000
    .venv/bin/python benchmarks/throughput.py --n 100 --fov 360   # shorter run
    .venv/bin/python benchmarks/throughput.py --n 1000 --profile production   # PostgreSQL, Celery

Last line: RESULT transients_per_hour=<x> s_per_transient=<x> n=<n> fov=<arcsec>
bytes_per_transient=<bytes kept under the data root per finished transient>. SIGTERM and
SIGINT stop the daemon and its code servers before the benchmark exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from _common import register_transients
from _production import add_production_arguments, production_profile
from latency import ROOT, VENV_BIN, instance_yaml, stop_daemon, wait_for_daemon_ready


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--fov", type=float, default=360.0, help="cutout side, arcsec")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="seconds")
    p.add_argument("--keep-log", type=Path, help="copy the daemon's log here")
    p.add_argument(
        "--keep-cutouts",
        action="store_true",
        help="keep finished transients' downloaded cutouts (~90 MB each at 360\")",
    )
    add_production_arguments(p)
    args = p.parse_args(argv)
    # A time limit's SIGTERM (or ^C) must still stop the daemon and its code servers (finally).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))

    from _common import geometry_line  # imports the project: after argument parsing

    print(geometry_line(args.fov), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="blast-throughput-"))
    dagster_home, blast_home = tmp / "dagster_home", tmp / "blast_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(instance_yaml(dagster_home))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "BLAST_HOME": str(blast_home),
        "BLAST_CUTOUT_FOV_ARCSEC": str(args.fov),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    os.environ.update({k: env[k] for k in ("BLAST_HOME", "BLAST_CUTOUT_FOV_ARCSEC")})
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)  # also after ^C or a time limit
        if args.profile == "production":  # its own DAGSTER_HOME, the database and the broker
            env = stack.enter_context(production_profile(tmp, args))
        os.environ.update(env)
        return _measure(args, tmp, env)


def _measure(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> int:

    import dagster as dg
    from sqlalchemy import func, select

    from blast_pipeline.db.models import Transient
    from blast_pipeline.files import transient_dir
    from blast_pipeline.resources import blast_resource_from_env
    from blast_pipeline.runners.pools import apply_pool_limits

    services = blast_resource_from_env(resolve=True).services()
    sky_transients = services.cutouts.generate(args.n)
    instance = dg.DagsterInstance.get()  # storage created before the daemon (no start-up race)
    apply_pool_limits(instance)
    instance.all_instigator_state()

    log_path = tmp / "daemon.log"
    log_file = open(log_path, "w")  # noqa: SIM115 (closed in finally)
    daemon = subprocess.Popen(
        [str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    how = "not started"
    try:
        wait_for_daemon_ready(daemon, log_path)
        start = time.time()
        register_transients(services, sky_transients)
        print(f"inserted {args.n} transients; daemon pid {daemon.pid}", flush=True)

        def finished() -> int:
            with services.database.session() as session:
                return session.scalar(
                    select(func.count(Transient.id)).where(Transient.progress == 100)
                )

        cleaned: set[str] = set()

        def remove_finished_cutouts() -> None:
            """1,000 transients' cutouts at Blast's geometry are ~90 GB: more than this
            machine's disk. A finished transient's downloaded images are no longer read, so
            they are deleted as transients finish (crops and thumbnails are kept)."""
            with services.database.session() as session:
                names = session.scalars(select(Transient.name).where(Transient.progress == 100))
                for name in set(names) - cleaned:
                    shutil.rmtree(transient_dir(services.data_root, name), ignore_errors=True)
                    cleaned.add(name)

        last = -1
        while time.time() - start < args.timeout:
            done = finished()
            if done != last:
                print(f"  {time.time() - start:7.0f} s: {done}/{args.n} finished", flush=True)
                last = done
            if done >= args.n or daemon.poll() is not None:
                break
            if not args.keep_cutouts:
                remove_finished_cutouts()
            time.sleep(10)
        elapsed = time.time() - start
    finally:
        how = stop_daemon(daemon)
        log_file.close()
        if args.keep_log:
            shutil.copy(log_path, args.keep_log)
    print(f"daemon {how}")
    done = finished()
    if done < args.n:
        print(f"only {done} of {args.n} transients finished in {elapsed:.0f} s")
    rate = done / elapsed * 3600 if elapsed else 0.0
    kept = sum(f.stat().st_size for f in services.data_root.rglob("*") if f.is_file())
    print(
        f"bytes kept: {kept / max(done, 1) / 2**20:.1f} MiB per transient "
        f"({'downloaded cutouts deleted when finished' if not args.keep_cutouts else 'all kept'})"
    )
    print(
        f"RESULT transients_per_hour={rate:.0f} s_per_transient={elapsed / max(done, 1):.2f} "
        f"n={done} fov={args.fov:g} bytes_per_transient={kept // max(done, 1)} "
        f"profile={args.profile}"
        + (f" dagster_workers={args.workers}" if args.profile == "production" else "")
    )
    return 0 if done >= args.n else 1


if __name__ == "__main__":
    sys.exit(main())
