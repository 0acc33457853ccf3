"""Seconds per task per transient: the transient tasks in a plain Python loop (no Dagster).

Blast's real cutout geometry (360" fields) unless --fov. Each task is timed around
``execute_transient_task`` (its database bookkeeping included), wall clock and process CPU
(CPU can exceed wall for the threaded cutout download). The first ``--warmup`` transients are
run but not counted (imports, first-call caches). ``--profile FILE`` also writes a cProfile of
the counted transients (read it with ``python -m pstats FILE``).

    .venv/bin/python benchmarks/task_profile.py --n 5

Last line: RESULT s_per_transient=<wall seconds per counted transient> n=<counted transients>
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

from _common import geometry_line, setup_home
from photutils.utils import NoDetectionsWarning

from blast_pipeline.runners.execution import execute_transient_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.tasks import TASK_RUNNERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="transients timed")
    parser.add_argument("--warmup", type=int, default=1, help="transients run first, not timed")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fov", type=float, default=360.0, help="cutout side, arcsec")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed transients")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", NoDetectionsWarning)

    print(geometry_line(args.fov))
    graph = WorkflowGraph.from_runners(TASK_RUNNERS)
    runners = list(graph.runners)
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    statuses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="blast_task_profile_") as tmp:
        blast = setup_home(Path(tmp), args.warmup + args.n, args.seed, args.fov)
        services = blast.services()
        names = [t.name for t in services.cutouts.transients()]
        for k, name in enumerate(names):
            timed = k >= args.warmup
            if timed and profiler is not None:
                profiler.enable()
            for runner in runners:
                w0, c0 = time.perf_counter(), time.process_time()
                try:
                    outcome = execute_transient_task(runner, name, services, graph)
                    status = outcome.status or "skipped"
                except Exception as exc:  # recorded as failed, as a failed step would be
                    status = f"raised {type(exc).__name__}"
                if timed:
                    wall[runner.task_name] += time.perf_counter() - w0
                    cpu[runner.task_name] += time.process_time() - c0
                    statuses[runner.task_name][status] += 1
            if timed and profiler is not None:
                profiler.disable()
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"profile written to {args.profile}")

    n = max(args.n, 1)
    print(f"\n{'task':<30s} {'wall s':>8s} {'cpu s':>8s}  statuses (of {args.n})")
    for runner in runners:
        task = runner.task_name
        outcome = ", ".join(f"{s}: {c}" for s, c in sorted(statuses[task].items()))
        print(f"{task:<30s} {wall[task] / n:>8.3f} {cpu[task] / n:>8.3f}  {outcome}")
    total_wall, total_cpu = sum(wall.values()) / n, sum(cpu.values()) / n
    print(f"{'total':<30s} {total_wall:>8.3f} {total_cpu:>8.3f}")
    print(f"RESULT s_per_transient={total_wall:.3f} n={args.n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
