"""Calibration of the SED posterior: held-out simulations and the simulated sky's hosts.

1. ``--n`` new bagpipes simulations from the prior (seed ``--sim-seed``, distinct from the
   shipped training set's seed 1), observed as in training (``calibration.held_out_observations``:
   survey footprints, band drop-out, varied depths and error floors, a noise draw, Blast's
   S/N >= 3 cut). The posterior has no aperture input: global and 2 kpc local apertures differ
   only in mass, brightness and depth, which the prior and the noise model span.
2. The sky's hosts (model mismatch: the sky's non-parametric step histories with bursts and
   quenching, a mass-metallicity relation and a fixed log U, against the posterior's delayed-tau
   family): ``--sky-n`` transients of sky seed ``--sky-seed`` are generated and their truth files
   read. Global aperture: the host's total flux before Milky Way dust (``flux_microjansky_no_mw``,
   what dereddening recovers), truth ``sed``; local aperture: that flux times the enclosed light
   fraction of the 2 kpc circle, truth ``sed_local``. Only the bands the sky covers at the
   transient are kept; errors and noise come from the training noise model
   (``observation.noisy_photometry``), then the S/N >= 3 cut.

Figures: 68 % coverage (central interval) of log M* and log SFR, median |posterior median -
truth| of log M* for objects with >= 3 optical bands at S/N >= 20 (``median_err_logmass``; all
objects are printed too), and the seconds for 1,000 samples of one aperture
(``SEDPosterior.sample``, what the SED tasks call; median of ``--repeats``). log SFR truths of
the sky are floored at log M* - 14 as the posterior's samples are (``LOG_SSFR_FLOOR``).

Usage: ``.venv/bin/python benchmarks/sed_model.py [--n 1600] [--sky-n 300]``.
Last line: ``RESULT coverage68_logmass=... coverage68_logsfr=... median_err_logmass=...
sky_coverage68_logmass=... sky_median_err_logmass=... s_per_1000_samples=...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from blast_pipeline.science.sed.calibration import (
    Observed,
    coverage_and_errors,
    held_out_observations,
    posterior_draws,
    truth_quantities,
)
from blast_pipeline.science.sed.forward import FILTER_NAMES
from blast_pipeline.science.sed.observation import noisy_photometry
from blast_pipeline.science.sed.parameters import LOG_SSFR_FLOOR, REDSHIFT_RANGE, SED_QUANTITIES
from blast_pipeline.science.sed.posterior import (
    SEDPhotometry,
    SEDPosterior,
    load_default_posterior,
)
from blast_pipeline.science.sed.simulate import simulate_training_set


def _summary(label: str, draws: dict, truth: dict, observed: Observed) -> dict:
    """Print and return coverage/errors for all objects and for the optical S/N >= 20 ones."""
    report = coverage_and_errors(draws, truth)
    bright = observed.optical_high_snr()
    bright_report = coverage_and_errors(draws, truth, bright) if bright.any() else None
    print(f"\n{label}: {len(observed.redshift)} objects, {int(bright.sum())} at optical S/N >= 20")
    print(f"  {'quantity':<10} cov68  cov95  med|err|  half-width68  med|err| S/N>=20")
    for name in SED_QUANTITIES:
        q = report[name]
        b = "-" if bright_report is None else f"{bright_report[name]['median_abs_error']:.3f}"
        print(
            f"  {name:<10} {q['coverage68']:.3f}  {q['coverage95']:.3f}  "
            f"{q['median_abs_error']:.3f}     {q['median_width68']:.3f}         {b}"
        )
    bright_err = np.nan if bright_report is None else bright_report["log_mass"]["median_abs_error"]
    return {
        "coverage68_logmass": report["log_mass"]["coverage68"],
        "coverage68_logsfr": report["log_sfr"]["coverage68"],
        "median_err_logmass": bright_err,
        "median_err_logmass_all": report["log_mass"]["median_abs_error"],
    }


def held_out(posterior: SEDPosterior, n: int, seed: int, n_samples: int) -> dict:
    start = time.perf_counter()
    simulations = simulate_training_set(n, seed)
    print(f"simulated {n} galaxies (seed {seed}) in {time.perf_counter() - start:.0f} s")
    held = held_out_observations(simulations, np.arange(n), seed)
    start = time.perf_counter()
    draws = posterior_draws(posterior, held, n_samples, seed)
    print(f"sampled {n_samples} draws of {len(held.redshift)} objects in "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    return _summary(
        "held-out simulations", draws, truth_quantities(held, posterior.live_fraction), held
    )


def _sky_apertures(truth_dir: Path) -> list[tuple]:
    """(kind, redshift, true flux (24,), covered (24,), truth) of every host aperture in range."""
    rows = []
    for path in sorted(truth_dir.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        host, z = record["host"], record["redshift"]
        if host is None or host["sed"] is None or not REDSHIFT_RANGE[0] <= z <= REDSHIFT_RANGE[1]:
            continue
        flux = np.array([host["flux_microjansky_no_mw"][f] for f in FILTER_NAMES])
        covered = np.array([record["coverage"][f] for f in FILTER_NAMES])
        rows.append(("global", z, flux, covered, host["sed"]))
        local = host.get("sed_local")
        if local is not None:
            rows.append(("local", z, flux * local["enclosed_light_fraction"], covered, local))
    return rows


def sky_hosts(posterior: SEDPosterior, n: int, sky_seed: int, seed: int, n_samples: int) -> dict:
    from blast_pipeline.sources.sky import SimulatedSky

    with tempfile.TemporaryDirectory(prefix="sed_model_bench_") as root:
        sky = SimulatedSky(Path(root), seed=sky_seed, fov_arcsec=360.0)
        start = time.perf_counter()
        sky.generate(n)
        print(f"\ngenerated {n} sky transients (seed {sky_seed}) in "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        rows = _sky_apertures(sky.truth_dir)
    kinds = np.array([r[0] for r in rows])
    flux_true = np.array([r[2] for r in rows])
    flux, err, detected = noisy_photometry(flux_true, np.random.default_rng([seed, 7]))
    present = detected & np.array([r[3] for r in rows])
    keep = present.any(axis=1)
    observed = Observed(
        redshift=np.array([r[1] for r in rows])[keep],
        flux=flux[keep],
        err=err[keep],
        present=present[keep],
    )
    truth = {name: np.array([r[4][name] for r in rows])[keep] for name in SED_QUANTITIES}
    truth["log_sfr"] = np.maximum(truth["log_sfr"], truth["log_mass"] + LOG_SSFR_FLOOR)
    draws = posterior_draws(posterior, observed, n_samples, seed)
    overall = _summary("sky hosts, both apertures", draws, truth, observed)
    for kind in ("global", "local"):
        mask = kinds[keep] == kind
        subset = Observed(
            observed.redshift[mask], observed.flux[mask], observed.err[mask], observed.present[mask]
        )
        _summary(
            f"sky hosts, {kind} apertures",
            {k: v[mask] for k, v in draws.items()},
            {k: v[mask] for k, v in truth.items()},
            subset,
        )
    return overall


def sampling_seconds(posterior: SEDPosterior, repeats: int) -> float:
    """Median wall time of ``posterior.sample`` for 1,000 samples of one global aperture."""
    bands = ("PanSTARRS_g", "PanSTARRS_r", "PanSTARRS_i", "PanSTARRS_z", "WISE_W1", "2MASS_J")
    flux = np.array([120.0, 260.0, 380.0, 450.0, 520.0, 480.0])
    photometry = SEDPhotometry(bands, flux, 0.03 * flux, 0.05, "global")
    posterior.sample(photometry, 1000, seed=0)  # warm-up
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        posterior.sample(photometry, 1000, seed=k)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--n", type=int, default=1600, help="held-out simulations (~1/3 have no band at S/N >= 3)"
    )
    parser.add_argument("--sim-seed", type=int, default=20261202, help="held-out simulation seed")
    parser.add_argument("--sky-n", type=int, default=300, help="sky transients")
    parser.add_argument("--sky-seed", type=int, default=42)
    parser.add_argument("--samples", type=int, default=1000, help="posterior samples per object")
    parser.add_argument("--repeats", type=int, default=20, help="timings of 1,000 samples")
    parser.add_argument(
        "--posterior", type=Path, help="a posterior file (default: the shipped one)"
    )
    args = parser.parse_args(argv)
    posterior = SEDPosterior.load(args.posterior) if args.posterior else load_default_posterior()
    print(f"posterior {posterior.version}")
    seconds = sampling_seconds(posterior, args.repeats)
    print(f"1,000 samples of one aperture: {seconds:.4f} s (median of {args.repeats})")
    sims = held_out(posterior, args.n, args.sim_seed, args.samples)
    sky = sky_hosts(posterior, args.sky_n, args.sky_seed, args.sim_seed, args.samples)
    print(
        f"\nRESULT coverage68_logmass={sims['coverage68_logmass']:.3f} "
        f"coverage68_logsfr={sims['coverage68_logsfr']:.3f} "
        f"median_err_logmass={sims['median_err_logmass']:.3f} "
        f"sky_coverage68_logmass={sky['coverage68_logmass']:.3f} "
        f"sky_median_err_logmass={sky['median_err_logmass']:.3f} "
        f"s_per_1000_samples={seconds:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
