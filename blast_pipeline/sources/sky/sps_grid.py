"""The simulated sky's stellar population synthesis: bagpipes' model, precomputed and linear.

A bagpipes galaxy (BC03 stellar populations, Cloudy nebular lines and continuum at a fixed
``logU``, Calzetti dust with DL07 energy-balance emission, Inoue 2014 IGM) is *linear* in its
star-formation-and-metallicity weights (``ceh.grid``: mass formed per metallicity node and
bagpipes age bin) for a given A_V and redshift: the dust emission is the absorbed luminosity
times a fixed DL07 shape. So ``build_grid`` asks bagpipes (once, offline) for the spectrum of
each single (metallicity, age) weight -- stellar, with ionising photons turned into nebular
emission for ages < ``T_BC_GYR`` -- and stores those basis spectra on bagpipes' own wavelength
sampling together with its Calzetti curve, DL07 spectrum, IGM table, filter curves (the 24
Blast filters from sedpy), live fractions, age bins and distance table. ``SPSGrid.photometry``
then repeats bagpipes' ``_calculate_full_spectrum`` and ``filter_set.get_photometry`` in numpy
for a batch of galaxies: no bagpipes import (3 s, 0.5 GB) at run time, and ~0.1 ms a galaxy.
The shipped grid is ``data/sps_grid.npz``; ``python -m blast_pipeline.sources.sky.sps_grid``
rebuilds it. Fluxes agree with bagpipes called directly to float32 precision
(``test_sky_sed.py``).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from blast_pipeline.science.filters import FILTERS
from blast_pipeline.science.sed.forward import filter_files

GRID_PATH = Path(__file__).with_name("data") / "sps_grid.npz"
#: Highest redshift the grid serves (the sky's field galaxies reach 1.5).
MAX_REDSHIFT = 1.55
#: Fixed ionisation parameter of the nebular emission, and bagpipes' birth-cloud age (Gyr).
LOG_U = -2.5
T_BC_GYR = 0.01
#: bagpipes' solar-luminosity factor and cgs -> microjansky conversion constants.
_L_SUN_CGS = 3.826e33
_MPC_CM = 3.086e24
_LIGHT_ANGSTROM_PER_S = 2.9979e18


_BLAS = ThreadpoolController()
_BLAS_LOCK = threading.Lock()


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread, one batch at a time (the limit is process-wide).

    A field's products are small: a second OpenBLAS thread only spins, which cost 5x the CPU
    of the whole photometry call (benchmarks/README.md, "Simulated sky"), and the thread count
    changes the last bits of a sum, so one fixed count also keeps the truth files identical.
    """
    with _BLAS_LOCK, _BLAS.limit(limits=1, user_api="blas"):
        yield


def _bagpipes_components(redshift: float, metallicity: float, history: np.ndarray, av: float):
    return {
        "redshift": redshift,
        "custom": {"history": history, "massformed": 10.0, "metallicity": metallicity},
        "nebular": {"logU": LOG_U},
        "dust": {"type": "Calzetti", "Av": av},
        "t_bc": T_BC_GYR,
    }


def bagpipes_model(history: np.ndarray, redshift=0.1, metallicity=1.0, av=0.5):
    """A bagpipes ``model_galaxy`` in the grid's configuration (photometry in microjansky)."""
    import bagpipes
    from bagpipes import config

    config.max_redshift = MAX_REDSHIFT  # sets the wavelength sampling; must precede the model
    return bagpipes.model_galaxy(
        _bagpipes_components(redshift, metallicity, history, av),
        filt_list=filter_files(),
        phot_units="mujy",
    )


