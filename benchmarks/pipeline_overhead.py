"""Dagster's overhead on the per-transient workflow: the same simulated transients processed
(a) by a plain Python loop over the task runners, with no Dagster, and (b) through Dagster runs
(sensor + one in-process run per transient on a persistent SQLite instance, what
`blast-pipeline process` does). Blast's real cutout geometry (0.1 deg fields) unless --fov.

    .venv/bin/python benchmarks/pipeline_overhead.py --n 20

Last line: RESULT overhead_ratio=<b/a> plain_s_per_transient=<a> dagster_s_per_transient=<b> ...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
from _common import run_transient, setup_home

from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.filters import FILTERS, cutout_size_pixels
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


def through_dagster(home: Path, n: int, seed: int, fov: float) -> float:
    blast = setup_home(home, n, seed, fov)
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
    args = parser.parse_args(argv)
    geometry = ", ".join(
        f"{f.survey} {cutout_size_pixels(f, args.fov)}px"
        for f in FILTERS
        if f.band in ("g", "H", "W1", "NUV")
    )
    print(f'geometry: {args.fov:g}" fields ({geometry}); {len(TASK_RUNNERS)} runners')
    with tempfile.TemporaryDirectory(prefix="blast_bench_") as tmp:
        plain, _ = plain_loop(Path(tmp) / "plain", args.n, args.seed, args.fov)
        dagster = through_dagster(Path(tmp) / "dagster", args.n, args.seed, args.fov)
    a, b = plain / args.n, dagster / args.n
    print(f"plain loop: {a:.2f} s per transient; through Dagster: {b:.2f} s per transient")
    print(
        f"RESULT overhead_ratio={b / a:.3f} plain_s_per_transient={a:.3f} "
        f"dagster_s_per_transient={b:.3f} transients_per_hour_dagster={3600 / b:.0f} n={args.n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
