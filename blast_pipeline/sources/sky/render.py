"""Rendering simulated cutouts: pixel grid and WCS, noiseless scene model, noise, FITS header.

A cutout is a north-up gnomonic (TAN) image centred on the requested position with Blast's pixel
scale and ``int(fov / pixel_scale)`` pixels a side (``filters.cutout_size_pixels``). Each galaxy
is rendered once per pixel grid on its own stamp (unit flux, ``sersic``) and, per filter,
convolved with a Gaussian PSF of the filter's FWHM (separable, exact for a Gaussian), scaled to
the galaxy's flux in image units and added to the frame; stars are pixel-integrated Gaussians.
Image units come from ``blast_pipeline.science.units`` used inversely:
``value = flux_uJy / microjansky_per_count(spec, image_zero_point(spec, header))``, so the
pipeline's conversion recovers the simulated fluxes exactly.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.ndimage import correlate1d
from scipy.special import erf

from blast_pipeline.science.filters import FILTERS, FilterSpec, cutout_size_pixels
from blast_pipeline.science.units import image_zero_point, microjansky_per_count
from blast_pipeline.sources.sky.imaging import (
    CD_MATRIX_SURVEYS,
    imaging_setup,
    survey_header_cards,
)
from blast_pipeline.sources.sky.population import FILTER_INDEX, Galaxy, Star
from blast_pipeline.sources.sky.sersic import TRUNCATION_IN_RE, render_sersic

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
PSF_TRUNCATE_SIGMA = 4.0


@dataclass(frozen=True)
class CutoutGrid:
    """The pixel grid of one cutout: centre, size and pixel scale (north up, east left)."""

    ra_deg: float
    dec_deg: float
    n_pixels: int
    scale_arcsec: float
    use_cd_matrix: bool

    def header(self) -> fits.Header:
        """The celestial WCS cards of this grid."""
        header = fits.Header()
        degrees = self.scale_arcsec / 3600.0
        header["WCSAXES"] = 2
        header["CTYPE1"] = ("RA---TAN", "Right ascension, gnomonic projection")
        header["CTYPE2"] = ("DEC--TAN", "Declination, gnomonic projection")
        header["CRPIX1"] = ((self.n_pixels + 1) / 2.0, "Pixel coordinate of reference point")
        header["CRPIX2"] = ((self.n_pixels + 1) / 2.0, "Pixel coordinate of reference point")
        header["CRVAL1"] = (self.ra_deg, "[deg] RA at reference point")
        header["CRVAL2"] = (self.dec_deg, "[deg] Dec at reference point")
        if self.use_cd_matrix:
            header["CD1_1"] = -degrees
            header["CD1_2"] = 0.0
            header["CD2_1"] = 0.0
            header["CD2_2"] = degrees
        else:
            header["CDELT1"] = (-degrees, "[deg] Coordinate increment at reference point")
            header["CDELT2"] = (degrees, "[deg] Coordinate increment at reference point")
        header["CUNIT1"] = "deg"
        header["CUNIT2"] = "deg"
        header["RADESYS"] = "ICRS"
        header["EQUINOX"] = 2000.0
        return header

    def wcs(self) -> WCS:
        return WCS(self.header())


def cutout_grid(ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float) -> CutoutGrid:
    """Blast's cutout geometry for ``spec`` around a position."""
    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg)) or not -90 <= dec_deg <= 90:
        raise ValueError(f"invalid cutout centre ra={ra_deg}, dec={dec_deg}")
    if not (np.isfinite(fov_arcsec) and fov_arcsec > 0):
        raise ValueError(f"fov_arcsec must be a positive number, got {fov_arcsec}")
    n_pixels = cutout_size_pixels(spec, fov_arcsec)
    if n_pixels < 1:
        raise ValueError(
            f"fov_arcsec={fov_arcsec} is smaller than one {spec.name} pixel "
            f"({spec.pixel_size_arcsec} arcsec)"
        )
    return CutoutGrid(
        float(ra_deg) % 360.0,
        float(dec_deg),
        n_pixels,
        spec.pixel_size_arcsec,
        spec.survey in CD_MATRIX_SURVEYS,
    )


def image_header(grid: CutoutGrid, spec: FilterSpec, seed: int) -> fits.Header:
    """The full header of a cutout: WCS, survey calibration keywords, provenance."""
    header = grid.header()
    for key, value, comment in survey_header_cards(spec):
        header[key] = (value, comment)
    header["BLASTFLT"] = (spec.name, "Blast filter name")
    header["PSFFWHM"] = (spec.image_fwhm_arcsec, "[arcsec] Gaussian PSF FWHM")
    header["SIMULATD"] = (True, "blast-pipeline simulated sky")
    header["SIMSEED"] = (seed, "simulated sky seed")
    return header


def image_units_per_microjansky(spec: FilterSpec, header: fits.Header) -> float:
    """Image units per AB microjansky, the inverse of the pipeline's conversion."""
    return 1.0 / microjansky_per_count(spec, image_zero_point(spec, header))


