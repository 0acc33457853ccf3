"""Host-association accuracy on the simulated sky.

Runs ``associate_host`` on simulated transients and prints the fraction given the right answer:

* a transient whose host is in the catalogue is correct when that galaxy is chosen;
* a hostless transient, or one whose host is fainter than the catalogue limit (absent from
  ``galaxies_near``), is correct only when the answer is "no host match".

Usage: ``.venv/bin/python benchmarks/host_match_accuracy.py [--n 1000] [--seed 42]``.
The last line is ``RESULT host_match_accuracy=<fraction> n=<count>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from blast_pipeline.tasks.host_match import SEARCH_RADIUS_ARCSEC, associate_transient


def _category(host_id: str | None, catalog_ids: set[str]) -> str:
    if host_id is None:
        return "hostless"
    return "host in catalogue" if host_id in catalog_ids else "host below catalogue limit"


def _outcome(category: str, chosen: str | None, host_id: str | None) -> str:
    if category == "host in catalogue":
        if chosen == host_id:
            return "correct"
        return "missed (no host match)" if chosen is None else "wrong galaxy (neighbour)"
    return "correct" if chosen is None else "spurious galaxy"


def run(n: int, seed: int, radius_arcsec: float, show: int) -> float:
    from blast_pipeline.sources.sky import SimulatedSky

    with tempfile.TemporaryDirectory(prefix="host_match_bench_") as root:
        sky = SimulatedSky(Path(root), seed=seed, fov_arcsec=360.0)
        start = time.perf_counter()
        transients = sky.generate(n)
        print(f"simulated {len(transients)} transients in {time.perf_counter() - start:.1f} s")
        tally: Counter[tuple[str, str]] = Counter()
        failures = []
        probabilities = []
        start = time.perf_counter()
        for t in transients:
            table = sky.galaxies_near(t.ra_deg, t.dec_deg, radius_arcsec)
            ids = {str(i) for i in table["object_id"]}
            host_id = None if t.host_object_id is None else str(t.host_object_id)
            category = _category(host_id, ids)
            result = associate_transient(t.name, t.ra_deg, t.dec_deg, t.redshift, table)
            chosen = None if result.best_object_id is None else str(result.best_object_id)
            outcome = _outcome(category, chosen, host_id)
            tally[(category, outcome)] += 1
            probabilities.append(result.probability)
            if outcome != "correct":
                failures.append((t, category, outcome, result, table))
        elapsed = time.perf_counter() - start
    total = sum(tally.values())
    correct = sum(v for (_, outcome), v in tally.items() if outcome == "correct")
    print(f"associated {total} transients in {elapsed:.1f} s")
    print("breakdown (category: outcome = count):")
    for category in ("host in catalogue", "host below catalogue limit", "hostless"):
        rows = {o: v for (c, o), v in tally.items() if c == category}
        n_cat = sum(rows.values())
        if not n_cat:
            continue
        detail = ", ".join(f"{o} {v}" for o, v in sorted(rows.items()))
        print(f"  {category} ({n_cat}, {rows.get('correct', 0) / n_cat:.3f} correct): {detail}")
    print(f"median winner probability: {np.median(probabilities):.3f}")
    for t, category, outcome, result, table in failures[:show]:
        print(
            f"  FAIL {t.name} z={t.redshift} [{category}] {outcome}: chose {result.best_object_id}"
            f" P={result.probability:.3f} missing={result.missing_host_probability:.3f}"
        )
        cands = result.candidates
        order = np.argsort(-np.asarray(cands["posterior"]))[:3]
        for i in order:
            row, cat = cands[i], table[int(cands[i]["index"])]
            flag = "*" if str(row["object_id"]) == str(t.host_object_id) else " "
            print(
                f"    {flag}{row['object_id']} x={row['fractional_offset']:.2f} "
                f'sep={row["separation_arcsec"]:.1f}" mag={cat["mag"]:.2f} '
                f"M={row['absmag']:.2f} z={cat['redshift']:.4f}({cat['redshift_type']}) "
                f"P={row['posterior']:.3f}"
            )
    return correct / total if total else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of simulated transients")
    parser.add_argument("--seed", type=int, default=42, help="simulated sky seed")
    parser.add_argument(
        "--radius", type=float, default=SEARCH_RADIUS_ARCSEC, help="cone radius, arcsec"
    )
    parser.add_argument("--show", type=int, default=10, help="failures to print")
    args = parser.parse_args(argv)
    accuracy = run(args.n, args.seed, args.radius, args.show)
    print(f"RESULT host_match_accuracy={accuracy:.4f} n={args.n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
