"""Storing a host SED fit as Blast does (reference 1.17 steps 6-7): one ``SEDFittingResult``
per (transient, aperture type) with 16/50/84 percentiles, 7 ``StarFormationHistoryResult`` rows,
and four files in the file store (posterior samples, derived chains, percentiles, model SED).
A re-run replaces rows and files; it never adds a second result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from blast_pipeline.atomic import replace_atomically
from blast_pipeline.db.models import SEDFittingResult, StarFormationHistoryResult, Transient
from blast_pipeline.files import relative_to_root, transient_dir
from blast_pipeline.science.sed_inputs import SEDInput
from blast_pipeline.science.sed_plot import PlotModel

PERCENTILES = (16.0, 50.0, 84.0)
#: A_V [mag] per unit optical depth tau_V (Prospector's ``dust2`` is tau_V).
AV_PER_TAU_V = 2.5 * math.log10(math.e)
#: Row column -> file name suffix (Blast's four SED files).
FILE_SUFFIXES = {
    "posterior": ".h5",
    "chains_file": "_chain.npz",
    "percentiles_file": "_perc.npz",
    "model_file": "_modeldata.npz",
}
#: Blast's SED columns that are not parameters of our model (AGN, dust emission, ...): empty.
_EMPTY_COLUMNS = (
    "dust_index",
    "dust1_fraction",
    "log_fagn",
    "log_agn_tau",
    "gas_logz",
    "duste_qpah",
    "duste_umin",
    "log_duste_gamma",
)


@dataclass(frozen=True)
class SEDFit:
    """What one fit produced: posterior samples (``quantities`` by the contract's names, the
    7-bin SFH in M_sun/yr, raw ``theta``) and the model SED and photometry percentiles."""

    quantities: Mapping[str, np.ndarray]
    sfh: np.ndarray
    sfh_bin_edges_gyr: np.ndarray
    theta: np.ndarray
    theta_names: tuple[str, ...]
    model: PlotModel
    #: Model photometry [µJy] percentiles (16, 50, 84) at the fitted filters, shape (3, n).
    model_photometry_ujy: np.ndarray


def quantity_percentiles(fit: SEDFit) -> dict[str, tuple[float, float, float]]:
    return {
        name: tuple(float(v) for v in np.percentile(values, PERCENTILES))
        for name, values in fit.quantities.items()
    }


def result_columns(pct: Mapping[str, tuple[float, float, float]]) -> dict[str, float | None]:
    """Blast's ``<param>_16/_50/_84`` columns: log_mass, log_sfr (100 Myr), log_ssfr as they
    are; ``age`` in Gyr (10**log_age) and ``log_age`` its log10 (Blast stored Gyr in both);
    ``logzsol`` = log Z/Z_sun; ``dust2`` = tau_V = A_V / 1.086."""
    columns: dict[str, float | None] = {}

    def put(column: str, values) -> None:
        for label, value in zip(("16", "50", "84"), values, strict=True):
            columns[f"{column}_{label}"] = None if value is None else float(value)

    for name in ("log_mass", "log_sfr", "log_ssfr", "log_age"):
        put(name, pct.get(name, (None,) * 3))
    log_age = pct.get("log_age")
    put("age", [10.0**v for v in log_age] if log_age else (None,) * 3)
    put("logzsol", pct.get("log_z", (None,) * 3))
    av = pct.get("av")
    put("dust2", [v / AV_PER_TAU_V for v in av] if av else (None,) * 3)
    for name in _EMPTY_COLUMNS:
        put(name, (None,) * 3)
    return columns


def sed_file_paths(data_root: Path, transient_name: str, aperture_type: str) -> dict[str, Path]:
    """Blast's ``sed_output/<name>/<name>_<type>{.h5,_chain.npz,_perc.npz,_modeldata.npz}``."""
    folder = transient_dir(data_root, transient_name, "sed_output")
    stem = f"{transient_name}_{aperture_type}"
    return {column: folder / f"{stem}{suffix}" for column, suffix in FILE_SUFFIXES.items()}


def _replace_file(path: Path, write) -> None:
    """``write(handle)`` into a binary file that replaces ``path`` atomically."""

    def to_file(temporary: Path) -> None:
        with temporary.open("wb") as handle:
            write(handle)

    replace_atomically(path, to_file)


