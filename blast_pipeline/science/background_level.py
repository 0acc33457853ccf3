"""The error of the background level that an aperture's flux is measured against.

A flux error built from pixel noise alone (`calc_total_error`, times the correlated-noise
factor) leaves out that the background subtracted under the aperture is itself an estimate:
one value per ``Background2D`` box, median-filtered over 3 x 3 boxes, and under a masked host
interpolated from the nearest measured boxes (photutils' inverse-distance weighting, 10
neighbours, power 1). Its error is the same for every pixel of the aperture, so it adds
``sigma_level * area`` to the flux error, which outgrows the pixel term (``~ sqrt(area)``)
for the large global apertures of bright hosts (pulls of -3 at S/N > 200 on the simulated sky
without it; benchmarks/README.md, photometry accuracy).

`background_level_error` measures it on the image's own mesh: each measured box is predicted
from the other measured boxes as photutils fills a masked one, and the robust scatter of the
differences gives the error of one box's value, ``sigma_box`` (the difference holds the box's
own error and its prediction's, ``sigma_box**2 (1 + 1 / n_eff)``); the level under an
aperture averages ``n_eff`` boxes, the effective number (``(sum w)**2 / sum w**2``) behind an
interpolated box, or ``2 * 9 / pi`` (a median of 3 x 3 boxes) when no box is interpolated.
Sky structure on the box scale that the mesh cannot follow is in the scatter too.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import generic_filter
from scipy.spatial import cKDTree

__all__ = ["MIN_MEASURED_BOXES", "background_level_error", "median_filtered"]

#: photutils' mesh interpolation of boxes left out: inverse distance weighting.
IDW_NEIGHBORS = 10
IDW_POWER = 1.0
#: Fewest measured boxes the scatter is taken from.
MIN_MEASURED_BOXES = 5
#: Effective number of boxes in a 3 x 3 median (variance of a median of n: pi / (2 n)).
MEDIAN_3X3_BOXES = 2.0 * 9.0 / math.pi
#: 1.4826 * median absolute deviation: the standard deviation of a normal distribution.
MAD_TO_STD = 1.482602218505602


def median_filtered(mesh: np.ndarray) -> np.ndarray:
    """``mesh`` median-filtered over 3 x 3 boxes, NaN beyond the edges: photutils'
    ``Background2D`` mesh filter (``filter_size=(3, 3)``, no ``filter_threshold``)."""
    return generic_filter(
        np.asarray(mesh, dtype=float), np.nanmedian, size=(3, 3), mode="constant", cval=np.nan
    )


def _idw_weights(tree: cKDTree, points: np.ndarray, k: int, skip_self: bool) -> np.ndarray:
    """Inverse-distance weights (rows: points) and neighbour indices of ``points``."""
    distances, indices = tree.query(points, k=k + 1 if skip_self else k)
    distances, indices = np.atleast_2d(distances), np.atleast_2d(indices)
    if skip_self:
        distances, indices = distances[:, 1:], indices[:, 1:]
    return 1.0 / distances**IDW_POWER, indices


def background_level_error(boxes: np.ndarray, measured: np.ndarray) -> float | None:
    """Standard error of the background level under an aperture (image units per pixel), from
    the unfiltered box values ``boxes`` of a ``Background2D`` mesh and the boxes ``measured``
    (the others were interpolated); None with fewer than `MIN_MEASURED_BOXES` measured."""
    boxes, measured = np.asarray(boxes, dtype=float), np.asarray(measured, dtype=bool)
    if boxes.shape != measured.shape or boxes.ndim != 2:
        raise ValueError(f"boxes {boxes.shape} and measured {measured.shape} must be one 2-D shape")
    measured = measured & np.isfinite(boxes)
    points = np.argwhere(measured).astype(float)
    if len(points) < MIN_MEASURED_BOXES:
        return None
    values = boxes[measured]
    tree = cKDTree(points)
    k = min(IDW_NEIGHBORS, len(points) - 1)
    weights, indices = _idw_weights(tree, points, k, skip_self=True)
    predicted = (weights * values[indices]).sum(axis=1) / weights.sum(axis=1)
    residual = values - predicted
    inverse_n_eff = (weights**2).sum(axis=1) / weights.sum(axis=1) ** 2
    scatter = MAD_TO_STD * float(np.median(np.abs(residual - np.median(residual))))
    sigma_box = scatter / math.sqrt(1.0 + float(np.mean(inverse_n_eff)))
    interpolated = np.argwhere(~measured).astype(float)
    if len(interpolated):
        fill, _ = _idw_weights(tree, interpolated, min(IDW_NEIGHBORS, len(points)), False)
        n_eff = float(np.mean(fill.sum(axis=1) ** 2 / (fill**2).sum(axis=1)))
    else:
        n_eff = MEDIAN_3X3_BOXES
    return sigma_box / math.sqrt(n_eff)
