"""Correlated noise measured on the image itself, with random empty apertures.

Resampled survey images (WISE Atlas, 2MASS Atlas, SDSS and Legacy Survey mosaics, PanSTARRS
stacks) have pixel noise correlated over a few pixels, so the noise of an aperture sum is larger
than the independent-pixel error ``sqrt(sum rms**2)`` that `calc_total_error` gives (WISE: 2-7x,
Blast's ``WISE_W*_corrmodel.txt`` tables). `empty_aperture_noise` measures, for a grid of
circular aperture radii, the ratio of the variance of background-subtracted sums in random
apertures that touch no source (the source mask) and no invalid pixel to the independent-pixel
variance the background RMS map predicts for the same apertures; the result is a
`CorrelatedNoiseModel` (radius in pixels -> variance ratio), the same form as Blast's tables.
The scatter is a 3-sigma-clipped standard deviation (faint undetected sources do not inflate
it); at large radii it includes the error of the background estimate, which the photometry has
too. Ratios from
fewer than `MIN_APERTURES` empty apertures are not kept; without any, there is no model.
"""

from __future__ import annotations

import numpy as np
from astropy.stats import sigma_clipped_stats

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.photometry import CorrelatedNoiseModel

__all__ = ["DEFAULT_RADII_PIX", "MIN_APERTURES", "EmptyApertureNoise", "empty_aperture_noise"]

#: Aperture radii (pixels) the ratio is measured at; radii beyond a sixth of the image's
#: smaller side are left out (the table is clamped at its last radius, as Blast's is).
DEFAULT_RADII_PIX = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
#: Random centres tried per radius, and the fewest empty apertures a ratio is taken from.
CANDIDATES = 4000
MAX_APERTURES = 1000
MIN_APERTURES = 40


def _disc(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (dy, dx) and exact-ish weights of a disc (4x4 sub-pixel sampling)."""
    half = int(np.ceil(radius + 0.5))
    offsets = np.arange(-half, half + 1)
    sub = (np.arange(4) + 0.5) / 4.0 - 0.5
    yy = offsets[:, None, None, None] + sub[None, None, :, None]
    xx = offsets[None, :, None, None] + sub[None, None, None, :]
    weight = ((yy**2 + xx**2) <= radius**2).mean(axis=(2, 3))
    dy, dx = np.nonzero(weight > 0)
    return dy - half, dx - half, weight[dy, dx]


class EmptyApertureNoise:
    """The correlated noise of one analysed image, measured on demand at each aperture radius
    the photometry asks for (`error_factor`, cached), so an image pays for the one or two
    radii its apertures have. Seeded: the same image gives the same factors."""

    def __init__(self, analysis: ImageAnalysis, *, seed: int = 0) -> None:
        self.analysis = analysis
        self.seed = seed
        excluded = analysis.invalid_mask
        if analysis.source_mask is not None:
            excluded = excluded | analysis.source_mask
        # summed-area table of the excluded pixels: "is this square empty?" in O(1)
        self._excluded = np.pad(excluded.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        self._ratios: dict[float, float | None] = {}

    @property
    def max_radius_pix(self) -> float:
        return min(self.analysis.shape) / 6.0

    def ratio(self, radius_pix: float) -> float | None:
        """Variance ratio at this radius (see the module docstring), None when fewer than
        `MIN_APERTURES` empty apertures fit or the radius exceeds `max_radius_pix`."""
        key = round(float(radius_pix), 2)
        if key not in self._ratios:
            self._ratios[key] = self._measure(key)
        return self._ratios[key]

    def error_factor(self, radius_pix: float) -> float:
        """Multiplier of the independent-pixel flux error of an aperture of this (mean) radius:
        measured at the radius (at most `max_radius_pix`, halved until enough empty apertures
        fit); 1 when nothing can be measured."""
        radius = min(max(float(radius_pix), 0.5), self.max_radius_pix)
        while radius >= 0.5:
            value = self.ratio(radius)
            if value is not None:
                return float(np.sqrt(value))
            radius /= 2.0
        return 1.0

    def _measure(self, radius: float) -> float | None:
        analysis = self.analysis
        ny, nx = analysis.shape
        half = int(np.ceil(radius + 0.5))
        if radius > self.max_radius_pix or 2 * half + 1 >= min(ny, nx):
            return None
        dy, dx, weight = _disc(radius)
        rng = np.random.default_rng([self.seed, int(radius * 100)])
        yc = rng.integers(half, ny - half, CANDIDATES)
        xc = rng.integers(half, nx - half, CANDIDATES)
        sat = self._excluded
        y0, y1, x0, x1 = yc - half, yc + half + 1, xc - half, xc + half + 1
        in_square = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
        # at most ~200k pixels gathered per radius: large apertures overlap anyway
        n_max = int(min(MAX_APERTURES, max(MIN_APERTURES, 200_000 // weight.size)))
        empty = np.flatnonzero(in_square == 0)[:n_max]
        if empty.size < MIN_APERTURES:
            return None
        ys = yc[empty, None] + dy[None, :]
        xs = xc[empty, None] + dx[None, :]
        residual = analysis.data[ys, xs] - analysis.background_map.points(ys, xs)
        sums = (residual * weight).sum(axis=1)
        variance = np.square(analysis.rms_map.points(ys, xs))
        expected = float(np.mean((variance * weight).sum(axis=1)))  # as the photometry sums
        if not expected > 0:
            return None
        _, _, std = sigma_clipped_stats(sums, sigma=3.0, maxiters=5)
        return float(std) ** 2 / expected


def empty_aperture_noise(
    analysis: ImageAnalysis,
    radii_pix: tuple[float, ...] = DEFAULT_RADII_PIX,
    *,
    seed: int = 0,
) -> CorrelatedNoiseModel | None:
    """The correlated-noise table of an analysed image at ``radii_pix`` (the radii with
    enough empty apertures), or None when there is none."""
    noise = EmptyApertureNoise(analysis, seed=seed)
    radii, ratios = [], []
    for radius in radii_pix:
        value = noise.ratio(radius)
        if value is not None:
            radii.append(float(radius))
            ratios.append(value)
    if not radii:
        return None
    return CorrelatedNoiseModel.from_arrays(radii, ratios)
