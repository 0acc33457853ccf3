"""Generate thumbnail SED global / local (reference 1.5): the SED plot of a stored fit, shown
in the materialisation metadata with log M* and log SFR and their 16-84 % range."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blast_pipeline.db.models import Transient
from blast_pipeline.files import relative_to_root, thumbnail_path
from blast_pipeline.runners.base import MarkdownText, TaskContext, TransientTaskRunner
from blast_pipeline.science.sed_plot import PlotModel, PlotPhotometry, render_sed_png
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.sed_results import find_sed_result
from blast_pipeline.tasks.thumbnails import png_markdown


def read_model_file(path: Path) -> tuple[PlotPhotometry, PlotPhotometry, PlotModel]:
    """Fitted points, upper-limit points and model SED from a ``_modeldata.npz`` file."""
    with np.load(path) as data:
        fitted = PlotPhotometry(
            tuple(str(f) for f in data["obs_filters"]),
            data["obs_wavelength_angstrom"],
            data["obs_flux_ujy"],
            data["obs_flux_err_ujy"],
        )
        limits = PlotPhotometry(
            tuple(str(f) for f in data["limit_filters"]),
            data["limit_wavelength_angstrom"],
            data["limit_flux_ujy"],
            data["limit_flux_err_ujy"],
        )
        model = PlotModel(
            data["wavelength_obs_angstrom"], data["spec_16"], data["spec"], data["spec_84"]
        )
    return fitted, limits, model


def _range(value_16: float | None, value_50: float | None, value_84: float | None) -> str:
    if value_50 is None:
        return "n/a"
    return f"{value_50:.2f} (+{value_84 - value_50:.2f}/-{value_50 - value_16:.2f})"


class _SEDThumbnail(TransientTaskRunner):
    aperture_type: str

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        data_root = context.services.data_root
        kind = self.aperture_type
        result = find_sed_result(context.session, transient, kind)
        if result is None or not result.model_file:
            raise RuntimeError(f"{transient.name} has no stored {kind} SED fit")
        fitted, limits, model = read_model_file(data_root / result.model_file)
        mass = (result.log_mass_16, result.log_mass_50, result.log_mass_84)
        sfr = (result.log_sfr_16, result.log_sfr_50, result.log_sfr_84)
        summary = f"log M* = {_range(*mass)}\nlog SFR = {_range(*sfr)}"
        path = thumbnail_path(data_root, transient.name, f"sed_{kind}")
        z = transient.best_redshift
        title = f"{transient.name} {kind} SED" + (f", z = {z:.4f}" if z is not None else "")
        render_sed_png(path, fitted, limits, model, title=title, summary=summary)
        context.add_metadata(
            thumbnail=relative_to_root(data_root, path),
            preview=MarkdownText(png_markdown(path, f"{transient.name} {kind} SED")),
            **{f"log_mass_{p}": v for p, v in zip(("16", "50", "84"), mass, strict=True)},
            **{f"log_sfr_{p}": v for p, v in zip(("16", "50", "84"), sfr, strict=True)},
        )
        return PROCESSED


class GenerateThumbnailSEDGlobal(_SEDThumbnail):
    """SED plot of the global host fit: photometry, upper limits and the posterior model."""

    task_name = "Generate thumbnail SED global"
    group = "transient_global"
    aperture_type = "global"

    def _prerequisites(self) -> dict[str, str]:
        return {"Global host SED inference": "processed"}


class GenerateThumbnailSEDLocal(_SEDThumbnail):
    """SED plot of the local (2 kpc) fit: photometry, upper limits and the posterior model."""

    task_name = "Generate thumbnail SED local"
    group = "transient_local"
    aperture_type = "local"

    def _prerequisites(self) -> dict[str, str]:
        return {"Local host SED inference": "processed"}
