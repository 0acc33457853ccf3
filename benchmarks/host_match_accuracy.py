"""Host-association accuracy on the simulated sky.

Runs ``associate_host`` on simulated transients and prints the fraction given the right answer:

* a transient whose host is in the catalogue is correct when that galaxy is chosen;
* a hostless transient, or one whose host is fainter than the catalogue limit (absent from
  ``galaxies_near``), is correct only when the answer is "no host match".

Each transient is associated twice: with its redshift, and without (as for a transient with no
spectrum). The calibration of the winner's probability is the expected calibration error
(ECE: the winners' probabilities in 10 equal-width bins, the mean over bins, weighted by their
counts, of |fraction correct - mean probability|).

Three independent skies of 1,000 transients by default (seeds 42, 7 and 2026): an accuracy near
0.975 from 1,000 transients is uncertain by +-0.005, from 3,000 by +-0.003. Each sky's figures
are printed; the RESULT line is over all of them.

Usage: ``.venv/bin/python benchmarks/host_match_accuracy.py [--n 1000] [--seed 42 7 2026]``
(~4 min per sky on an idle machine). The last line is ``RESULT host_match_accuracy=<f> ece=<f>
host_match_accuracy_no_z=<f> ece_no_z=<f> n=<count of transients over all skies>``.
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


def expected_calibration_error(
    probabilities: list[float], correct: list[bool], bins: int = 10
) -> float:
    """ECE of the winners' probabilities: 10 equal-width bins, count-weighted |accuracy -
    mean probability|."""
    p = np.asarray(probabilities, dtype=float)
    ok = np.asarray(correct, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(ok[members].mean() - p[members].mean())
    return float(ece)


def run(n: int, seed: int, radius_arcsec: float, show: int) -> dict[bool, tuple[list, list]]:
    """Winners' probabilities and correctness flags of one sky, with and without redshifts."""
    from blast_pipeline.sources.sky import SimulatedSky

    with tempfile.TemporaryDirectory(prefix="host_match_bench_") as root:
        sky = SimulatedSky(Path(root), seed=seed, fov_arcsec=360.0)
        start = time.perf_counter()
        transients = sky.generate(n)
        elapsed = time.perf_counter() - start
        print(f"seed {seed}: simulated {len(transients)} transients in {elapsed:.1f} s")
        out = {}
        for with_z in (True, False):
            label = "with transient redshifts" if with_z else "without transient redshifts"
            print(f"\n== seed {seed}, {label}")
            out[with_z] = _score(sky, transients, radius_arcsec, show, with_z)
    return out


def summary(probabilities: list[float], correct: list[bool]) -> tuple[float, float]:
    """(accuracy, ECE) of winners' probabilities and correctness flags."""
    accuracy = float(np.mean(correct)) if correct else float("nan")
    return accuracy, expected_calibration_error(probabilities, correct)


def _score(
    sky, transients, radius_arcsec: float, show: int, with_z: bool
) -> tuple[list[float], list[bool]]:
    """Winners' probabilities and correctness flags of one pass over the transients."""
    tally: Counter[tuple[str, str]] = Counter()
    failures = []
    probabilities = []
    correct_flags = []
    start = time.perf_counter()
    for t in transients:
        table = sky.galaxies_near(t.ra_deg, t.dec_deg, radius_arcsec)
        ids = {str(i) for i in table["object_id"]}
        host_id = None if t.host_object_id is None else str(t.host_object_id)
        category = _category(host_id, ids)
        z = t.redshift if with_z else None
        result = associate_transient(t.name, t.ra_deg, t.dec_deg, z, table)
        chosen = None if result.best_object_id is None else str(result.best_object_id)
        outcome = _outcome(category, chosen, host_id)
        tally[(category, outcome)] += 1
        probabilities.append(result.probability)
        correct_flags.append(outcome == "correct")
        if outcome != "correct":
            failures.append((t, category, outcome, result, table))
    elapsed = time.perf_counter() - start
    print(f"associated {sum(tally.values())} transients in {elapsed:.1f} s")
    print("breakdown (category: outcome = count):")
    for category in ("host in catalogue", "host below catalogue limit", "hostless"):
        rows = {o: v for (c, o), v in tally.items() if c == category}
        n_cat = sum(rows.values())
        if not n_cat:
            continue
        detail = ", ".join(f"{o} {v}" for o, v in sorted(rows.items()))
        print(f"  {category} ({n_cat}, {rows.get('correct', 0) / n_cat:.3f} correct): {detail}")
    print(f"median winner probability: {np.median(probabilities):.3f}")
    accuracy, ece = summary(probabilities, correct_flags)
    wrong = [p for p, ok in zip(probabilities, correct_flags, strict=True) if not ok]
    if wrong:
        print(f"wrong answers' probabilities: median {np.median(wrong):.3f}, max {max(wrong):.3f}")
    print(f"accuracy {accuracy:.4f}, ECE {ece:.4f}")
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
    return probabilities, correct_flags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of simulated transients")
    parser.add_argument(
        "--seed", type=int, nargs="+", default=[42, 7, 2026], help="simulated sky seed(s)"
    )
    parser.add_argument(
        "--radius", type=float, default=SEARCH_RADIUS_ARCSEC, help="cone radius, arcsec"
    )
    parser.add_argument("--show", type=int, default=10, help="failures to print per pass")
    args = parser.parse_args(argv)
    pooled: dict[bool, tuple[list, list]] = {True: ([], []), False: ([], [])}
    per_sky = []
    for seed in args.seed:
        for with_z, (probabilities, correct) in run(args.n, seed, args.radius, args.show).items():
            pooled[with_z][0].extend(probabilities)
            pooled[with_z][1].extend(correct)
            per_sky.append((seed, with_z, *summary(probabilities, correct)))
    print("\nper sky: seed, redshifts, accuracy, ECE")
    for seed, with_z, accuracy, ece in per_sky:
        print(f"  {seed:>6d} {'with' if with_z else 'without':>8s} {accuracy:.4f} {ece:.4f}")
    figures = []
    for with_z, suffix in ((True, ""), (False, "_no_z")):
        accuracy, ece = summary(*pooled[with_z])
        figures.append(f"host_match_accuracy{suffix}={accuracy:.4f} ece{suffix}={ece:.4f}")
    print(f"RESULT {' '.join(figures)} n={len(pooled[True][1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
