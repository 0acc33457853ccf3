"""The SED thumbnail (reference 1.5, Blast's ``render_sed_plot`` at 688 x 400): observed
photometry with error bars, 3-sigma upper limits for the points not fitted, the posterior model
SED (median and 16-84 % band, observed frame) and the filter names, in µJy against observed
wavelength. Drawn with matplotlib's object API on the Agg canvas (no pyplot state: safe in
worker threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

#: Blast's SED plot size, pixels.
SED_PLOT_PIXELS = (688, 400)
_DPI = 100
#: Short survey names for the filter labels.
_SHORT = {"PanSTARRS": "PS1", "GALEX": "GALEX", "2MASS": "2MASS", "WISE": "WISE"}


def _label(filter_name: str) -> str:
    survey, _, band = filter_name.partition("_")
    return f"{_SHORT.get(survey, survey)} {band}"


@dataclass(frozen=True)
class PlotPhotometry:
    """Points in µJy at observed effective wavelengths in Å."""

    filters: Sequence[str]
    wavelength_angstrom: np.ndarray
    flux_ujy: np.ndarray
    flux_err_ujy: np.ndarray


@dataclass(frozen=True)
class PlotModel:
    """The posterior model SED, observed frame: wavelength [Å] and flux percentiles [µJy]."""

    wavelength_angstrom: np.ndarray
    p16_ujy: np.ndarray
    p50_ujy: np.ndarray
    p84_ujy: np.ndarray


def render_sed_png(
    path: str | Path,
    fitted: PlotPhotometry,
    upper_limits: PlotPhotometry,
    model: PlotModel | None,
    title: str,
    summary: str = "",
) -> Path:
    """Write the SED PNG (688 x 400 px) and return its path. ``upper_limits`` are drawn at
    3 sigma; ``summary`` (e.g. log M* and log SFR) is written in the upper-left corner."""
    path = Path(path)
    fig = Figure(figsize=(SED_PLOT_PIXELS[0] / _DPI, SED_PLOT_PIXELS[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1, 0.14, 0.87, 0.76))
    ax.set_xscale("log")
    ax.set_yscale("log")

    wave_um = np.asarray(fitted.wavelength_angstrom, dtype=float) / 1e4
    flux = np.asarray(fitted.flux_ujy, dtype=float)
    err = np.asarray(fitted.flux_err_ujy, dtype=float)
    lim_um = np.asarray(upper_limits.wavelength_angstrom, dtype=float) / 1e4
    lim = 3.0 * np.asarray(upper_limits.flux_err_ujy, dtype=float)

    all_wave = np.concatenate([wave_um, lim_um])
    xmin = all_wave.min() / 1.4 if all_wave.size else 0.1
    xmax = all_wave.max() * 1.4 if all_wave.size else 30.0
    y_values = [flux[flux > 0], lim[lim > 0]]

    if model is not None:
        m_wave = np.asarray(model.wavelength_angstrom, dtype=float) / 1e4
        shown = (m_wave >= xmin) & (m_wave <= xmax)
        ax.fill_between(
            m_wave[shown],
            np.asarray(model.p16_ujy)[shown],
            np.asarray(model.p84_ujy)[shown],
            color="tab:orange",
            alpha=0.35,
            linewidth=0,
            label="model 16-84 %",
        )
        ax.plot(
            m_wave[shown],
            np.asarray(model.p50_ujy)[shown],
            color="tab:orange",
            lw=1.2,
            label="model median",
        )
        median = np.asarray(model.p50_ujy)[shown]
        y_values.append(median[median > 0])

    if flux.size:
        ax.errorbar(
            wave_um,
            np.where(flux > 0, flux, np.nan),
            yerr=err,
            fmt="o",
            ms=5,
            color="tab:blue",
            ecolor="tab:blue",
            capsize=2,
            label="photometry",
        )
    if lim.size:
        ax.errorbar(
            lim_um,
            lim,
            yerr=0.3 * lim,
            uplims=True,
            fmt="v",
            ms=5,
            color="grey",
            label="3σ upper limit",
        )
    values = np.concatenate([v for v in y_values if v.size] or [np.array([1.0])])
    ymin, ymax = values.min() / 3.0, values.max() * 10.0  # room above for the filter names
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(plain)
    names = list(fitted.filters) + list(upper_limits.filters)
    tops = np.concatenate([flux + err, lim])
    for name, x, y in zip(names, all_wave, tops, strict=True):
        ax.text(
            x,
            max(y, ymin) * 1.3,
            _label(name),
            rotation=90,
            fontsize=8,
            ha="center",
            va="bottom",
            color="dimgrey",
            clip_on=True,
        )
    ax.set_xlabel("observed wavelength [µm]", fontsize=11)
    ax.set_ylabel("flux density [µJy]", fontsize=11)
    ax.tick_params(labelsize=10)
    ax.set_title(title, fontsize=12)
    if summary:
        ax.text(
            0.01,
            0.98,
            summary,
            transform=ax.transAxes,
            fontsize=10,
            va="top",
            ha="left",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    ax.legend(loc="lower right", fontsize=9, framealpha=0.8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI)
    return path