@lru_cache(maxsize=64)
def psf_kernel_1d(sigma_pixels: float) -> np.ndarray:
    """Normalised 1-d Gaussian (float32) truncated at PSF_TRUNCATE_SIGMA; the PSF is separable."""
    radius = int(PSF_TRUNCATE_SIGMA * sigma_pixels + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_pixels) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def _survey_padding(spec: FilterSpec) -> int:
    """Zero padding (pixels) around stamps: enough for the widest PSF of the survey."""
    widest = max(f.image_fwhm_arcsec for f in FILTERS if f.survey == spec.survey)
    sigma = widest * FWHM_TO_SIGMA / spec.pixel_size_arcsec
    return int(math.ceil(PSF_TRUNCATE_SIGMA * sigma)) + 2


@dataclass(frozen=True)
class _Stamp:
    galaxy: Galaxy
    x0: int
    y0: int
    unit_image: np.ndarray  # float32, unit flux, unconvolved, zero-padded for the PSF


class SceneRenderer:
    """Noiseless images of galaxies and stars; caches unconvolved stamps per pixel grid."""

    def __init__(self, max_grids: int = 16) -> None:
        self._max_grids = max_grids
        self._stamps: OrderedDict[tuple, list[_Stamp]] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def _grid_stamps(
        self, grid: CutoutGrid, spec: FilterSpec, galaxies: Sequence[Galaxy], key_extra: object
    ) -> list[_Stamp]:
        key = (grid, spec.survey, key_extra)
        with self._guard:
            if key in self._stamps:
                self._stamps.move_to_end(key)
                return self._stamps[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._stamps:
                    return self._stamps[key]
            stamps = _render_stamps(grid, spec, galaxies)
            with self._guard:
                self._stamps[key] = stamps
                self._locks.pop(key, None)
                while len(self._stamps) > self._max_grids:
                    self._stamps.popitem(last=False)
            return stamps

    def model(
        self,
        grid: CutoutGrid,
        spec: FilterSpec,
        header: fits.Header,
        galaxies: Sequence[Galaxy],
        stars: Sequence[Star],
        key_extra: object = None,
    ) -> np.ndarray:
        """The noiseless image (float64, image units) of the scene in ``spec``."""
        n = grid.n_pixels
        frame = np.zeros((n, n))
        per_ujy = image_units_per_microjansky(spec, header)
        sigma = spec.image_fwhm_arcsec * FWHM_TO_SIGMA / grid.scale_arcsec
        kernel = psf_kernel_1d(sigma)
        stamps = self._grid_stamps(grid, spec, galaxies, key_extra)
        margin = 2 * _survey_padding(spec)  # stamps start at >= -2 * padding
        if sum(stamp.unit_image.size for stamp in stamps) > (n + 2 * margin) ** 2 // 2:
            # Large stamps (nearby galaxies): cheaper to convolve the whole padded frame once.
            padded = np.zeros((n + 2 * margin, n + 2 * margin), dtype=np.float32)
            for stamp in stamps:
                flux = stamp.galaxy.flux(spec) * per_ujy
                if flux > 0:
                    _add_clipped(
                        padded,
                        stamp.unit_image * np.float32(flux),
                        stamp.x0 + margin,
                        stamp.y0 + margin,
                    )
            padded = correlate1d(padded, kernel, axis=0, mode="constant")
            padded = correlate1d(padded, kernel, axis=1, mode="constant")
            frame += padded[margin : margin + n, margin : margin + n]
        else:
            for stamp in stamps:
                flux = stamp.galaxy.flux(spec) * per_ujy
                if flux <= 0:
                    continue
                image = correlate1d(stamp.unit_image, kernel, axis=0, mode="constant")
                image = correlate1d(image, kernel, axis=1, mode="constant")
                _add_clipped(frame, image * flux, stamp.x0, stamp.y0)
        if stars:
            _add_stars(frame, grid, spec, stars, per_ujy, sigma)
        return frame


def _render_stamps(grid: CutoutGrid, spec: FilterSpec, galaxies: Sequence[Galaxy]) -> list[_Stamp]:
    if not galaxies:
        return []
    pad = _survey_padding(spec)
    n = grid.n_pixels
    ra = np.array([g.ra_deg for g in galaxies])
    dec = np.array([g.dec_deg for g in galaxies])
    x, y = grid.wcs().all_world2pix(ra, dec, 0)
    stamps = []
    for k, galaxy in enumerate(galaxies):
        r_e_pixels = galaxy.r_e_arcsec / grid.scale_arcsec
        # bounding box of the truncation ellipse (x is west, y is north)
        major = TRUNCATION_IN_RE * r_e_pixels
        minor = major * galaxy.axis_ratio
        pa = math.radians(galaxy.pa_deg)
        half_x = math.hypot(major * math.sin(pa), minor * math.cos(pa)) + 1.0
        half_y = math.hypot(major * math.cos(pa), minor * math.sin(pa)) + 1.0
        # the profile is evaluated on the inner box only; the PSF padding is zeros
        x0 = max(int(math.floor(x[k] - half_x)), -pad)
        x1 = min(int(math.ceil(x[k] + half_x)) + 1, n + pad)
        y0 = max(int(math.floor(y[k] - half_y)), -pad)
        y1 = min(int(math.ceil(y[k] + half_y)) + 1, n + pad)
        if x1 <= x0 or y1 <= y0:
            continue
        unit = render_sersic(
            float(x[k]),
            float(y[k]),
            (x0, x1),
            (y0, y1),
            r_e_pixels,
            galaxy.sersic_n,
            galaxy.axis_ratio,
            galaxy.pa_deg,
        )
        stamps.append(_Stamp(galaxy, x0 - pad, y0 - pad, np.pad(unit.astype(np.float32), pad)))
    return stamps


def _add_clipped(frame: np.ndarray, image: np.ndarray, x0: int, y0: int) -> None:
    """Add ``image`` whose lower-left pixel is (x0, y0) into ``frame``, clipping at the edges."""
    ny, nx = frame.shape
    h, w = image.shape
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, nx), min(y0 + h, ny)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    frame[fy0:fy1, fx0:fx1] += image[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]


