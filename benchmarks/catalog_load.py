"""Local catalogue (``BLAST_CATALOG_FILE``): first cone search in a fresh process.

Writes a GLADE+-format CSV of ``--n`` galaxies (Prost's columns, random positions), builds its
index once (`LocalCatalogSource` on first use, timed), then starts a fresh Python process that
opens the same file and runs one cone search, and reports that process's time from creating the
source to the answer (``first_query_s``, the median of three processes; their imports are reported apart) and its peak resident
memory (``rss_mb``). Everything is written in a temporary folder that is removed at the end.

Usage: ``.venv/bin/python benchmarks/catalog_load.py [--n 1000000] [--seed 1]``.
The last line is ``RESULT first_query_s=<f> rss_mb=<f> n_galaxies=<n>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

_CHILD = """
import json, sys, time
def peak_rss_mb():  # VmHWM: this process's own peak (ru_maxrss would include the fork's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
t0 = time.perf_counter()
from blast_pipeline.sources.catalogs import LocalCatalogSource
t1 = time.perf_counter()
rss_imports = peak_rss_mb()
source = LocalCatalogSource(sys.argv[1], cache_dir=sys.argv[2])
table = source.galaxies_near(float(sys.argv[3]), float(sys.argv[4]), 180.0)
t2 = time.perf_counter()
print(json.dumps({
    "import_s": t1 - t0,
    "first_query_s": t2 - t1,
    "rss_mb": peak_rss_mb(),
    "rss_imports_mb": rss_imports,
    "found": len(table),
}))
"""


def write_glade_csv(path: Path, n: int, seed: int) -> tuple[float, float]:
    """A GLADE+-format CSV of ``n`` galaxies; returns a position with galaxies near it."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    has_size = rng.random(n) < 0.6
    frame = pd.DataFrame(
        {
            "RAJ2000": ra,
            "DEJ2000": dec,
            "Bmag": np.where(rng.random(n) < 0.9, rng.uniform(12.0, 19.0, n), np.nan),
            "e_Bmag": rng.uniform(0.02, 0.3, n),
            "logd25Hyp": np.where(has_size, rng.uniform(-0.5, 1.5, n), np.nan),
            "logr25Hyp": np.where(has_size, rng.uniform(0.0, 0.5, n), np.nan),
            "PAHyp": np.where(has_size & (rng.random(n) < 0.8), rng.uniform(0, 180, n), np.nan),
            "z_best": rng.uniform(0.001, 0.3, n),
            "z_best_std": rng.uniform(0.0001, 0.03, n),
            "GLADE+": np.arange(1, n + 1),
            "f_dL": rng.integers(0, 4, n),
            "HyperLEDA": np.where(has_size, "PGC" + pd.Series(np.arange(n)).astype(str), ""),
        }
    )
    frame.to_csv(path, index=False)
    return float(ra[n // 2]), float(dec[n // 2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from blast_pipeline.sources.catalogs import LocalCatalogSource

    with tempfile.TemporaryDirectory(prefix="catalog_load_bench_") as root:
        path = Path(root) / "glade_like.csv"
        start = time.perf_counter()
        ra, dec = write_glade_csv(path, args.n, args.seed)
        print(
            f"wrote {args.n} galaxies ({path.stat().st_size / 1e6:.0f} MB CSV) in "
            f"{time.perf_counter() - start:.1f} s"
        )
        cache = Path(root) / "index"
        start = time.perf_counter()
        built = LocalCatalogSource(path, cache_dir=cache).galaxies_near(ra, dec, 180.0)
        print(
            f"index built on first use in {time.perf_counter() - start:.1f} s "
            f"(once per file; {len(built)} galaxies in the test cone)"
        )
        runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(cache), str(ra), str(dec)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        for r in runs:
            print(
                f"fresh process: imports {r['import_s']:.2f} s, source + first cone search "
                f"{r['first_query_s']:.3f} s, peak RSS {r['rss_mb']:.0f} MB "
                f"({r['rss_imports_mb']:.0f} MB after the imports), {r['found']} found"
            )
        if any(r["found"] != len(built) for r in runs):
            print("fresh processes found a different number of galaxies", file=sys.stderr)
            return 1
        median_s = float(np.median([r["first_query_s"] for r in runs]))
        worst_rss = max(r["rss_mb"] for r in runs)
        print(f"RESULT first_query_s={median_s:.3f} rss_mb={worst_rss:.0f} n_galaxies={args.n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
