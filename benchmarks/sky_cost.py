"""Cost of the simulated sky per transient: field generation and cutout rendering.

``generate`` times ``SimulatedSky.generate`` (every field simulated, truth and catalogue files
written). ``render`` then reopens the sky (empty field cache, as a run worker starts) and, per
transient, renders every covered cutout at ``--fov`` with ``fetch_cutout``; that includes
rebuilding the fields the cutouts touch. The first transient is run untimed (imports, grid
and dust-map loading). Works on any commit of the sky that has these calls, so an older one can
be measured with ``PYTHONPATH`` pointing at an export of it (``git archive``).

Usage: ``.venv/bin/python benchmarks/sky_cost.py [--n 8] [--seed 42] [--profile out.prof]``.
Last line: ``RESULT generate_s_per_transient=... generate_cpu_s_per_transient=...
render_s_per_transient=... render_cpu_s_per_transient=... n=...`` (wall and process CPU).
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
from pathlib import Path

from blast_pipeline.science.filters import FILTERS
from blast_pipeline.sources.sky import SimulatedSky


def _render_all(sky: SimulatedSky, transient, fov: float) -> int:
    count = 0
    for spec in FILTERS:
        if sky.fetch_cutout(transient.ra_deg, transient.dec_deg, spec, fov) is not None:
            count += 1
    return count


def run(n: int, seed: int, fov: float, profile: Path | None) -> dict[str, float]:
    """Wall and process-CPU seconds per transient of generation and rendering."""
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory(prefix="sky_cost_bench_") as tmp:
        root = Path(tmp)
        warm = SimulatedSky(root / "warm", seed=seed + 1, fov_arcsec=fov)
        _render_all(warm, warm.generate(1)[0], fov)

        sky = SimulatedSky(root / "sky", seed=seed, fov_arcsec=fov)
        if profiler:
            profiler.enable()
        start, cpu = time.perf_counter(), time.process_time()
        transients = sky.generate(n)
        figures = {
            "generate_s": (time.perf_counter() - start) / n,
            "generate_cpu_s": (time.process_time() - cpu) / n,
        }

        reopened = SimulatedSky(root / "sky", seed=seed, fov_arcsec=fov)
        start, cpu = time.perf_counter(), time.process_time()
        cutouts = sum(_render_all(reopened, t, fov) for t in transients)
        figures["render_s"] = (time.perf_counter() - start) / n
        figures["render_cpu_s"] = (time.process_time() - cpu) / n
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
    print(f'{n} transients, {cutouts / n:.1f} cutouts each at {fov:g}"')
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fov", type=float, default=360.0)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed part here")
    args = parser.parse_args(argv)
    f = run(args.n, args.seed, args.fov, args.profile)
    print(
        f"RESULT generate_s_per_transient={f['generate_s']:.4f} "
        f"generate_cpu_s_per_transient={f['generate_cpu_s']:.4f} "
        f"render_s_per_transient={f['render_s']:.4f} "
        f"render_cpu_s_per_transient={f['render_cpu_s']:.4f} n={args.n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