def _add_stars(
    frame: np.ndarray,
    grid: CutoutGrid,
    spec: FilterSpec,
    stars: Sequence[Star],
    per_ujy: float,
    sigma: float,
) -> None:
    x, y = grid.wcs().all_world2pix(
        np.array([s.ra_deg for s in stars]), np.array([s.dec_deg for s in stars]), 0
    )
    half = int(math.ceil(5 * sigma)) + 1
    root2sigma = math.sqrt(2.0) * sigma
    for k, star in enumerate(stars):
        flux = star.flux(spec) * per_ujy
        xi, yi = int(round(x[k])), int(round(y[k]))
        xs = np.arange(xi - half, xi + half + 1)
        ys = np.arange(yi - half, yi + half + 1)
        px = 0.5 * (erf((xs + 0.5 - x[k]) / root2sigma) - erf((xs - 0.5 - x[k]) / root2sigma))
        py = 0.5 * (erf((ys + 0.5 - y[k]) / root2sigma) - erf((ys - 0.5 - y[k]) / root2sigma))
        _add_clipped(frame, flux * np.outer(py, px), xi - half, yi - half)


def cutout_noise_rng(seed: int, spec: FilterSpec, grid: CutoutGrid) -> np.random.Generator:
    """The noise stream of a cutout, seeded by (seed, filter, centre, size): the same request
    gets the same pixels."""
    return np.random.default_rng(
        np.random.SeedSequence(
            [
                seed,
                1000 + FILTER_INDEX[spec.name],
                int(round(grid.ra_deg * 1e7)),
                int(round((grid.dec_deg + 90.0) * 1e7)),
                grid.n_pixels,
            ]
        )
    )


def add_noise(
    model: np.ndarray, spec: FilterSpec, per_ujy: float, rng: np.random.Generator
) -> np.ndarray:
    """A noisy float32 image: sky pedestal, sky noise and source shot noise (``imaging``)."""
    setup = imaging_setup(spec)
    if spec.survey == "GALEX":
        expected = (np.clip(model, 0.0, None) + setup.pedestal) * setup.exptime_s
        return (rng.poisson(expected) / setup.exptime_s).astype(np.float32)
    sigma_psf = spec.image_fwhm_arcsec * FWHM_TO_SIGMA / spec.pixel_size_arcsec
    flux_5sigma = 10 ** (-0.4 * (setup.depth_ab - 23.9)) * per_ujy
    sky_sigma = flux_5sigma / (5.0 * math.sqrt(4.0 * math.pi) * sigma_psf)
    image = model.astype(np.float32)
    noise = rng.standard_normal(model.shape, dtype=np.float32)
    if setup.noise_correlation_px > 0:
        noise = correlate_noise(noise, setup.noise_correlation_px)
    # sky noise plus source shot noise: sigma = sky_sigma sqrt(1 + model / (gain sky_sigma^2))
    scale = np.clip(image, 0.0, None)
    scale *= np.float32(1.0 / (setup.electrons_per_unit * sky_sigma**2))
    scale += np.float32(1.0)
    np.sqrt(scale, out=scale)
    scale *= np.float32(sky_sigma)
    noise *= scale
    image += noise
    if setup.pedestal:
        image += np.float32(setup.pedestal)
    return image


def correlate_noise(noise: np.ndarray, sigma_px: float) -> np.ndarray:
    """Unit white noise smoothed with a normalised Gaussian of ``sigma_px`` pixels and scaled
    back to unit per-pixel variance (float32, same shape)."""
    half = max(1, int(math.ceil(4.0 * sigma_px)))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_px) ** 2)
    taps /= taps.sum()
    smoothed = correlate1d(noise, taps.astype(np.float32), axis=0, mode="wrap")
    smoothed = correlate1d(smoothed, taps.astype(np.float32), axis=1, mode="wrap")
    smoothed *= np.float32(1.0 / np.sum(taps**2))  # per-pixel variance back to 1
    return smoothed
