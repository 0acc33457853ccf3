"""The bagpipes forward model: theta + redshift -> photometry in Blast's 24 filters [µJy].

Filter curves are astro-sedpy's shipped ones (``FilterSpec.sedpy_id``), written once, to a
cache folder every process shares, as two-column text files (Å, transmission) that bagpipes
reads.  Building the bagpipes model takes
~0.3 s and ~0.3 GB, so :func:`get_sed_model` keeps one per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from blast_pipeline.science.filters import FILTERS, FILTERS_BY_NAME, get_filter
from blast_pipeline.science.sed.parameters import THETA_NAMES, age_gyr, check_redshift

#: The filter order of every flux vector in this package (Blast's Filter table order).
FILTER_NAMES: tuple[str, ...] = tuple(f.name for f in FILTERS)

#: bagpipes' speed of light in Å/s and its cgs -> µJy convention (filter_set.get_photometry).
_C_ANGSTROM_PER_S = 2.9979e18


def import_bagpipes():
    """Import bagpipes quietly (it prints LaTeX/PyMultiNest notices on first import)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import bagpipes
    return bagpipes


def _cache_root() -> Path:
    """The user's cache folder for the project (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "blast-pipeline"


@cache
def _filter_dir() -> Path:
    """A folder with the 24 sedpy curves as text files bagpipes can read (Å, transmission).

    Named by the files' content and shared by every process: written once, atomically (a
    staging folder renamed into place; a process that loses the race removes its own), so a
    killed process leaves nothing behind and a new sedpy version gets a new folder.
    """
    from sedpy.observate import Filter

    texts = {}
    for spec in FILTERS:
        curve = Filter(spec.sedpy_id)
        buffer = io.StringIO()
        np.savetxt(buffer, np.column_stack([curve.wavelength, curve.transmission]))
        texts[f"{spec.name}.txt"] = buffer.getvalue()
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()[:16]
    root = _cache_root()
    target = root / f"sed-filters-{digest}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sed-filters-", dir=root))
    try:
        for name, text in texts.items():
            (staging / name).write_text(text)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not another process's folder: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def filter_files(filters: Sequence[str] = FILTER_NAMES) -> list[str]:
    """Paths of the text filter curves of ``filters`` (Blast names) in bagpipes' format."""
    directory = _filter_dir()
    return [str(directory / f"{get_filter(name).name}.txt") for name in filters]


def bagpipes_components(theta: np.ndarray, redshift: float) -> dict:
    """The bagpipes ``model_components`` dict of one parameter vector (see parameters.py)."""
    p = dict(zip(THETA_NAMES, np.asarray(theta, dtype=float), strict=True))
    return {
        "redshift": float(redshift),
        "t_bc": 0.01,
        "delayed": {
            "age": float(age_gyr(p["age_q"], redshift)),
            "tau": float(10 ** p["log_tau"]),
            "massformed": float(p["log_mass_formed"]),
            "metallicity": float(10 ** p["log_z"]),
        },
        "dust": {"type": "Calzetti", "Av": float(p["av"])},
        "nebular": {"logU": float(p["log_u"])},
    }


class SEDModel:
    """bagpipes model galaxy over all 24 filters; build once per process (:func:`get_sed_model`)."""

    def __init__(self) -> None:
        pipes = import_bagpipes()
        start = bagpipes_components(np.array([10.0, 0.5, 0.0, 0.0, 0.5, -2.5]), 0.05)
        with contextlib.redirect_stdout(io.StringIO()):
            self._model = pipes.model_galaxy(start, filt_list=filter_files(), phot_units="mujy")

    def _update(self, theta: np.ndarray, redshift: float) -> None:
        self._model.update(bagpipes_components(theta, check_redshift(redshift)))

    def photometry(
        self, theta: np.ndarray, redshift: float, filters: Sequence[str] = FILTER_NAMES
    ) -> np.ndarray:
        """Noiseless fluxes [µJy] of ``filters`` (Blast names) for one theta at ``redshift``."""
        index = [FILTER_NAMES.index(get_filter(name).name) for name in filters]
        self._update(theta, redshift)
        return np.asarray(self._model.photometry, dtype=float)[index].copy()

    def spectrum(self, theta: np.ndarray, redshift: float) -> tuple[np.ndarray, np.ndarray]:
        """Observed-frame spectrum: wavelength [Å] and f_nu [µJy] for one theta."""
        self._update(theta, redshift)
        return self._observed_spectrum(redshift)

    def spectrum_and_photometry(
        self, theta: np.ndarray, redshift: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``spectrum`` and the 24 fluxes [µJy] of ``photometry`` from one model evaluation."""
        self._update(theta, redshift)
        wavelength, f_nu = self._observed_spectrum(redshift)
        return wavelength, f_nu, np.asarray(self._model.photometry, dtype=float).copy()

    def _observed_spectrum(self, redshift: float) -> tuple[np.ndarray, np.ndarray]:
        """Wavelength [Å] and f_nu [µJy] of the model's current state, observed frame."""
        wavelength = self._model.wavelengths * (1.0 + redshift)
        f_lambda = self._model.spectrum_full  # erg/s/cm²/Å (observed frame)
        return wavelength.copy(), f_lambda * wavelength**2 / _C_ANGSTROM_PER_S * 1e29


@cache
def get_sed_model() -> SEDModel:
    """The process's one :class:`SEDModel`."""
    return SEDModel()


def effective_wavelengths_angstrom(filters: Sequence[str] = FILTER_NAMES) -> np.ndarray:
    """Blast's effective wavelengths of ``filters`` [Å]."""
    return np.array([FILTERS_BY_NAME[name].wavelength_eff_angstrom for name in filters])