def write_sed_files(
    data_root: Path,
    transient_name: str,
    aperture_type: str,
    redshift: float,
    sed_input: SEDInput,
    fit: SEDFit,
) -> dict[str, str]:
    """Write the four files (replacing earlier ones); returns column -> path under the root."""
    paths = sed_file_paths(data_root, transient_name, aperture_type)

    def posterior(handle) -> None:
        with h5py.File(handle, "w") as h5:
            chain = h5.create_dataset("sampling/chain", data=np.asarray(fit.theta, dtype=float))
            chain.attrs["theta_labels"] = list(fit.theta_names)
            obs = h5.create_group("obs")
            obs.attrs["redshift"] = redshift
            obs.attrs["filters"] = list(sed_input.filters)
            obs.create_dataset("flux_ujy", data=sed_input.flux_ujy)
            obs.create_dataset("flux_err_ujy", data=sed_input.flux_err_ujy)

    def chains(handle) -> None:
        np.savez(
            handle,
            sfh=fit.sfh,
            sfh_bin_edges_gyr=fit.sfh_bin_edges_gyr,
            **{name: np.asarray(v) for name, v in fit.quantities.items()},
        )

    def percentiles(handle) -> None:
        pct = quantity_percentiles(fit)
        np.savez(
            handle,
            percents=np.array(PERCENTILES),
            quantities=np.array(list(pct)),
            percentiles=np.array(list(pct.values())),
            sfh_percentiles=np.percentile(fit.sfh, PERCENTILES, axis=0).T,
            sfh_bin_edges_gyr=fit.sfh_bin_edges_gyr,
            theta_lbs=np.array(fit.theta_names),
            theta_percentiles=np.percentile(fit.theta, PERCENTILES, axis=0).T,
        )

    def model(handle) -> None:
        np.savez(
            handle,
            redshift=redshift,
            wavelength_obs_angstrom=fit.model.wavelength_angstrom,
            spec_16=fit.model.p16_ujy,
            spec=fit.model.p50_ujy,
            spec_84=fit.model.p84_ujy,
            phot_16=fit.model_photometry_ujy[0],
            phot=fit.model_photometry_ujy[1],
            phot_84=fit.model_photometry_ujy[2],
            obs_filters=np.array(sed_input.filters, dtype=str),
            obs_wavelength_angstrom=sed_input.wavelength_angstrom,
            obs_flux_ujy=sed_input.flux_ujy,
            obs_flux_err_ujy=sed_input.flux_err_ujy,
            limit_filters=np.array(sed_input.rejected_filters, dtype=str),
            limit_wavelength_angstrom=sed_input.rejected_wavelength_angstrom,
            limit_flux_ujy=sed_input.rejected_flux_ujy,
            limit_flux_err_ujy=sed_input.rejected_flux_err_ujy,
        )

    writers = {
        "posterior": posterior,
        "chains_file": chains,
        "percentiles_file": percentiles,
        "model_file": model,
    }
    for column, path in paths.items():
        _replace_file(path, writers[column])
    return {column: relative_to_root(data_root, path) for column, path in paths.items()}


def find_sed_result(
    session: Session, transient: Transient, aperture_type: str
) -> SEDFittingResult | None:
    return session.scalar(
        select(SEDFittingResult).where(
            SEDFittingResult.transient_id == transient.id,
            SEDFittingResult.aperture_type == aperture_type,
        )
    )


def _log10_or_none(value: float) -> float | None:
    return math.log10(value) if value > 0 else None


def store_sed_result(
    session: Session,
    transient: Transient,
    aperture_type: str,
    aperture_id: int | None,
    fit: SEDFit,
    files: Mapping[str, str],
) -> SEDFittingResult:
    """Create or update the result row and replace its 7 SFH rows (log10 M_sun/yr; a bin whose
    SFR percentile is 0 gets None; edges are lookback Gyr)."""
    result = find_sed_result(session, transient, aperture_type)
    if result is None:
        result = SEDFittingResult(transient_id=transient.id, aperture_type=aperture_type)
        session.add(result)
    result.aperture_id = aperture_id
    result.mass_surviving_ratio = None  # our log_mass is the surviving mass already
    for column, value in result_columns(quantity_percentiles(fit)).items():
        setattr(result, column, value)
    for column, path in files.items():
        setattr(result, column, path)
    session.flush()
    session.execute(
        delete(StarFormationHistoryResult).where(
            StarFormationHistoryResult.sed_fitting_result_id == result.id
        )
    )
    edges = np.asarray(fit.sfh_bin_edges_gyr, dtype=float)
    sfh_pct = np.percentile(np.asarray(fit.sfh, dtype=float), PERCENTILES, axis=0)
    for i in range(len(edges) - 1):
        session.add(
            StarFormationHistoryResult(
                transient_id=transient.id,
                sed_fitting_result_id=result.id,
                logsfr_16=_log10_or_none(sfh_pct[0, i]),
                logsfr_50=_log10_or_none(sfh_pct[1, i]),
                logsfr_84=_log10_or_none(sfh_pct[2, i]),
                logsfr_tmin=float(edges[i]),
                logsfr_tmax=float(edges[i + 1]),
            )
        )
    return result


def remove_sed_result(
    session: Session, data_root: Path, transient: Transient, aperture_type: str
) -> None:
    """Forget an earlier fit of this aperture (rows and files): a re-run that ends without a
    fit (e.g. the redshift changed) must not leave a stale result behind."""
    result = find_sed_result(session, transient, aperture_type)
    if result is not None:
        session.execute(
            delete(StarFormationHistoryResult).where(
                StarFormationHistoryResult.sed_fitting_result_id == result.id
            )
        )
        session.delete(result)
    for path in sed_file_paths(data_root, transient.name, aperture_type).values():
        path.unlink(missing_ok=True)
