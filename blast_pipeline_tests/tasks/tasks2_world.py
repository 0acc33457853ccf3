"""A small synthetic world for the aperture/photometry task tests: one transient, its host (a
Sersic galaxy of known total flux), and survey cutouts written as FITS with the survey's header
keywords, registered as `Cutout` rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import select

from blast_pipeline.db.models import Cutout, Filter, Host
from blast_pipeline.db.task_register import set_status
from blast_pipeline.db.transients import NewTransient, add_transient, get_transient
from blast_pipeline.files import cutout_path, relative_to_root
from blast_pipeline.runners.execution import TaskOutcome, execute_transient_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.units import image_zero_point, microjansky_per_count
from blast_pipeline.services import PipelineServices, PipelineSettings, build_services
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline_tests.science.phot_synthetic import (
    HOST_DEC,
    HOST_RA,
    SyntheticImage,
    make_image,
    sersic_model,
    star_model,
)

GRAPH = WorkflowGraph.from_runners(TASK_RUNNERS)
NAME = "2024abc"
#: The transient sits 2" east and 1" north of the host centre.
TRANSIENT_RA = HOST_RA + 2.0 / 3600 / np.cos(np.radians(HOST_DEC))
TRANSIENT_DEC = HOST_DEC + 1.0 / 3600
FOV_ARCSEC = 64.0
#: Host total flux in every band (AB 18.4).
HOST_FLUX_UJY = 160.0
R_EFF_ARCSEC = 3.0
EXPTIME = 100.0
MAGZP_2MASS = 20.0


@dataclass
class World:
    services: PipelineServices
    images: dict[str, SyntheticImage] = field(default_factory=dict)

    @property
    def data_root(self) -> Path:
        return self.services.data_root

    def run(self, task_name: str) -> TaskOutcome:
        return execute_transient_task(GRAPH.runner(task_name), NAME, self.services, GRAPH)

    def set_statuses(self, *task_names: str, status: str = "processed") -> None:
        with self.services.database.session() as session:
            transient = get_transient(session, NAME)
            for task in task_names:
                set_status(session, transient, task, status)

    def ready_for(self, task_name: str) -> None:
        """Set the task's prerequisites to "processed" and the task itself to "not processed"."""
        runner = GRAPH.runner(task_name)
        self.set_statuses(*runner.prerequisites())
        self.set_statuses(task_name, status="not processed")

    def run_ready(self, task_name: str) -> TaskOutcome:
        self.ready_for(task_name)
        return self.run(task_name)


def header_keywords(filter_name: str) -> dict[str, float]:
    spec = get_filter(filter_name)
    if spec.magnitude_zero_point_keyword:
        return {spec.magnitude_zero_point_keyword: MAGZP_2MASS, "EXPTIME": EXPTIME}
    return {"EXPTIME": EXPTIME}


def counts_per_microjansky(filter_name: str) -> float:
    spec = get_filter(filter_name)
    zp = image_zero_point(spec, fits.Header(header_keywords(filter_name)))
    return 1.0 / microjansky_per_count(spec, zp)


def survey_image(
    filter_name: str,
    *,
    host_flux_ujy: float = HOST_FLUX_UJY,
    neighbours: tuple[tuple[float, float, float], ...] = (),
    seed: int = 3,
) -> SyntheticImage:
    """The host at the image centre (and optional point sources ``(dx", dy", flux uJy)``), in
    the survey's pixels, PSF and units, with sky and noise."""
    spec = get_filter(filter_name)
    n = int(round(FOV_ARCSEC / spec.pixel_size_arcsec))
    shape = (n, n)
    scale = counts_per_microjansky(filter_name)
    model = sersic_model(shape, amplitude=1.0, r_eff=R_EFF_ARCSEC / spec.pixel_size_arcsec)
    model *= host_flux_ujy * scale / model.sum()
    centre = (n - 1) / 2.0
    fwhm_pix = spec.image_fwhm_arcsec / spec.pixel_size_arcsec
    for dx, dy, flux in neighbours:
        x = centre - dx / spec.pixel_size_arcsec  # east is left
        y = centre + dy / spec.pixel_size_arcsec
        model = model + star_model(shape, x, y, flux * scale, fwhm_pix)
    peak = model.max()
    # noise at 0.2% of the peak: the host is detected well above 25 sigma
    return make_image(
        model,
        pixel_arcsec=spec.pixel_size_arcsec,
        psf_fwhm_pix=fwhm_pix,
        sky=0.05 * peak,
        noise=0.002 * peak,
        seed=seed,
    )


def make_world(
    tmp_path: Path,
    database_url: str,
    filters: tuple[str, ...] = ("PanSTARRS_g", "PanSTARRS_r", "SDSS_r", "WISE_W4"),
    *,
    host: bool = True,
    host_redshift: float | None = 0.05,
    transient_redshift: float | None = None,
    neighbours: dict[str, tuple[tuple[float, float, float], ...]] | None = None,
    missing: tuple[str, ...] = ("2MASS_H",),
) -> World:
    """Services, the transient (and host), and one cutout file per filter (plus "No image found"
    cutouts for ``missing``)."""
    settings = PipelineSettings.embedded(tmp_path, database_url=database_url, sky="none")
    world = World(build_services(settings))
    neighbours = neighbours or {}
    with world.services.database.session() as session:
        transient = add_transient(
            session, NewTransient(NAME, TRANSIENT_RA, TRANSIENT_DEC, redshift=transient_redshift)
        )
        if host:
            row = Host(name="host-of-2024abc", ra_deg=HOST_RA, dec_deg=HOST_DEC)
            row.redshift = host_redshift
            session.add(row)
            session.flush()
            transient.host_id = row.id
        filter_ids = dict(session.execute(select(Filter.name, Filter.id)).all())
        for i, name in enumerate(filters):
            image = survey_image(name, neighbours=neighbours.get(name, ()), seed=10 + i)
            world.images[name] = image
            path = cutout_path(world.data_root, NAME, get_filter(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            image.hdu(**header_keywords(name)).writeto(path)
            session.add(
                Cutout(
                    name=f"{NAME}_{name}",
                    transient_id=transient.id,
                    filter_id=filter_ids[name],
                    fits_path=relative_to_root(world.data_root, path),
                )
            )
        for name in missing:
            session.add(
                Cutout(
                    name=f"{NAME}_{name}",
                    transient_id=transient.id,
                    filter_id=filter_ids[name],
                    fits_path=None,
                    message="No image found",
                )
            )
    return world
