"""A transient with apertures and validated photometry in the database, ready for the SED
tasks, and a recording SED engine (the test's posterior: seeded draws, records its input)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from blast_pipeline.db.models import Aperture, AperturePhotometry, Filter, Host
from blast_pipeline.db.task_register import initialise_registers, set_status
from blast_pipeline.db.transients import NewTransient, add_transient, get_transient
from blast_pipeline.runners.execution import TaskOutcome, execute_transient_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.sed_inputs import SEDInput
from blast_pipeline.science.sed_plot import PlotModel
from blast_pipeline.services import PipelineServices, PipelineSettings, build_services
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline.tasks.sed_results import SEDFit

GRAPH = WorkflowGraph.from_runners(TASK_RUNNERS)
NAME = "2024sed"
HOST_EBV = 0.10
TRANSIENT_EBV = 0.02
#: filter -> (flux uJy, error uJy, is_validated), for both apertures.
PHOTOMETRY = {
    "GALEX_NUV": (5.0, 2.5, "true"),  # S/N 2 -> an upper limit
    "PanSTARRS_g": (100.0, 2.0, "true"),
    "PanSTARRS_r": (150.0, 2.0, "contamination warning"),  # fitted
    "PanSTARRS_i": (180.0, 2.0, "false"),  # not fitted
    "SDSS_z": (200.0, 3.0, None),  # not fitted
    "2MASS_J": (220.0, 20.0, "true"),
    "WISE_W1": (150.0, 10.0, "true"),
}


@dataclass
class RecordingEngine:
    """Stands in for the trained posterior: normal draws around values that depend on how
    often this aperture was fitted, so a re-run gives different results."""

    redshift_range: tuple[float, float] = (0.001, 0.5)
    fail: bool = False
    calls: list[tuple[SEDInput, float, str]] = field(default_factory=list)

    def fit(self, sed_input: SEDInput, redshift: float, aperture: str, seed: int = 0) -> SEDFit:
        self.calls.append((sed_input, redshift, aperture))
        if self.fail:
            raise RuntimeError("posterior exploded")
        call = sum(1 for _, _, kind in self.calls if kind == aperture)
        rng = np.random.default_rng(call)
        n = 400
        shift = float(call)
        quantities = {
            "log_mass": rng.normal(9.5 + shift, 0.1, n),
            "log_sfr": rng.normal(0.2, 0.2, n),
            "log_ssfr": rng.normal(-9.3 - shift, 0.2, n),
            "log_age": rng.normal(0.4, 0.1, n),
            "log_z": rng.normal(-0.3, 0.1, n),
            "av": np.abs(rng.normal(0.5, 0.1, n)),
        }
        sfh = np.abs(rng.normal(1.0, 0.3, (n, 7)))
        sfh[:, 0] = 0.0  # a bin without star formation: its log SFR is unknown (None)
        wave = np.geomspace(1000, 300000, 300)
        spec = 100.0 * (wave / 5000.0) ** -0.5
        return SEDFit(
            quantities=quantities,
            sfh=sfh,
            sfh_bin_edges_gyr=np.array([0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 9.9, 11.0]),
            theta=rng.normal(size=(n, 3)),
            theta_names=("a", "b", "c"),
            model=PlotModel(wave, 0.8 * spec, spec, 1.2 * spec),
            model_photometry_ujy=np.vstack([sed_input.flux_ujy * f for f in (0.9, 1.0, 1.1)]),
        )


@dataclass
class SEDWorld:
    services: PipelineServices
    engine: RecordingEngine

    def run(self, task_name: str) -> TaskOutcome:
        runner = GRAPH.runner(task_name)
        with self.services.database.session() as session:
            transient = get_transient(session, NAME)
            for task in GRAPH.upstream[task_name]:
                set_status(session, transient, task, "processed")
            set_status(session, transient, task_name, "not processed")
        return execute_transient_task(runner, NAME, self.services, GRAPH)


def make_sed_world(
    tmp_path,
    database_url: str,
    *,
    host_redshift: float | None = 0.05,
    photometry: dict | None = None,
    apertures: tuple[str, ...] = ("global", "local"),
) -> SEDWorld:
    settings = PipelineSettings.embedded(tmp_path, database_url=database_url, sky="none")
    services = build_services(settings)
    services.sed_engine = RecordingEngine()
    photometry = PHOTOMETRY if photometry is None else photometry
    with services.database.session() as session:
        transient = add_transient(session, NewTransient(NAME, 150.0, 2.0))
        initialise_registers(session, transient, GRAPH.task_names)
        host = Host(name="host-2024sed", ra_deg=150.0, dec_deg=2.0, redshift=host_redshift)
        host.milkyway_dust_reddening = HOST_EBV
        session.add(host)
        session.flush()
        transient.host_id = host.id
        transient.milkyway_dust_reddening = TRANSIENT_EBV
        filter_ids = dict(session.execute(select(Filter.name, Filter.id)).all())
        for kind in apertures:
            aperture = Aperture(
                name=f"{NAME}_{kind}",
                transient_id=transient.id,
                type=kind,
                is_primary=True,
                ra_deg=150.0,
                dec_deg=2.0,
                orientation_deg=0.0,
                semi_major_axis_arcsec=5.0,
                semi_minor_axis_arcsec=3.0,
            )
            session.add(aperture)
            session.flush()
            for name, (flux, err, flag) in photometry.items():
                session.add(
                    AperturePhotometry(
                        aperture_id=aperture.id,
                        filter_id=filter_ids[name],
                        transient_id=transient.id,
                        flux=flux,
                        flux_error=err,
                        is_validated=flag,
                    )
                )
    return SEDWorld(services, services.sed_engine)
