"""Images for the transient page: a cutout cropped around the host with the apertures drawn,
and the photometric SED. Pure numpy/astropy/matplotlib; PNG bytes out."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.nddata import Cutout2D
from astropy.wcs import WCS
from photutils.aperture import SkyAperture

from blast_pipeline.science.thumbnails import render_thumbnail_png

#: Smallest and largest half-width (arcsec) of the crop around the host.
MIN_HALF_WIDTH_ARCSEC = 15.0
MAX_HALF_WIDTH_ARCSEC = 180.0
GALLERY_PIXELS = 300


def crop_half_width_arcsec(
    transient: tuple[float, float],
    centre: tuple[float, float],
    aperture_semi_major_arcsec: float | None,
) -> float:
    """Half-width of a crop centred on ``centre`` (the host, else the transient) that shows the
    whole global aperture (x1.5) and the transient, within 15-180 arcsec."""
    offset = SkyCoord(*transient, unit="deg").separation(SkyCoord(*centre, unit="deg")).arcsec
    half = max(1.5 * (aperture_semi_major_arcsec or 0.0), 1.3 * offset + 5.0)
    return float(np.clip(half, MIN_HALF_WIDTH_ARCSEC, MAX_HALF_WIDTH_ARCSEC))


def render_cutout_png(
    image: np.ndarray,
    wcs: WCS,
    path: str | Path,
    *,
    transient: tuple[float, float],
    host: tuple[float, float] | None,
    apertures: Sequence[tuple[SkyAperture, str, str]] = (),
    half_width_arcsec: float,
    title: str,
) -> Path:
    """Write a PNG of ``image`` cropped to ``half_width_arcsec`` around the host (else the
    transient), zscale interval and asinh stretch, transient, host and apertures marked."""
    wcs = wcs.celestial
    centre = host or transient
    from astropy.wcs.utils import proj_plane_pixel_scales

    scale = float(np.mean(np.abs(proj_plane_pixel_scales(wcs)))) * 3600.0  # deg -> arcsec
    side = max(8, int(round(2 * half_width_arcsec / scale)))
    crop = Cutout2D(
        np.asarray(image, dtype=float),
        SkyCoord(*centre, unit="deg"),
        (side, side),
        wcs=wcs,
        mode="partial",
        fill_value=np.nan,
    )
    return render_thumbnail_png(
        crop.data,
        crop.wcs,
        path,
        transient=transient,
        host=host,
        apertures=apertures,
        title=title,
        size_pixels=GALLERY_PIXELS,
    )


def render_sed_png(
    series: Sequence[tuple[str, Sequence[float], Sequence[float], Sequence[float | None]]],
) -> bytes:
    """The SED: flux density (uJy) against effective wavelength (micron), log-log, one series
    per ``(label, wavelengths in angstrom, fluxes in uJy, errors in uJy or None)``; points
    without a positive flux are left out."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    axes = figure.add_subplot()
    plotted = False
    for (label, wavelengths, fluxes, errors), marker in zip(series, "os^d", strict=False):
        w = np.asarray(wavelengths, dtype=float) / 1e4
        f = np.asarray(fluxes, dtype=float)
        e = np.asarray([np.nan if x is None else x for x in errors], dtype=float)
        keep = np.isfinite(f) & (f > 0)
        if not keep.any():
            continue
        axes.errorbar(
            w[keep], f[keep], yerr=np.nan_to_num(e[keep]), fmt=marker, label=label, capsize=2
        )
        plotted = True
    if plotted:
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no positive flux", ha="center", va="center")
    axes.set_xlabel("wavelength (micron)")
    axes.set_ylabel("flux density (uJy)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
