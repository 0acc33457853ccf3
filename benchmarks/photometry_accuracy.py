"""Aperture-photometry accuracy on the simulated sky: measured flux vs the noiseless truth.

Runs the transient tasks the photometry needs (cutout download ... global/local photometry and
their validation; thumbnails and crops are skipped) in a plain loop, no Dagster, on simulated
transients in a temporary home. Then every AperturePhotometry row with a flux is compared with
``SimulatedSky.true_flux_microjansky`` in the same sky aperture, rebuilt from the stored
Aperture row as the tasks rebuild it (`sky_aperture_of`: centre, semi-axes in arcsec, position
angle in degrees). Global and local apertures are reported separately, per survey and by
S/N = flux / flux_error (< 10, 10-50, >= 50): counts, median and 90th percentile of
|measured - true| / true, and the median signed error (the bias).

Default field: Blast's (and the pipeline's) 360" cutouts, 60 transients (~6 min on 2 idle cores,
300-400 rows per survey, so a pull standard deviation is known to about +-0.04). ``--fov 120``
is ~3x faster per transient but not the geometry the pipeline runs at: a bright host with a
Kron radius of 15" fills a good part of a 120" field and its wings raise the background there
(its flux up to ~2.5 % low; benchmarks/README.md).

    .venv/bin/python benchmarks/photometry_accuracy.py [--n 60] [--fov 360] [--csv rows.csv]

Last line: RESULT median_rel_err_snr50=<fraction> p90_rel_err_snr50=<fraction>
pull_std_min=<f> pull_std_max=<f> n=<count> fov=<arcsec> (n transients; the fractions over
all rows, global and local, with S/N >= 50; the pull standard deviations, lowest and highest
over the surveys, of (flux - truth) / flux_error over all rows with a flux: the error
calibration, 1 when the errors are right).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from _common import run_transient, runners_for, setup_home
from photutils.utils import NoDetectionsWarning
from sqlalchemy import select

from blast_pipeline.db.models import AperturePhotometry, Transient
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.filters import FILTERS, cutout_size_pixels, get_filter
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline.tasks.apertures import sky_aperture_of

TARGET_TASKS = (
    "Global aperture photometry",
    "Local aperture photometry",
    "Validate global photometry",
    "Validate local photometry",
)
SNR_BINS = (("S/N<10", -np.inf, 10.0), ("10<=S/N<50", 10.0, 50.0), ("S/N>=50", 50.0, np.inf))
DEFAULT_FOV_ARCSEC = 360.0


@dataclass
class Row:
    transient: str
    aperture_type: str
    is_primary: bool
    filter: str
    survey: str
    semi_major_arcsec: float
    semi_minor_arcsec: float
    orientation_deg: float
    flux: float
    flux_error: float
    true_flux: float
    is_validated: str | None

    @property
    def snr(self) -> float:
        return self.flux / self.flux_error if self.flux_error > 0 else np.inf

    @property
    def rel_error(self) -> float:
        return (self.flux - self.true_flux) / self.true_flux

    @property
    def pull(self) -> float:
        return (self.flux - self.true_flux) / self.flux_error


def score_transient(name: str, services, fov: float) -> list[Row]:
    """Every photometry row of one transient with a measured flux, next to its true flux."""
    sky = services.cutouts
    rows = []
    with services.database.session() as session:
        transient = session.scalar(select(Transient).where(Transient.name == name))
        photometry = session.scalars(
            select(AperturePhotometry).where(AperturePhotometry.transient_id == transient.id)
        ).all()
        for p in photometry:
            if p.flux is None or p.flux_error is None:
                continue
            aperture = p.aperture
            spec = get_filter(p.filter.name)
            truth = sky.true_flux_microjansky(name, spec, sky_aperture_of(aperture), fov)
            rows.append(
                Row(
                    name,
                    aperture.type,
                    bool(aperture.is_primary),
                    spec.name,
                    spec.survey,
                    aperture.semi_major_axis_arcsec,
                    aperture.semi_minor_axis_arcsec,
                    aperture.orientation_deg,
                    p.flux,
                    p.flux_error,
                    truth,
                    p.is_validated,
                )
            )
    return rows


def _stats(rows: list[Row]) -> str:
    rel = np.array([r.rel_error for r in rows])
    if rel.size == 0:
        return f"{0:>5d} {'-':>7s} {'-':>7s} {'-':>8s}"
    return (
        f"{rel.size:>5d} {np.median(np.abs(rel)):>7.4f} {np.percentile(np.abs(rel), 90):>7.4f} "
        f"{np.median(rel):>+8.4f}"
    )


def report(rows: list[Row]) -> None:
    header = "  ".join(
        f"{label:>10s} {'n':>5s} {'med':>7s} {'p90':>7s} {'bias':>8s}" for label, *_ in SNR_BINS
    )
    surveys = sorted({r.survey for r in rows})
    for aperture_type in ("global", "local"):
        typed = [r for r in rows if r.aperture_type == aperture_type]
        bad_truth = [r for r in typed if not r.true_flux > 0]
        typed = [r for r in typed if r.true_flux > 0]
        print(
            f"\n{aperture_type.upper()} apertures: {len(typed)} rows with a flux "
            f"({len(bad_truth)} more with a non-positive true flux, left out); "
            "|measured - true| / true: median, 90th percentile; bias = median signed error"
        )
        print(f"{'survey':>8s}  {header}")
        for survey in [*surveys, "all"]:
            chosen = typed if survey == "all" else [r for r in typed if r.survey == survey]
            cells = []
            for _label, low, high in SNR_BINS:
                in_bin = [r for r in chosen if low <= r.snr < high]
                cells.append(f"{'':>10s} {_stats(in_bin)}")
            print(f"{survey:>8s}  {'  '.join(cells)}")


def pull_stds(rows: list[Row]) -> dict[str, tuple[int, float, float]]:
    """Per survey: rows, standard deviation of the pulls (flux - truth) / error, and its robust
    version (1.4826 MAD)."""
    out = {}
    for survey in sorted({r.survey for r in rows}):
        pulls = np.array([r.pull for r in rows if r.survey == survey and r.true_flux > 0])
        if pulls.size < 10:
            continue
        mad = 1.482602218505602 * np.median(np.abs(pulls - np.median(pulls)))
        out[survey] = (pulls.size, float(np.std(pulls)), float(mad))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--fov",
        type=float,
        default=DEFAULT_FOV_ARCSEC,
        help=f"cutout side, arcsec (default {DEFAULT_FOV_ARCSEC:g}\", Blast's)",
    )
    parser.add_argument("--csv", type=Path, help="write every scored row to this CSV file")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", NoDetectionsWarning)

    geometry = ", ".join(
        f"{f.survey} {cutout_size_pixels(f, args.fov)}px"
        for f in FILTERS
        if f.band in ("g", "H", "W1", "NUV")
    )
    note = " (Blast's real geometry)" if args.fov == 360.0 else " (Blast's real geometry is 360\")"
    print(f'geometry: {args.fov:g}" cutouts{note}; {geometry}')

    graph = WorkflowGraph.from_runners(TASK_RUNNERS)
    runners = runners_for(graph, TARGET_TASKS)
    print(f"tasks: {', '.join(r.task_name for r in runners)}")
    rows: list[Row] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="blast_photometry_bench_") as tmp:
        blast = setup_home(Path(tmp), args.n, args.seed, args.fov)
        services = blast.services()
        names = [t.name for t in services.cutouts.transients()]
        scoring = 0.0
        for k, name in enumerate(names, 1):
            run_transient(name, services, graph, runners)
            t0 = time.perf_counter()
            rows.extend(score_transient(name, services, args.fov))
            scoring += time.perf_counter() - t0
            if k % 25 == 0 or k == len(names):
                print(
                    f"  {k}/{len(names)} transients, {len(rows)} rows, "
                    f"{time.perf_counter() - start:.0f} s (truth {scoring:.0f} s)",
                    flush=True,
                )
    if args.csv is not None:
        with args.csv.open("w", newline="") as handle:
            fields = [*asdict(rows[0]), "snr", "rel_error"] if rows else []
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for r in rows:
                writer.writerow({**asdict(r), "snr": r.snr, "rel_error": r.rel_error})
        print(f"rows written to {args.csv}")

    report(rows)
    high = np.array([abs(r.rel_error) for r in rows if r.true_flux > 0 and r.snr >= 50])
    median = float(np.median(high)) if high.size else float("nan")
    p90 = float(np.percentile(high, 90)) if high.size else float("nan")
    print(f"\nS/N >= 50 rows (global + local): {high.size}; target median <= 0.02")
    pulls = pull_stds(rows)
    print("\npulls (flux - truth) / error, global + local rows: survey, rows, std, robust std")
    for survey, (count, std, robust) in pulls.items():
        print(f"{survey:>10s} {count:>6d} {std:>7.3f} {robust:>7.3f}")
    stds = [std for _, std, _ in pulls.values()]
    print(
        f"RESULT median_rel_err_snr50={median:.4f} p90_rel_err_snr50={p90:.4f} "
        f"pull_std_min={min(stds):.3f} pull_std_max={max(stds):.3f} n={len(names)} fov={args.fov:g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
