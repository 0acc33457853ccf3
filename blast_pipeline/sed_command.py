"""``blast-pipeline fit-sed NAME --aperture global|local [--reference]``: the SED posterior of a
stored transient's aperture, printed as 16/50/84 percentiles of every parameter.

The photometry is what the SED task fits (``tasks.sed_inference.aperture_sed_input``) and the
fast posterior is sampled as the task samples it (1,000 draws, seed 0), so the numbers are the
stored ``SEDFittingResult``'s. ``--reference`` also fits the same inputs with bagpipes' nautilus
sampler (``science.sed.reference``; ~95 s with 400 live points on 2 cores) and prints both.
"""

from __future__ import annotations

import argparse
import time

from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.science.sed_inputs import has_enough_filters


def _dust2(av: float) -> float:
    """Blast's ``dust2`` column (Prospector's tau_V) of an A_V [mag], as the task stores it."""
    from blast_pipeline.tasks.sed_results import AV_PER_TAU_V

    return av / AV_PER_TAU_V


#: (label, quantity, transform of its percentiles) in print order.
ROWS = (
    ("log M* [M_sun]", "log_mass", None),
    ("log SFR [M_sun/yr, 100 Myr]", "log_sfr", None),
    ("log sSFR [1/yr]", "log_ssfr", None),
    ("age [Gyr, mass-weighted]", "log_age", lambda v: 10.0**v),
    ("log age [log10 Gyr]", "log_age", None),
    ("log Z/Z_sun", "log_z", None),
    ("A_V [mag]", "av", None),
    ("dust2 = tau_V = A_V/1.086", "av", _dust2),
    ("log M formed [M_sun]", "log_mass_formed", None),
    ("age_q (onset, 0-1)", "age_q", None),
    ("log tau [log10 Gyr]", "log_tau", None),
    ("log U", "log_u", None),
)
FAST_SAMPLES, FAST_SEED = 1000, 0  # as SEDEngine samples in the task


def sed_photometry_of(name: str, aperture: str):
    """The posterior's input for a stored transient's aperture; ValueError (one line) when the
    task could not fit it either: no redshift or outside the trained range, no validated
    photometry, not enough filters."""
    from blast_pipeline.db.transients import get_transient
    from blast_pipeline.science.sed import SEDPhotometry
    from blast_pipeline.science.sed.parameters import REDSHIFT_RANGE
    from blast_pipeline.tasks.sed_inference import aperture_sed_input

    services = blast_resource_from_env(resolve=True).services()
    with services.database.session() as session:
        transient = get_transient(session, name)
        z = transient.best_redshift
        low, high = REDSHIFT_RANGE
        if z is None:
            raise ValueError(f"{name} has no redshift (neither its own nor its host's)")
        if not low <= z <= high:
            raise ValueError(
                f"{name}: redshift {z:g} is outside the SED posterior's trained range "
                f"{low:g}-{high:g} (the task reports 'redshift too high')"
            )
        sed_input = aperture_sed_input(session, transient, aperture)
    if not has_enough_filters(sed_input.filters):
        used = ", ".join(sed_input.filters) or "none"
        raise ValueError(
            f"{name}: not enough filters at S/N >= 3 in the {aperture} aperture ({used}): "
            "Blast needs an optical band, or a UV and an IR band"
        )
    return SEDPhotometry(
        sed_input.filters, sed_input.flux_ujy, sed_input.flux_err_ujy, float(z), aperture
    )


def _triple(values, transform) -> str:
    values = [transform(v) for v in values] if transform else list(values)
    return " ".join(f"{v:8.3f}" for v in values)


def format_table(fast: dict, reference: dict | None) -> list[str]:
    """Percentile rows of the fast posterior (and the reference) as text lines."""
    head = f"{'parameter':<30} {'fast posterior 16/50/84':>26}"
    if reference is not None:
        head += f"   {'bagpipes nautilus 16/50/84':>26}"
    lines = [head]
    for label, key, transform in ROWS:
        line = f"{label:<30} {_triple(fast[key], transform):>26}"
        if reference is not None:
            line += f"   {_triple(reference[key], transform):>26}"
        lines.append(line)
    return lines


def cmd_fit_sed(args: argparse.Namespace) -> int:
    from blast_pipeline.science.sed import load_default_posterior

    photometry = sed_photometry_of(args.name, args.aperture)
    print(
        f"{args.name} {args.aperture} aperture, z = {photometry.redshift:.4f}, "
        f"{len(photometry.filters)} bands at S/N >= 3: {', '.join(photometry.filters)}"
    )
    start = time.perf_counter()
    fast = load_default_posterior().sample(photometry, n_samples=FAST_SAMPLES, seed=FAST_SEED)
    fast_s = time.perf_counter() - start
    reference = None
    if args.reference:
        from blast_pipeline.science.sed.reference import reference_fit

        start = time.perf_counter()
        reference = reference_fit(photometry, n_live=args.n_live).percentiles()
        print(
            f"fast posterior {fast_s:.2f} s; bagpipes nautilus ({args.n_live} live points) "
            f"{time.perf_counter() - start:.0f} s"
        )
    for line in format_table(fast.percentiles(), reference):
        print(line)
    return 0


def register_fit_sed(sub) -> None:
    """Add ``fit-sed`` to the ``blast-pipeline`` parser."""
    p = sub.add_parser("fit-sed", help="SED posterior percentiles of a stored transient")
    p.add_argument("name")
    p.add_argument("--aperture", choices=("global", "local"), default="global")
    p.add_argument(
        "--reference", action="store_true", help="also fit with bagpipes' nautilus (~95 s)"
    )
    p.add_argument("--n-live", type=int, default=400, help="nautilus live points (--reference)")
    p.set_defaults(func=cmd_fit_sed)