def build_grid(path: Path = GRID_PATH) -> Path:
    """Compute the basis spectra and tables with bagpipes and write them to ``path`` (npz)."""
    from bagpipes import config, utils

    history = np.array([[1e6, 1.0], [1e10, 1.0]])
    model = bagpipes_model(history)
    wavelengths = model.wavelengths
    n_z, n_age = config.metallicities.size, config.age_sampling.size
    basis = np.zeros((n_z, n_age, wavelengths.size))
    for i in range(n_z):
        for j in range(n_age):
            weights = np.zeros((n_z, n_age))
            weights[i, j] = 1.0
            young, old = model.stellar.spectrum(weights, T_BC_GYR)
            young[wavelengths < 912.0] = 0.0  # ionising photons go into the nebular emission
            young += model.nebular.spectrum(weights, T_BC_GYR, LOG_U)
            basis[i, j] = young + old
    z_rows = utils.z_array <= MAX_REDSHIFT + 0.05
    igm_rows = np.flatnonzero(np.any(model.igm.grid[:, : int(z_rows.sum())] < 1.0, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        wavelengths=wavelengths,
        basis=basis.astype(np.float32),
        a_cont=model.dust_atten.A_cont,
        dust_emission=model.dust_emission.spectrum(2.0, 1.0, 0.01),
        igm_rows=igm_rows,
        igm=model.igm.grid[igm_rows][:, : int(z_rows.sum())],
        igm_redshifts=config.igm_redshifts[: int(z_rows.sum())],
        filters=model.filter_set.filt_array.astype(np.float32),
        eff_wavs=model.filter_set.eff_wavs,
        filter_names=np.array([spec.name for spec in FILTERS]),
        metallicities=config.metallicities,
        age_bins=config.age_bins,
        age_sampling=config.age_sampling,
        live_frac=model.sfh.live_frac_grid,
        fine_ages=model.sfh.ages,
        fine_widths=model.sfh.age_widths,
        z_array=utils.z_array[z_rows],
        age_at_z_gyr=utils.age_at_z[z_rows],
        ldist_mpc=utils.ldist_at_z[z_rows],
        hubble_time_gyr=np.array(model.sfh.hubble_time),
        log_u=np.array(LOG_U),
        t_bc_gyr=np.array(T_BC_GYR),
    )
    return path


@dataclass(frozen=True, eq=False)  # hashed by identity (cached per grid)
class SPSGrid:
    """The precomputed bagpipes model (see the module docstring); arrays as ``build_grid``."""

    wavelengths: np.ndarray  # rest-frame Angstrom
    basis: np.ndarray  # (metallicity, age, wavelength): L_sun/A per M_sun formed
    a_cont: np.ndarray  # Calzetti A_lambda / A_V
    dust_emission: np.ndarray  # DL07 spectrum per unit absorbed luminosity
    igm_rows: np.ndarray
    igm: np.ndarray  # (igm_rows, igm_redshifts) transmission
    igm_redshifts: np.ndarray
    filters: np.ndarray  # (wavelength, filter) transmission, FILTERS order
    eff_wavs: np.ndarray
    metallicities: np.ndarray  # Z / Z_sun of the nodes
    age_bins: np.ndarray  # yr, edges of bagpipes' age bins
    age_sampling: np.ndarray  # yr
    live_frac: np.ndarray  # (metallicity, age) surviving mass per mass formed
    fine_ages: np.ndarray  # yr, bagpipes' internal SFH sampling
    fine_widths: np.ndarray
    z_array: np.ndarray
    age_at_z_gyr: np.ndarray
    ldist_mpc: np.ndarray

    @property
    def widths(self) -> np.ndarray:
        """bagpipes' ``make_bins`` widths of the wavelength sampling."""
        edges = np.concatenate(
            ([self.wavelengths[0]], 0.5 * (self.wavelengths[1:] + self.wavelengths[:-1]))
        )
        edges = np.append(edges, self.wavelengths[-1])
        return np.diff(edges)

    def age_of_universe_gyr(self, redshift: np.ndarray) -> np.ndarray:
        """Age of the universe at ``redshift`` (bagpipes' cosmology and interpolation), Gyr."""
        return np.interp(redshift, self.z_array, self.age_at_z_gyr)

    def photometry(self, weights: np.ndarray, av: np.ndarray, redshift: np.ndarray) -> np.ndarray:
        """Observed fluxes (microjansky, FILTERS order) of galaxies, shape (galaxies, 24).

        ``weights``: (galaxies, metallicity, age) mass formed (M_sun), bagpipes' ``ceh.grid``;
        ``av``: Calzetti A_V (mag); ``redshift`` > 0 and <= MAX_REDSHIFT.
        """
        z = np.atleast_1d(np.asarray(redshift, dtype=float))
        if np.any(z <= 0) or np.any(z > MAX_REDSHIFT):
            raise ValueError(f"the SPS grid covers 0 < z <= {MAX_REDSHIFT}")
        with _one_blas_thread():
            return self._photometry(weights, np.asarray(av, dtype=float), z)

    def band_flux(
        self, weights: np.ndarray, av: np.ndarray, redshift: np.ndarray, band: int
    ) -> np.ndarray:
        """``photometry(weights, av, redshift)[:, band]`` for an optical or near-UV band.

        Only the rest-frame wavelengths the band can see (z <= MAX_REDSHIFT) are computed, about
        a seventh of the grid for r: the sky's mass solve needs nothing else. Exact when neither
        the DL07 dust emission nor the IGM reach those wavelengths (checked; ValueError if not).
        """
        z = np.atleast_1d(np.asarray(redshift, dtype=float))
        if np.any(z <= 0) or np.any(z > MAX_REDSHIFT):
            raise ValueError(f"the SPS grid covers 0 < z <= {MAX_REDSHIFT}")
        window, _, _, start = self._window((band,))
        columns = np.arange(start, window[-1] + 1)
        if np.any(self.dust_emission[columns] != 0) or np.isin(self.igm_rows, columns).any():
            raise ValueError(f"band {band} sees dust emission or the IGM: use photometry()")
        av = np.asarray(av, dtype=float)
        with _one_blas_thread():
            spectrum = self._stellar(weights, self._basis64[:, :, start : window[-1] + 1])
            spectrum *= 10 ** (-av[:, None] * self.a_cont[None, columns] / 2.5)
            spectrum *= self._flux_scale(z)[:, None]
            return self._band_fluxes(spectrum, z, (band,))[:, 0]

    def _photometry(self, weights: np.ndarray, av: np.ndarray, z: np.ndarray) -> np.ndarray:
        spectrum = self._stellar(weights, self._basis64)
        trans = 10 ** (-av[:, None] * self.a_cont[None, :] / 2.5)
        absorbed = np.trapezoid(spectrum * (1.0 - trans), x=self.wavelengths, axis=1)
        spectrum *= trans
        spectrum += absorbed[:, None] * self.dust_emission[None, :]
        spectrum[:, self.igm_rows] *= self._igm_transmission(z)
        spectrum *= self._flux_scale(z)[:, None]
        return self._band_fluxes(spectrum, z, tuple(range(self.filters.shape[1])))

    def _stellar(self, weights: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """Unattenuated spectra (galaxies, basis columns): weights times the basis spectra."""
        spectrum = np.zeros((weights.shape[0], basis.shape[-1]))
        for node in range(self.metallicities.size):  # each galaxy uses one or two nodes
            rows = np.flatnonzero(np.any(weights[:, node] != 0, axis=1))
            if rows.size:
                spectrum[rows] += weights[rows, node] @ basis[node]
        return spectrum

    def _flux_scale(self, z: np.ndarray) -> np.ndarray:
        """L_sun/A at the source -> erg/s/cm^2/A observed, per galaxy."""
        lum_flux = 4 * np.pi * (_MPC_CM * np.interp(z, self.z_array, self.ldist_mpc)) ** 2
        return _L_SUN_CGS / (lum_flux * (1.0 + z))

    @cached_property
    def _basis64(self) -> np.ndarray:
        return self.basis.astype(np.float64)

    def _igm_transmission(self, z: np.ndarray) -> np.ndarray:
        """bagpipes' ``igm.trans``: linear in redshift between the table's columns."""
        index = np.searchsorted(self.igm_redshifts, z, side="left")  # first node >= z
        index = np.clip(index, 1, self.igm_redshifts.size - 1)
        lower = self.igm_redshifts[index - 1]
        fraction = (z - lower) / (self.igm_redshifts[index] - lower)
        return (
            self.igm[:, index - 1] * (1.0 - fraction) + self.igm[:, index] * fraction
        ).T  # (galaxies, igm rows)

    @lru_cache(maxsize=32)  # noqa: B019 (grids live for the process, ~2 of them)
    def _window(self, bands: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, float, int]:
        """Grid indices where one of ``bands`` is non-zero (+1 each side), their filter rows
        there, the constant ratio of consecutive wavelengths over every index a redshift can
        reach, and the first grid index ``_band_fluxes`` reads."""
        used = np.flatnonzero(np.any(self.filters[:, list(bands)] > 0, axis=1))
        window = np.arange(used[0] - 1, used[-1] + 2)
        lowest = np.searchsorted(self.wavelengths, self.wavelengths[window[0]] / (1 + MAX_REDSHIFT))
        ratios = (
            self.wavelengths[lowest : window[-1] + 2]
            / self.wavelengths[lowest - 1 : window[-1] + 1]
        )
        if not np.allclose(ratios, ratios[0], rtol=1e-12, atol=0):
            raise ValueError("the SPS grid's wavelengths are not geometric over the filters")
        filters = self.filters[window][:, list(bands)].astype(np.float64)
        return window, filters, float(ratios[0]), int(max(lowest - 2, 0))

    def _band_fluxes(self, spectrum: np.ndarray, z: np.ndarray, bands: tuple[int, ...]):
        """bagpipes' ``filter_set.get_photometry`` for every galaxy at its own redshift.

        bagpipes integrates ``f_lambda * width * lambda * T(lambda (1 + z))`` over the rest-frame
        grid, with ``T`` linearly interpolated at ``lambda (1 + z)``. On the geometric part of
        the grid that holds every filter, ``lambda_k (1 + z)`` lies a constant ``d + t`` steps
        above ``lambda_k``, so each filter point ``m`` collects ``(1 - t) v[m - d] + t v[m - d - 1]``
        of the weighted spectrum ``v``: two shifted slices and one matrix product. ``spectrum``
        holds the grid's columns from index 0 (all of them) or from ``_window(bands)``'s start.
        """
        window, filters, ratio, start = self._window(bands)
        offset = 0 if spectrum.shape[1] == self.wavelengths.size else start
        steps = np.log1p(z) / math.log(ratio)
        shift = np.floor(steps + 1e-9).astype(int)
        fraction = (ratio ** (steps - shift) - 1.0) / (ratio - 1.0)
        weight = (self.widths * self.wavelengths)[offset : offset + spectrum.shape[1]]
        lower = window[None, :] - shift[:, None] - offset
        collected = np.empty((z.size, 2, window.size))
        for values, out in (
            (spectrum * weight, collected[:, 0]),
            (weight[None, :], collected[:, 1]),
        ):
            source = np.broadcast_to(values, spectrum.shape)
            near = np.take_along_axis(source, lower, axis=1)
            far = np.take_along_axis(source, lower - 1, axis=1)
            out[:] = (1.0 - fraction)[:, None] * near + fraction[:, None] * far
        flux = collected[:, 0] @ filters
        norm = collected[:, 1] @ filters
        eff_wavs = self.eff_wavs[list(bands)]
        return flux / norm / (1e-29 * _LIGHT_ANGSTROM_PER_S / eff_wavs**2)


@lru_cache(maxsize=1)
def load_grid(path: Path = GRID_PATH) -> SPSGrid:
    """The shipped grid, loaded once per process (~1 MB)."""
    with np.load(path) as data:
        names = tuple(str(n) for n in data["filter_names"])
        if names != tuple(spec.name for spec in FILTERS):
            raise ValueError(f"{path} was built for other filters; rebuild it (build_grid)")
        fields = SPSGrid.__dataclass_fields__
        return SPSGrid(**{key: np.array(data[key]) for key in fields})


if __name__ == "__main__":
    print(f"wrote {build_grid(Path(sys.argv[1]) if len(sys.argv) > 1 else GRID_PATH)}")
