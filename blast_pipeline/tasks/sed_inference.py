"""Global and Local host SED inference (reference 1.17) with the amortised posterior of
``blast_pipeline.science.sed``: validated photometry of the aperture, corrected for Milky-Way
dust, to posterior samples of stellar mass, SFR, age, metallicity, dust and the 7-bin SFH.

The posterior and the bagpipes forward model are loaded once per process
(``default_sed_engine``); tests and benchmarks may give ``PipelineServices.sed_engine``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Aperture, Transient
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.science.sed_inputs import (
    PhotometryPoint,
    SEDInput,
    has_enough_filters,
    prepare_sed_input,
)
from blast_pipeline.science.sed_plot import PlotModel
from blast_pipeline.services import PipelineServices
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.apertures import local_aperture_name, primary_global_aperture
from blast_pipeline.tasks.sed_results import (
    SEDFit,
    quantity_percentiles,
    remove_sed_result,
    store_sed_result,
    write_sed_files,
)
from blast_pipeline.tasks.validation import photometry_rows

REDSHIFT_TOO_HIGH = "redshift too high"
NOT_ENOUGH_FILTERS = "not enough filters"
#: ``is_validated`` values whose photometry is fitted (Blast's build_obs).
FITTED_VALIDATIONS = ("true", "contamination warning")


@dataclass(frozen=True)
class SEDEngine:
    """The posterior (``SEDPosterior``) and forward model (``SEDModel``) of this process."""

    posterior: Any
    model: Any
    n_samples: int = 1000
    n_model_draws: int = 50

    @property
    def redshift_range(self) -> tuple[float, float]:
        low, high = self.posterior.redshift_range
        return float(low), float(high)

    def fit(self, sed_input: SEDInput, redshift: float, aperture: str, seed: int = 0) -> SEDFit:
        """Posterior samples for ``sed_input`` at the known ``redshift``, and the model SED."""
        from blast_pipeline.science.sed import SEDPhotometry, model_sed_band

        photometry = SEDPhotometry(
            filters=sed_input.filters,
            flux_ujy=sed_input.flux_ujy,
            flux_err_ujy=sed_input.flux_err_ujy,
            redshift=redshift,
            aperture=aperture,
        )
        samples = self.posterior.sample(photometry, n_samples=self.n_samples, seed=seed)
        band = model_sed_band(self.model, samples, redshift, n_draws=self.n_model_draws, seed=seed)
        index = [band.filters.index(name) for name in sed_input.filters]
        phot = np.array(
            [
                np.asarray(p, dtype=float)[index]
                for p in (band.photometry_p16_ujy, band.photometry_p50_ujy, band.photometry_p84_ujy)
            ]
        )
        return SEDFit(
            quantities=dict(samples.quantities),
            sfh=np.asarray(samples.sfh),
            sfh_bin_edges_gyr=np.asarray(samples.sfh_bin_edges_gyr),
            theta=np.asarray(samples.theta),
            theta_names=tuple(samples.theta_names),
            model=PlotModel(
                np.asarray(band.wavelength_angstrom),
                np.asarray(band.p16_ujy),
                np.asarray(band.p50_ujy),
                np.asarray(band.p84_ujy),
            ),
            model_photometry_ujy=phot,
        )


@lru_cache(maxsize=1)
def default_sed_engine() -> SEDEngine:
    """The shipped posterior and a bagpipes model, built once per process (~0.5 GB)."""
    from blast_pipeline.science.sed import get_sed_model, load_default_posterior

    return SEDEngine(posterior=load_default_posterior(), model=get_sed_model())


def sed_engine_for(services: PipelineServices) -> SEDEngine:
    return services.sed_engine or default_sed_engine()


def validated_points(session: Session, transient: Transient, kind: str) -> list[PhotometryPoint]:
    """The aperture's photometry validated "true" or "contamination warning", in µJy."""
    return [
        PhotometryPoint(
            row.filter.name,
            float(row.flux),
            float(row.flux_error),
            float(row.filter.wavelength_eff_angstrom),
        )
        for row in photometry_rows(session, transient.id, kind)
        if row.is_validated in FITTED_VALIDATIONS
        and row.flux is not None
        and row.flux_error is not None
    ]


