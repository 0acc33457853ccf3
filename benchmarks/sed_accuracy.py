"""SED accuracy: host stellar mass and SFR from the whole pipeline against the simulated sky's
SED truth, the SED tasks' cost, and agreement with bagpipes' own nested sampler.

N simulated transients (seed 42) go through every task as a user runs them: ``dagster-daemon
run`` on the embedded default (SQLite, local files, simulated sky) in a temporary DAGSTER_HOME
and BLAST_HOME, cutouts at Blast's geometry (360", ``--fov``), the shipped posterior. When all
have finished (progress 100 %), each stored ``SEDFittingResult`` is compared with
``truth/<name>.json`` (``host.sed`` for the global aperture, ``host.sed_local`` for the local
one), only where the pipeline matched the sky's true host (otherwise it fitted another galaxy).

* ``coverage68_logmass`` / ``coverage68_logsfr``: fraction of global fits whose 16-84 %
  interval contains the true value (target 0.60-0.76);
* ``median_err_logmass``: median |log M*_50 - truth| [dex] of global fits whose host has an
  r-band (PanSTARRS, SDSS or DES) S/N >= 20 in the global aperture (target <= 0.15);
* ``s_per_sed_task``: median wall seconds of a processed Global/Local host SED inference
  task, from the task register (``last_processing_time_seconds``: samples, SFH, model SED,
  files; the median, because the first SED task of each run process also loads the posterior
  and the bagpipes model, several seconds; the mean is printed too); target <= 0.5;
* ``agree_with_nautilus``: on ``--nautilus`` processed global fits (the first stored; they
  run while the pipeline works, one child process at a time), the fraction whose fast log M* median lies inside the 16-84 % interval of bagpipes' nautilus fit
  of the same inputs (``science.sed.reference.reference_fit``, ``--n-live`` live points; target
  >= 0.8). The same for log SFR is printed beside it.

    .venv/bin/python benchmarks/sed_accuracy.py                     # --n 300 --nautilus 10
    .venv/bin/python benchmarks/sed_accuracy.py --n 20 --nautilus 2  # a quick check

Downloaded cutouts of finished transients are deleted as they finish (~90 MB each) and the
whole temporary folder at the end; SIGINT/SIGTERM stop the daemon and its code servers first.
Last line: ``RESULT coverage68_logmass=<f> coverage68_logsfr=<f> median_err_logmass=<dex>
s_per_sed_task=<s> agree_with_nautilus=<f> n=<transients finished>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SED_TASKS = ("Global host SED inference", "Local host SED inference")
R_BANDS = ("PanSTARRS_r", "SDSS_r", "DES_r")
MIN_R_SNR = 20.0


@dataclass
class Fit:
    """One stored SED fit next to its truth."""

    name: str
    aperture: str
    pct: dict[str, tuple[float, float, float]]
    truth: dict
    r_snr: float

    def covered(self, key: str) -> bool:
        lo, _, hi = self.pct[key]
        return lo <= self.truth[key] <= hi

    def error(self, key: str) -> float:
        return self.pct[key][1] - self.truth[key]


def run_pipeline(args, services, sky_transients, env, tmp: Path) -> tuple[int, float]:
    """Start the daemon, insert the transients, wait until all finished; returns (done, s)."""
    import dagster as dg
    from _common import register_transients
    from latency import ROOT, VENV_BIN, stop_daemon, wait_for_daemon_ready
    from sqlalchemy import func, select

    from blast_pipeline.db.models import Transient
    from blast_pipeline.files import transient_dir
    from blast_pipeline.runners.pools import apply_pool_limits

    instance = dg.DagsterInstance.get()  # storage created before the daemon (no start-up race)
    apply_pool_limits(instance)
    instance.all_instigator_state()
    log_path = tmp / "daemon.log"
    log_file = open(log_path, "w")  # noqa: SIM115 (closed in finally)
    daemon = subprocess.Popen(
        [str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def finished() -> set[str]:
        with services.database.session() as session:
            return set(session.scalars(select(Transient.name).where(Transient.progress == 100)))

    start = time.time()
    try:
        wait_for_daemon_ready(daemon, log_path)
        start = time.time()
        register_transients(services, sky_transients)
        print(f"inserted {args.n} transients; daemon pid {daemon.pid}", flush=True)
        cleaned: set[str] = set()
        last = -1
        while time.time() - start < args.timeout:
            done = finished()
            if len(done) != last:
                print(f"  {time.time() - start:7.0f} s: {len(done)}/{args.n} finished", flush=True)
                last = len(done)
            for name in done - cleaned:  # their downloaded images are no longer read
                shutil.rmtree(transient_dir(services.data_root, name), ignore_errors=True)
                cleaned.add(name)
            if len(done) >= args.n or daemon.poll() is not None:
                break
            time.sleep(10)
        elapsed = time.time() - start
    finally:
        print(f"daemon {stop_daemon(daemon)}", flush=True)
        log_file.close()
    with services.database.session() as session:
        total = session.scalar(select(func.count(Transient.id)).where(Transient.progress == 100))
    return int(total), elapsed


def collect(services) -> tuple[list[Fit], dict[str, dict[str, int]], list[float]]:
    """Stored fits with their truth, status counts of the SED tasks, SED task seconds."""
    from sqlalchemy import select

    from blast_pipeline.db.models import (
        AperturePhotometry,
        SEDFittingResult,
        Task,
        TaskRegister,
        Transient,
    )
    from blast_pipeline.tasks.sed_inference import sed_aperture

    fits: list[Fit] = []
    counts: dict[str, dict[str, int]] = {task: {} for task in SED_TASKS}
    seconds: list[float] = []
    wrong_host = 0
    with services.database.session() as session:
        for register, task in session.execute(
            select(TaskRegister, Task).join(Task).where(Task.name.in_(SED_TASKS))
        ).all():
            status = register.status.message
            counts[task.name][status] = counts[task.name].get(status, 0) + 1
            if status == "processed" and register.last_processing_time_seconds is not None:
                seconds.append(register.last_processing_time_seconds)
        for result, transient in session.execute(
            select(SEDFittingResult, Transient).join(Transient).order_by(Transient.name)
        ).all():
            truth = json.loads((services.cutouts.truth_dir / f"{transient.name}.json").read_text())
            host_truth = truth.get("host") or {}
            key = "sed" if result.aperture_type == "global" else "sed_local"
            if transient.host is None or str(transient.host.object_id) != str(
                truth.get("host_object_id")
            ):
                wrong_host += result.aperture_type == "global"
                continue
            if not host_truth.get(key):
                continue
            r_snr = 0.0
            aperture = sed_aperture(session, transient, result.aperture_type)
            for row in session.scalars(
                select(AperturePhotometry).where(AperturePhotometry.aperture_id == aperture.id)
            ):
                if row.filter.name in R_BANDS and row.flux is not None and row.flux_error:
                    r_snr = max(r_snr, row.flux / row.flux_error)
            pct = {
                name: tuple(getattr(result, f"{name}_{q}") for q in ("16", "50", "84"))
                for name in ("log_mass", "log_sfr")
            }
            fits.append(Fit(transient.name, result.aperture_type, pct, host_truth[key], r_snr))
    print(f"global fits of a wrongly matched host (not scored): {wrong_host}")
    return fits, counts, seconds


class NautilusChecker(threading.Thread):
    """Fits global apertures with bagpipes' nautilus while the pipeline runs, as their fast fits
    are stored (first stored first). Each fit runs in a child process (``--reference-worker``):
    bagpipes changes the working directory and prints, which must not touch this process."""

    def __init__(self, services, n: int, n_live: int) -> None:
        super().__init__(daemon=True)
        self.services, self.n, self.n_live = services, n, n_live
        self.results: list[tuple[str, dict, dict]] = []  # (name, fast pct, nautilus pct)
        self.pipeline_done = threading.Event()
        self.child: subprocess.Popen | None = None
        self.error: str | None = None

    def _candidates(self, seen: set[str]) -> list[tuple[str, dict, dict]]:
        """(name, fast percentiles, photometry) of stored global fits not yet checked."""
        from sqlalchemy import select

        from blast_pipeline.db.models import SEDFittingResult, Transient
        from blast_pipeline.tasks.sed_inference import aperture_sed_input

        out = []
        with self.services.database.session() as session:
            rows = session.execute(
                select(SEDFittingResult, Transient)
                .join(Transient)
                .where(SEDFittingResult.aperture_type == "global")
                .order_by(SEDFittingResult.id)
            ).all()
            for result, transient in rows:
                if transient.name in seen:
                    continue
                sed_input = aperture_sed_input(session, transient, "global")
                fast = {
                    k: [getattr(result, f"{k}_{q}") for q in ("16", "50", "84")]
                    for k in ("log_mass", "log_sfr")
                }
                phot = {
                    "filters": list(sed_input.filters),
                    "flux": sed_input.flux_ujy.tolist(),
                    "err": sed_input.flux_err_ujy.tolist(),
                    "z": float(transient.best_redshift),
                    "n_live": self.n_live,
                }
                out.append((transient.name, fast, phot))
        return out

    def run(self) -> None:
        seen: set[str] = set()
        try:
            while len(self.results) < self.n:
                final = self.pipeline_done.is_set()
                todo = self._candidates(seen)
                if not todo:
                    if final:
                        return
                    time.sleep(10)
                    continue
                name, fast, phot = todo[0]
                seen.add(name)
                start = time.time()
                self.child = subprocess.Popen(
                    [sys.executable, __file__, "--reference-worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                out, _ = self.child.communicate(json.dumps(phot))
                if self.child.returncode != 0:
                    raise RuntimeError(f"nautilus fit of {name} exited {self.child.returncode}")
                ref = json.loads(out.strip().splitlines()[-1])
                self.results.append((name, fast, ref))
                marks = [
                    f"{k} fast {fast[k][1]:.2f} nautilus {ref[k][1]:.2f} "
                    f"[{ref[k][0]:.2f}, {ref[k][2]:.2f}]"
                    + ("" if _inside(fast, ref, k) else " OUT")
                    for k in ("log_mass", "log_sfr")
                ]
                print(f"  nautilus {name} ({time.time() - start:.0f} s): " + "; ".join(marks))
        except Exception as exc:  # reported with the result, the pipeline phase goes on
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            self.child.wait(timeout=30)

    def agreement(self, key: str) -> float:
        if not self.results:
            return float("nan")
        return sum(_inside(f, r, key) for _, f, r in self.results) / len(self.results)


def _inside(fast: dict, ref: dict, key: str) -> bool:
    return ref[key][0] <= fast[key][1] <= ref[key][2]


def reference_worker() -> int:
    """Child process: photometry JSON on stdin -> nautilus percentiles JSON (last line)."""
    from blast_pipeline.science.sed import SEDPhotometry
    from blast_pipeline.science.sed.reference import reference_fit

    phot = json.loads(sys.stdin.read())
    photometry = SEDPhotometry(
        tuple(phot["filters"]), np.array(phot["flux"]), np.array(phot["err"]), phot["z"], "global"
    )
    pct = reference_fit(photometry, n_live=phot["n_live"]).percentiles()
    print(json.dumps({k: list(v) for k, v in pct.items()}))
    return 0


def summarise(fits: list[Fit]) -> dict[str, float]:
    """Coverage and errors per aperture type; returns the RESULT figures of the global fits."""
    out: dict[str, float] = {}
    for aperture in ("global", "local"):
        rows = [f for f in fits if f.aperture == aperture]
        if not rows:
            print(f"{aperture}: no scored fits")
            continue
        bright = [f for f in rows if f.r_snr >= MIN_R_SNR]
        cov_m = float(np.mean([f.covered("log_mass") for f in rows]))
        cov_s = float(np.mean([f.covered("log_sfr") for f in rows]))
        err_all = float(np.median([abs(f.error("log_mass")) for f in rows]))
        err_bright = (
            float(np.median([abs(f.error("log_mass")) for f in bright])) if bright else np.nan
        )
        bias = float(np.median([f.error("log_mass") for f in bright])) if bright else np.nan
        err_sfr = float(np.median([abs(f.error("log_sfr")) for f in rows]))
        print(
            f"{aperture}: {len(rows)} scored fits; 68% coverage log M* {cov_m:.3f}, log SFR "
            f"{cov_s:.3f}; median |err| log M* {err_all:.3f} dex (all), {err_bright:.3f} dex "
            f"(r S/N >= {MIN_R_SNR:g}: {len(bright)} fits, median bias {bias:+.3f}); "
            f"median |err| log SFR {err_sfr:.3f} dex"
        )
        if aperture == "global":
            out = {"cov_m": cov_m, "cov_s": cov_s, "err_bright": err_bright}
    return out


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--reference-worker"]:
        return reference_worker()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--nautilus", type=int, default=10, help="global fits checked with nautilus")
    p.add_argument("--n-live", type=int, default=400, help="nautilus live points")
    p.add_argument("--fov", type=float, default=360.0, help="cutout side, arcsec")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="pipeline phase, seconds")
    p.add_argument(
        "--nautilus-wait",
        type=float,
        default=3600,
        help="seconds to wait for the nautilus fits once the pipeline phase is over",
    )
    args = p.parse_args(argv)
    # A time limit's SIGTERM (or ^C) must still stop the daemon and its code servers (finally).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))

    from _common import geometry_line  # imports the project: after argument parsing
    from latency import VENV_BIN, instance_yaml

    print(geometry_line(args.fov), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="blast-sed-accuracy-"))
    checker = None
    try:
        dagster_home, blast_home = tmp / "dagster_home", tmp / "blast_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text(instance_yaml(dagster_home))
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "BLAST_HOME": str(blast_home),
            "BLAST_CUTOUT_FOV_ARCSEC": str(args.fov),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for key in ("DAGSTER_HOME", "BLAST_HOME", "BLAST_CUTOUT_FOV_ARCSEC"):
            os.environ[key] = env[key]
        for key in ("BLAST_DATABASE_URL", "BLAST_SKY"):  # the embedded default
            os.environ.pop(key, None)
            env.pop(key, None)
        from blast_pipeline.resources import blast_resource_from_env

        services = blast_resource_from_env(resolve=True).services()
        sky_transients = services.cutouts.generate(args.n)
        checker = NautilusChecker(services, args.nautilus, args.n_live)
        checker.start()
        done, elapsed = run_pipeline(args, services, sky_transients, env, tmp)
        checker.pipeline_done.set()
        print(f"{done}/{args.n} transients finished in {elapsed:.0f} s", flush=True)

        fits, counts, seconds = collect(services)
        for task, by_status in counts.items():
            print(f"{task}: " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
        s_per_task = float(np.median(seconds)) if seconds else float("nan")
        if seconds:
            print(
                f"SED task seconds: median {s_per_task:.3f}, mean {np.mean(seconds):.3f}, "
                f"p90 {np.percentile(seconds, 90):.3f} over {len(seconds)} processed tasks"
            )
        figures = summarise(fits)
        checker.join(timeout=args.nautilus_wait)
        if checker.error:
            print(f"nautilus checks stopped: {checker.error}")
        agree = {k: checker.agreement(k) for k in ("log_mass", "log_sfr")}
        print(
            f"agree with nautilus ({len(checker.results)} of {args.nautilus} global fits, "
            f"n_live {args.n_live}): log M* {agree['log_mass']:.2f}, "
            f"log SFR {agree['log_sfr']:.2f}"
        )
        print(
            f"RESULT coverage68_logmass={figures.get('cov_m', np.nan):.3f} "
            f"coverage68_logsfr={figures.get('cov_s', np.nan):.3f} "
            f"median_err_logmass={figures.get('err_bright', np.nan):.3f} "
            f"s_per_sed_task={s_per_task:.3f} agree_with_nautilus={agree['log_mass']:.2f} "
            f"n={done}"
        )
        return 0 if done >= args.n else 1
    finally:
        if checker is not None:
            checker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
