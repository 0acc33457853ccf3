"""Dagster's overhead on the per-transient workflow: the same simulated transients processed
(a) by a plain Python loop over the task runners, with no Dagster, and (b) through Dagster runs
on a persistent SQLite instance (sensor + in-process runs, what `blast-pipeline process` does):
(b1) batch runs (the sensor's default when several transients wait) and (b2) one run per
transient. Blast's real cutout geometry (0.1 deg fields) unless --fov.

    .venv/bin/python benchmarks/pipeline_overhead.py --n 20

Last line: RESULT overhead_ratio=<b1/a> overhead_ratio_per_transient_runs=<b2/a> ...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
from _common import geometry_line, run_transient, setup_home

from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.tasks import TASK_RUNNERS


def plain_loop(home: Path, n: int, seed: int, fov: float) -> tuple[float, list[str]]:
    blast = setup_home(home, n, seed, fov)
    services = blast.services()
    graph = WorkflowGraph.from_runners(TASK_RUNNERS)
    names = [t.name for t in services.cutouts.transients()]
    start = time.perf_counter()
    for name in names:
        run_transient(name, services, graph)
    return time.perf_counter() - start, names


def through_dagster(home: Path, n: int, seed: int, fov: float, batch_size: int) -> float:
    setup_home(home, n, seed, fov)
    blast = BlastResource(
        home=str(home), sky_seed=seed, cutout_fov_arcsec=fov, workflow_batch_size=batch_size
    )
    defs = build_definitions(TASK_RUNNERS, blast)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        start = time.perf_counter()
        summary = process_pending(defs, instance)
        elapsed = time.perf_counter() - start
    print(f"  {summary}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fov", type=float, default=360.0, help="cutout side, arcsec")
    parser.add_argument("--batch-size", type=int, default=20, help="transients per batch run")
    args = parser.parse_args(argv)
    print(f"{geometry_line(args.fov)}; {len(TASK_RUNNERS)} runners")
    with tempfile.TemporaryDirectory(prefix="blast_bench_") as tmp:
        plain, _ = plain_loop(Path(tmp) / "plain", args.n, args.seed, args.fov)
        batch = through_dagster(Path(tmp) / "batch", args.n, args.seed, args.fov, args.batch_size)
        single = through_dagster(Path(tmp) / "single", args.n, args.seed, args.fov, 1)
    a, b1, b2 = plain / args.n, batch / args.n, single / args.n
    print(
        f"plain loop: {a:.2f} s per transient; Dagster batch runs: {b1:.2f} s; "
        f"one run per transient: {b2:.2f} s"
    )
    print(
        f"RESULT overhead_ratio={b1 / a:.3f} overhead_ratio_per_transient_runs={b2 / a:.3f} "
        f"plain_s_per_transient={a:.3f} batch_s_per_transient={b1:.3f} "
        f"single_run_s_per_transient={b2:.3f} n={args.n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
