"""PNG thumbnails of a cutout with the transient, the host and the apertures (reference 1.5).

Blast renders these with Bokeh and a headless browser. Here the image is mapped to grey levels
with numpy (zscale interval, asinh stretch) and the overlays are drawn with Pillow: no browser,
no plotting state, safe in worker threads, and a few times cheaper than a matplotlib figure
(whose image resampling and RGBA encoding dominated the thumbnail tasks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval
from astropy.wcs import WCS
from matplotlib import font_manager
from matplotlib.colors import to_rgb
from photutils.aperture import CircularAperture, EllipticalAperture, PixelAperture, SkyAperture
from PIL import Image, ImageDraw, ImageFont

__all__ = ["MAX_THUMBNAIL_PIXELS", "render_thumbnail_png", "shrink_png"]

MAX_THUMBNAIL_PIXELS = 800
#: Points on an aperture outline.
_OUTLINE_POINTS = 180


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

    The image is shown with a zscale interval and an asinh stretch, north up; the transient is
    a cyan cross, the host a red x, and each ``(aperture, colour, label)`` an outline (any
    matplotlib colour name) with a legend entry; ``title`` is written top left.
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

    # The stretch is set by the whole image; each canvas pixel shows the image pixel under its
    # centre (a nearest-neighbour display), row 0 at the bottom.
    norm = ImageNormalize(data, interval=ZScaleInterval(), stretch=AsinhStretch(), clip=True)
    levels = np.nan_to_num(np.ma.getdata(norm(_canvas_samples(data, size))), nan=0.0)
    grey = np.round(levels[::-1] * 255.0).astype(np.uint8)
    canvas = Image.fromarray(grey, mode="L").convert("RGB")
    draw = ImageDraw.Draw(canvas, "RGBA")
    ny, nx = data.shape

    def to_canvas(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        cx = (np.asarray(x, dtype=float) + 0.5) * (size / nx)
        cy = size - (np.asarray(y, dtype=float) + 0.5) * (size / ny)
        return list(zip(np.atleast_1d(cx).tolist(), np.atleast_1d(cy).tolist(), strict=True))

    legend: list[tuple[str, tuple[int, int, int], str]] = []
    tx, ty = wcs.world_to_pixel(SkyCoord(transient[0] * u.deg, transient[1] * u.deg))
    _marker(draw, to_canvas(tx, ty)[0], "+", _rgb("cyan"), 10)
    legend.append(("+", _rgb("cyan"), "transient"))
    if host is not None:
        hx, hy = wcs.world_to_pixel(SkyCoord(host[0] * u.deg, host[1] * u.deg))
        _marker(draw, to_canvas(hx, hy)[0], "x", _rgb("red"), 7)
        legend.append(("x", _rgb("red"), "host"))
    for aperture, colour, label in apertures:
        for x, y in _outlines(aperture.to_pixel(wcs)):
            draw.line(to_canvas(x, y), fill=_rgb(colour), width=2)
        legend.append(("o", _rgb(colour), label))
    _legend(draw, legend, size)
    if title:
        font = _font(15)
        left, top, right, bottom = draw.textbbox((8, 8), title, font=font)
        draw.rectangle((left - 4, top - 3, right + 4, bottom + 3), fill=(0, 0, 0, 128))
        draw.text((8, 8), title, fill=(255, 255, 255), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    # zlib level 1: several times faster than the default on noisy images.
    canvas.save(path, format="PNG", compress_level=1)
    return path


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(round(255 * c) for c in to_rgb(colour))


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib) at ``size`` pixels."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _marker(draw: ImageDraw.ImageDraw, at: tuple[float, float], kind: str, colour, half: float):
    x, y = at
    if kind == "+":
        draw.line([(x - half, y), (x + half, y)], fill=colour, width=2)
        draw.line([(x, y - half), (x, y + half)], fill=colour, width=2)
    elif kind == "x":
        draw.line([(x - half, y - half), (x + half, y + half)], fill=colour, width=2)
        draw.line([(x - half, y + half), (x + half, y - half)], fill=colour, width=2)
    else:
        draw.rectangle(
            (x - half, y - half * 0.6, x + half, y + half * 0.6), outline=colour, width=2
        )


def _outlines(aperture: PixelAperture) -> list[tuple[np.ndarray, np.ndarray]]:
    """Closed outlines (pixel x, y) of a circular or elliptical aperture, one per position."""
    t = np.linspace(0.0, 2.0 * math.pi, _OUTLINE_POINTS + 1)
    if isinstance(aperture, CircularAperture):
        a = b = float(aperture.r)
        theta = 0.0
    elif isinstance(aperture, EllipticalAperture):
        a, b = float(aperture.a), float(aperture.b)
        theta = u.Quantity(aperture.theta, u.rad).value if aperture.theta is not None else 0.0
    else:
        raise TypeError(f"cannot outline a {type(aperture).__name__}")
    outlines = []
    for x0, y0 in np.atleast_2d(aperture.positions):
        x = x0 + a * np.cos(t) * math.cos(theta) - b * np.sin(t) * math.sin(theta)
        y = y0 + a * np.cos(t) * math.sin(theta) + b * np.sin(t) * math.cos(theta)
        outlines.append((x, y))
    return outlines


def _legend(draw: ImageDraw.ImageDraw, entries, size: int) -> None:
    """The legend box in the lower right corner."""
    if not entries:
        return
    font = _font(12)
    line = 18
    width = max(draw.textlength(label, font=font) for _, _, label in entries) + 40
    height = line * len(entries) + 8
    left, top = size - width - 6, size - height - 6
    draw.rectangle((left, top, size - 6, size - 6), fill=(255, 255, 255, 153))
    for k, (kind, colour, label) in enumerate(entries):
        y = top + 4 + line * k + line / 2
        _marker(draw, (left + 14, y), "rect" if kind == "o" else kind, colour, 7)
        draw.text((left + 28, y), label, fill=(0, 0, 0), font=font, anchor="lm")


def _canvas_samples(data: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` x ``size`` canvas of ``data`` shown across the whole canvas: for each canvas
    pixel, the image pixel under its centre (smaller images are enlarged, larger reduced)."""
    ny, nx = data.shape
    rows = np.minimum(((np.arange(size) + 0.5) * (ny / size)).astype(int), ny - 1)
    cols = np.minimum(((np.arange(size) + 0.5) * (nx / size)).astype(int), nx - 1)
    return data[np.ix_(rows, cols)]


def shrink_png(source: str | Path, target: str | Path, size_pixels: int) -> Path:
    """Write a copy of the PNG ``source`` at most ``size_pixels`` a side (Lanczos resampling,
    aspect kept): a preview of a rendered thumbnail without rendering it again."""
    size = int(size_pixels)
    if size < 1:
        raise ValueError(f"size_pixels must be positive, got {size_pixels}")
    target = Path(target)
    with Image.open(source) as image:
        image.load()
        preview = image.copy()
    preview.thumbnail((size, size), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    preview.save(target, format="PNG", compress_level=1)
    return target