def sed_aperture(session: Session, transient: Transient, kind: str) -> Aperture | None:
    """The aperture whose photometry is fitted: the primary global one, or the local one."""
    if kind == "global":
        return primary_global_aperture(session, transient.id)
    return session.scalar(select(Aperture).where(Aperture.name == local_aperture_name(transient)))


def sed_reddening(transient: Transient, kind: str) -> float | None:
    """Milky-Way E(B-V) [mag] toward the aperture: the host's (global), the transient's (local)."""
    if kind == "global":
        return transient.host.milkyway_dust_reddening if transient.host else None
    return transient.milkyway_dust_reddening


def aperture_sed_input(session: Session, transient: Transient, kind: str) -> SEDInput:
    """What the ``kind`` fit sees: validated photometry, MW-corrected, 1 % floor, S/N >= 3.
    ValueError naming what is missing (no validated photometry, no E(B-V))."""
    points = validated_points(session, transient, kind)
    if not points:
        raise ValueError(f"{transient.name} has no validated {kind} photometry")
    ebv = sed_reddening(transient, kind)
    if ebv is None:
        raise ValueError(f"{transient.name}: no Milky-Way E(B-V) for the {kind} aperture")
    return prepare_sed_input(points, ebv)


class _HostSEDFitting(TransientTaskRunner):
    aperture_type: str
    queue = "sed"
    pool = "sed"

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        session, data_root = context.session, context.services.data_root
        kind = self.aperture_type
        engine = sed_engine_for(context.services)
        z = transient.best_redshift
        low, high = engine.redshift_range
        if z is None or not low <= z <= high:
            remove_sed_result(session, data_root, transient, kind)
            context.add_metadata(reason=f"best redshift {z!r} outside [{low:g}, {high:g}]")
            return REDSHIFT_TOO_HIGH
        aperture = sed_aperture(session, transient, kind)
        if aperture is None:
            raise RuntimeError(f"{transient.name} has no {kind} aperture")
        sed_input = aperture_sed_input(session, transient, kind)
        if not has_enough_filters(sed_input.filters):
            remove_sed_result(session, data_root, transient, kind)
            context.add_metadata(
                reason="no optical band, and not both a UV and an IR band, at S/N >= 3",
                filters=", ".join(sed_input.filters) or "none",
            )
            return NOT_ENOUGH_FILTERS
        fit = engine.fit(sed_input, z, kind)
        files = write_sed_files(data_root, transient.name, kind, z, sed_input, fit)
        store_sed_result(session, transient, kind, aperture.id, fit, files)
        pct = quantity_percentiles(fit)
        context.add_metadata(
            redshift=z,
            filters=", ".join(sed_input.filters),
            n_filters=len(sed_input.filters),
            **{
                f"{name}_{label}": round(value, 3)
                for name in ("log_mass", "log_sfr")
                for label, value in zip(("16", "50", "84"), pct[name], strict=True)
            },
        )
        return PROCESSED


class GlobalHostSEDFitting(_HostSEDFitting):
    """Host-galaxy SED posterior from the global aperture photometry (host's E(B-V))."""

    task_name = "Global host SED inference"
    group = "transient_global"
    aperture_type = "global"

    def _prerequisites(self) -> dict[str, str]:
        return {"Validate global photometry": "processed", "Host MWEBV": "processed"}


class LocalHostSEDFitting(_HostSEDFitting):
    """SED posterior of the 2 kpc local aperture around the transient (transient's E(B-V))."""

    task_name = "Local host SED inference"
    group = "transient_local"
    aperture_type = "local"

    def _prerequisites(self) -> dict[str, str]:
        return {"Validate local photometry": "processed"}
