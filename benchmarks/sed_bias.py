"""Where the global SED mass bias comes from: the pipeline's input against the sky's truth, step
by step, on simulated transients (issue 15's -0.46 dex).

N simulated transients (seed 42) run through every task up to Global host SED inference in a
plain loop (no Dagster) in a temporary home. For each global fit of the sky's true host the
shipped posterior's median log M* is taken on five inputs, each one step closer to the truth:

* ``pipeline``: the task's own input (validated aperture photometry, MW-corrected, best z);
* ``truth_flux``: the host's true total flux before MW dust (truth ``flux_microjansky_no_mw``)
  in the same bands with the same S/N: what the aperture, the noise and the MW correction add;
* ``truth_flux_ztrue``: the same at the true redshift (photo-z);
* ``same_bands_3pct``: true total flux, the same bands, 3 % errors (the S/N the pipeline gets);
* ``covered_bands_3pct``: true total flux in every band the sky covers there, 3 % errors (the
  bands lost to S/N < 3: mostly 2MASS and WISE).

Also per host: ``aperture_light``, log10 of the median over bands of the noiseless flux in the
band's global aperture (``sky.true_flux_microjansky``) over the total flux. With ``--nautilus K``
the first K hosts' ``truth_flux`` input is also fitted with bagpipes' nautilus (same model and
priors, ``--n-live`` live points): the exact posterior against the amortised one.

    .venv/bin/python benchmarks/sed_bias.py --n 30 --fov 120 [--nautilus 3]

Last line: ``RESULT bias_pipeline=<dex> bias_truth_flux=<dex> bias_truth_flux_ztrue=<dex>
bias_same_bands_3pct=<dex> bias_covered_bands_3pct=<dex> aperture_light=<dex>
bias_nautilus=<dex> bias_fast_on_nautilus_hosts=<dex> n=<hosts>`` (medians of fit - truth).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from _common import run_transient, runners_for, setup_home
from photutils.utils import NoDetectionsWarning
from sqlalchemy import select

from blast_pipeline.db.models import Transient
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.sed import SEDPhotometry, load_default_posterior
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline.tasks.apertures import sky_aperture_of
from blast_pipeline.tasks.sed_inference import aperture_sed_input, sed_aperture
from blast_pipeline.tasks.validation import photometry_rows

INPUTS = ("pipeline", "truth_flux", "truth_flux_ztrue", "same_bands_3pct", "covered_bands_3pct")


def median_log_mass(posterior, filters, flux, err, z: float) -> float:
    photometry = SEDPhotometry(tuple(filters), np.asarray(flux), np.asarray(err), z, "global")
    samples = posterior.sample(photometry, n_samples=1000, seed=0)
    return float(np.median(samples.quantities["log_mass"]))


def host_row(session, services, transient, posterior, fov: float) -> dict | None:
    """The five fits and the aperture light fraction of one transient's true host, or None."""
    sky = services.cutouts
    truth = json.loads((sky.truth_dir / f"{transient.name}.json").read_text())
    host = truth.get("host") or {}
    matched = transient.host is not None and str(transient.host.object_id) == str(
        truth.get("host_object_id")
    )
    if not (host.get("sed") and matched and sed_aperture(session, transient, "global")):
        return None
    try:
        sed_input = aperture_sed_input(session, transient, "global")
    except ValueError:
        return None
    if not sed_input.filters:
        return None
    bands = sed_input.filters
    total = np.array([host["flux_microjansky_no_mw"][b] for b in bands])
    snr = sed_input.flux_ujy / sed_input.flux_err_ujy
    covered = [b for b, on in truth["coverage"].items() if on]
    covered_flux = np.array([host["flux_microjansky_no_mw"][b] for b in covered])
    apertures = {
        r.filter.name: r.aperture for r in photometry_rows(session, transient.id, "global")
    }
    light = [
        sky.true_flux_microjansky(transient.name, get_filter(b), sky_aperture_of(apertures[b]), fov)
        / host["flux_microjansky"][b]
        for b in bands
    ]
    z, z_true = transient.best_redshift, truth["redshift"]
    fits = {
        "pipeline": (bands, sed_input.flux_ujy, sed_input.flux_err_ujy, z),
        "truth_flux": (bands, total, total / snr, z),
        "truth_flux_ztrue": (bands, total, total / snr, z_true),
        "same_bands_3pct": (bands, total, 0.03 * total, z),
        "covered_bands_3pct": (covered, covered_flux, 0.03 * covered_flux, z),
    }
    row = {
        key: median_log_mass(posterior, *args) - host["sed"]["log_mass"]
        for key, args in fits.items()
    }
    row.update(
        name=transient.name,
        aperture_light=float(np.log10(np.median(light))),
        bands=bands,
        truth_flux_input=(bands, total.tolist(), (total / snr).tolist(), z),
        log_mass=host["sed"]["log_mass"],
    )
    return row


def nautilus_bias(row: dict, n_live: int) -> float:
    from blast_pipeline.science.sed.reference import reference_fit

    bands, flux, err, z = row["truth_flux_input"]
    photometry = SEDPhotometry(tuple(bands), np.array(flux), np.array(err), z, "global")
    return reference_fit(photometry, n_live=n_live).percentiles()["log_mass"][1] - row["log_mass"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--fov", type=float, default=120.0, help='cutout side, arcsec (Blast: 360")')
    p.add_argument("--nautilus", type=int, default=0, help="hosts also fitted with nautilus")
    p.add_argument("--n-live", type=int, default=100)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore", NoDetectionsWarning)
    graph = WorkflowGraph.from_runners(TASK_RUNNERS)
    runners = runners_for(graph, ["Global host SED inference"])
    posterior = load_default_posterior()
    rows = []
    with tempfile.TemporaryDirectory(prefix="blast_sed_bias_") as tmp:
        services = setup_home(Path(tmp), args.n, args.seed, args.fov).services()
        for t in services.cutouts.transients():
            run_transient(t.name, services, graph, runners)
            with services.database.session() as session:
                transient = session.scalar(select(Transient).where(Transient.name == t.name))
                row = host_row(session, services, transient, posterior, args.fov)
            if row is None:
                continue
            rows.append(row)
            print(
                f"{row['name']} log M* {row['log_mass']:.2f}: "
                + " ".join(f"{k} {row[k]:+.2f}" for k in INPUTS)
                + f"; aperture light {row['aperture_light']:+.3f} dex; {len(row['bands'])} bands",
                flush=True,
            )
    if not rows:
        print("no scored host")
        return 1
    naut, fast = [], []
    for row in rows[: args.nautilus]:
        naut.append(nautilus_bias(row, args.n_live))
        fast.append(row["truth_flux"])
        print(f"  nautilus {row['name']}: {naut[-1]:+.2f} (fast {fast[-1]:+.2f})", flush=True)
    med = {k: float(np.median([r[k] for r in rows])) for k in (*INPUTS, "aperture_light")}
    print(
        "RESULT "
        + " ".join(f"bias_{k}={med[k]:.3f}" for k in INPUTS)
        + f" aperture_light={med['aperture_light']:.3f}"
        + f" bias_nautilus={np.median(naut) if naut else np.nan:.3f}"
        + f" bias_fast_on_nautilus_hosts={np.median(fast) if fast else np.nan:.3f} n={len(rows)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
