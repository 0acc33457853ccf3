"""Dagster's overhead on the per-transient workflow: the same simulated transients processed
(a) by a plain Python loop over the task runners, with no Dagster, and (b) through Dagster runs
(sensor + in-process runs, what `blast-pipeline process` does): (b1) batch runs (the sensor's
default when several transients wait) and (b2) one run per transient. Blast's real cutout
geometry (0.1 deg fields) unless --fov.

The modes take turns, one block of --batch-size transients at a time (the order alternating
from block to block), so that drifts in the machine's speed over a run of several minutes fall
on every mode alike; each mode has its own Blast home and Dagster instance for the whole run.

    .venv/bin/python benchmarks/pipeline_overhead.py --n 100
    .venv/bin/python benchmarks/pipeline_overhead.py --n 100 --storage postgres
    .venv/bin/python benchmarks/pipeline_overhead.py --n 100 --profile production --modes plain,batch

--profile production: both databases on PostgreSQL, the Dagster runs' steps on Celery workers
(`-q dagster` and `-q sed`, started and stopped by the script); the plain loop then also writes
to PostgreSQL. One Dagster mode at a time there (the workers serve one Blast home).

Last line: RESULT overhead_ratio=<b1/a> overhead_ratio_per_transient_runs=<b2/a> ...
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from _common import geometry_line, pg_admin, register_transients, run_transient
from _production import add_production_arguments, production_profile

from blast_pipeline.definitions import build_definitions
from blast_pipeline.files import transient_dir
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.services import PipelineServices
from blast_pipeline.sources.sky import SimulatedTransient
from blast_pipeline.tasks import TASK_RUNNERS

MODES = ("plain", "batch", "single")


@contextmanager
def dagster_instance(folder: Path, storage: str, pg_host: str, pg_port: int) -> Iterator:
    """A persistent Dagster instance in ``folder``: SQLite (the embedded default) or a fresh
    PostgreSQL database (dropped afterwards)."""
    folder.mkdir(parents=True, exist_ok=True)
    if storage == "sqlite":
        with dg.instance_for_test(temp_dir=str(folder)) as instance:
            yield instance
        return
    db_name = f"bench_overhead_{uuid.uuid4().hex[:10]}"
    pg_admin(pg_host, pg_port, f"CREATE DATABASE {db_name}")
    postgres_db = {
        "hostname": pg_host,
        "port": pg_port,
        "username": "postgres",
        "password": "",
        "db_name": db_name,
        "scheme": "postgresql+psycopg2",
    }
    try:
        overrides = {"storage": {"postgres": {"postgres_db": postgres_db}}}
        with dg.instance_for_test(temp_dir=str(folder), overrides=overrides) as instance:
            yield instance
    finally:
        pg_admin(pg_host, pg_port, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


def batch_task_seconds(instance: dg.DagsterInstance, run_ids: list[str]) -> float:
    """Seconds the batch runs spent inside the task runners (their ``task_seconds`` output
    metadata); 0 for per-transient runs, which do not record it."""
    total = 0.0
    for run_id in run_ids:
        for record in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_OUTPUT
        ).records:
            metadata = record.event_log_entry.dagster_event.step_output_data.metadata
            if "task_seconds" in metadata:
                total += float(metadata["task_seconds"].value)
    return total


@dataclass
class Mode:
    """One way of processing: its Blast home's services, a function that processes one block
    of transients, and the seconds its runs spent inside the task runners (read afterwards, off
    the clock; batch runs only)."""

    services: PipelineServices
    process: Callable[[list[SimulatedTransient]], None]
    task_seconds: Callable[[], float] = lambda: 0.0


def make_mode(mode: str, home: Path, args: argparse.Namespace, stack: ExitStack) -> Mode:
    batch_size = 1 if mode == "single" else args.batch_size
    blast = BlastResource(
        home=str(home),
        sky_seed=args.seed,
        cutout_fov_arcsec=args.fov,
        workflow_batch_size=batch_size,
    )
    if args.profile == "production" and mode != "plain":
        return production_mode(home, args, stack)
    if args.profile == "production":  # the plain loop writes to PostgreSQL too
        name = f"bench_plain_{uuid.uuid4().hex[:8]}"
        pg_admin(args.pg_host, args.pg_port, f'CREATE DATABASE "{name}"')
        stack.callback(
            pg_admin, args.pg_host, args.pg_port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )
        blast = BlastResource(
            home=str(home),
            sky_seed=args.seed,
            cutout_fov_arcsec=args.fov,
            database_url=f"{args.pg_url}/{name}",
        )
    services = blast.services()
    if mode == "plain":
        graph = WorkflowGraph.from_runners(TASK_RUNNERS)

        def process_plain(block: list[SimulatedTransient]) -> None:
            for transient in block:
                run_transient(transient.name, services, graph)

        return Mode(services, process_plain)

    defs = build_definitions(TASK_RUNNERS, blast)
    instance = stack.enter_context(
        dagster_instance(home / "dagster", args.storage, args.pg_host, args.pg_port)
    )
    run_ids: list[str] = []

    def process_dagster(block: list[SimulatedTransient]) -> None:
        summary = process_pending(defs, instance)
        if summary.failed_runs:
            print(f"  {mode}: {summary}")
        run_ids.extend(summary.run_ids)

    return Mode(services, process_dagster, lambda: batch_task_seconds(instance, run_ids))


def production_mode(home: Path, args: argparse.Namespace, stack: ExitStack) -> Mode:
    """Batch (or per-transient) runs of the registry's job, executed from this process as
    ``blast-pipeline process`` does, their steps on the profile's Celery workers."""
    os.environ.update(
        {
            "BLAST_HOME": str(home),
            "BLAST_SKY_SEED": str(args.seed),
            "BLAST_CUTOUT_FOV_ARCSEC": str(args.fov),
            "BLAST_WORKFLOW_BATCH_SIZE": str(1 if "single" in args.modes else args.batch_size),
        }
    )
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(stack.enter_context(production_profile(home.parent, args)))
    import blast_pipeline.definitions

    importlib.reload(blast_pipeline.definitions)  # the registry's executor is now Celery
    from blast_pipeline.resources import blast_resource_from_env

    services = blast_resource_from_env(resolve=True).services()
    instance = stack.enter_context(dg.DagsterInstance.get())
    run_ids: list[str] = []

    def process_dagster(block: list[SimulatedTransient]) -> None:
        summary = process_pending(instance=instance)
        if summary.failed_runs:
            print(f"  production: {summary}")
        run_ids.extend(summary.run_ids)

    return Mode(services, process_dagster, lambda: batch_task_seconds(instance, run_ids))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fov", type=float, default=360.0, help="cutout side, arcsec")
    parser.add_argument("--batch-size", type=int, default=20, help="transients per batch run")
    parser.add_argument("--storage", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated subset of plain,batch,single"
    )
    add_production_arguments(parser)
    args = parser.parse_args(argv)
    modes = tuple(m for m in MODES if m in args.modes.split(","))
    if "plain" not in modes or len(modes) < 2:
        parser.error("--modes needs plain and at least one of batch, single")
    if args.profile == "production":
        if len(modes) != 2:
            parser.error("--profile production takes plain and one of batch, single")
        args.storage = "postgres"
    # a time limit's SIGTERM (or ^C) must still stop the workers and drop the databases
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))
    print(
        f"{geometry_line(args.fov)}; {len(TASK_RUNNERS)} runners; Dagster storage "
        f"{args.storage}; blocks of {args.batch_size} transients, modes alternating"
    )
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="blast_bench_") as tmp, ExitStack() as stack:
        runners = {mode: make_mode(mode, Path(tmp) / mode, args, stack) for mode in modes}
        transients = {mode: m.services.cutouts.generate(args.n) for mode, m in runners.items()}
        for index, start in enumerate(range(0, args.n, args.batch_size)):
            order = modes if index % 2 == 0 else modes[::-1]
            for mode in order:
                runner = runners[mode]
                block = transients[mode][start : start + args.batch_size]
                register_transients(runner.services, block)
                began = time.perf_counter()
                runner.process(block)
                seconds[mode].append(time.perf_counter() - began)
                for transient in block:  # 90 MB each at 360": keep the disk from filling up
                    shutil.rmtree(transient_dir(runner.services.data_root, transient.name))
            print(
                f"  block {index + 1}: "
                + ", ".join(f"{m} {seconds[m][-1] / len(block):.2f} s" for m in modes)
                + " per transient",
                flush=True,
            )
        inside = runners["batch"].task_seconds() / args.n if "batch" in modes else None
    per_transient = {m: sum(seconds[m]) / args.n for m in modes}
    ratio = {m: per_transient[m] / per_transient["plain"] for m in modes}
    for mode in modes[1:]:
        blocks = [b / a for a, b in zip(seconds["plain"], seconds[mode], strict=True)]
        print(
            f"{mode}/plain: {ratio[mode]:.3f} (per block: median {statistics.median(blocks):.3f}, "
            f"range {min(blocks):.3f}-{max(blocks):.3f})"
        )
    own = None
    if inside is not None:
        own = per_transient["batch"] - inside
        print(
            f"batch runs: {inside:.3f} s per transient inside the task runners, {own:.3f} s "
            f"in Dagster (sensor, run start, event log) = {own / per_transient['plain']:.1%} of "
            "the plain loop's time; the rest of batch - plain is the tasks' own run-to-run spread"
        )
    fields = {
        "overhead_ratio": ratio.get("batch"),
        "overhead_ratio_per_transient_runs": ratio.get("single"),
        "plain_s_per_transient": per_transient["plain"],
        "batch_s_per_transient": per_transient.get("batch"),
        "single_run_s_per_transient": per_transient.get("single"),
        "batch_dagster_s_per_transient": own,
    }
    print(
        "RESULT "
        + " ".join(f"{k}={v:.3f}" for k, v in fields.items() if v is not None)
        + f" n={args.n} storage={args.storage} profile={args.profile}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
