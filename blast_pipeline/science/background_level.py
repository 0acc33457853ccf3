"""The error of the background level that an aperture's flux is measured against.

A flux error built from pixel noise alone (`calc_total_error`, times the correlated-noise
factor) leaves out that the background subtracted under the aperture is itself an estimate:
one value per ``Background2D`` box, median-filtered over 3 x 3 boxes, and under a masked host
interpolated from the nearest measured boxes (photutils' inverse-distance weighting, 10
neighbours, power 1). Its error is shared by the aperture's pixels, so it adds
``sum(weights * sigma_level)`` to the flux error, which outgrows the pixel term
(``~ sqrt(area)``) for the large global apertures of bright hosts (pulls of -3 at S/N > 200 on
the simulated sky without it; benchmarks/README.md, photometry accuracy).

`background_level_errors` measures it on the image's own mesh, box by box: each measured box
is predicted from the other measured boxes as photutils fills a masked one, and the robust
scatter of the differences gives the error of one box's value, ``sigma_box`` (a difference
holds the box's own error and its prediction's, ``sigma_box**2 (1 + 1 / n_eff)``), never below
the error of a median of the box's pixels (``1.2533 rms / sqrt(n)``). A box's level then averages
``n_eff`` boxes: the effective number (``(sum w)**2 / sum w**2``) of its inverse-distance
weights when it was interpolated, ``2 * 9 / pi`` (a median of 3 x 3 boxes) when measured, and
the 3 x 3 median filter over those (`_effective_boxes`).
Sky structure on the box scale that the mesh cannot follow is in the scatter too.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import generic_filter
from scipy.spatial import cKDTree

__all__ = ["MIN_MEASURED_BOXES", "background_level_errors", "median_filtered"]

#: photutils' mesh interpolation of boxes left out: inverse distance weighting.
IDW_NEIGHBORS = 10
IDW_POWER = 1.0
#: Fewest measured boxes the scatter is taken from.
MIN_MEASURED_BOXES = 5
#: 1.4826 * median absolute deviation: the standard deviation of a normal distribution.
MAD_TO_STD = 1.482602218505602
#: Standard error of a median of n normal values, in sigma / sqrt(n): sqrt(pi / 2).
MEDIAN_ERROR_FACTOR = math.sqrt(math.pi / 2.0)


def median_filtered(mesh: np.ndarray) -> np.ndarray:
    """``mesh`` median-filtered over 3 x 3 boxes, NaN beyond the edges: photutils'
    ``Background2D`` mesh filter (``filter_size=(3, 3)``, no ``filter_threshold``)."""
    return generic_filter(
        np.asarray(mesh, dtype=float), np.nanmedian, size=(3, 3), mode="constant", cval=np.nan
    )


def _idw_weights(
    tree: cKDTree, points: np.ndarray, k: int, skip_self: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-distance weights (rows: points; ``k`` >= 2 neighbours) and neighbour indices."""
    distances, indices = tree.query(points, k=k + 1 if skip_self else k)
    if skip_self:
        distances, indices = distances[:, 1:], indices[:, 1:]
    return 1.0 / distances**IDW_POWER, indices


def background_level_errors(
    boxes: np.ndarray, measured: np.ndarray, noise_floor: np.ndarray
) -> np.ndarray:
    """Standard error of each box's background level (image units, per pixel of the level),
    from the unfiltered box values ``boxes`` of a ``Background2D`` mesh, the boxes
    ``measured`` (the others were interpolated) and each box's own noise floor (the error of
    its estimate from pixel noise alone). With fewer than `MIN_MEASURED_BOXES` measured boxes
    the floor stands for the scatter."""
    boxes, measured = np.asarray(boxes, dtype=float), np.asarray(measured, dtype=bool)
    noise_floor = np.asarray(noise_floor, dtype=float)
    if not (boxes.shape == measured.shape == noise_floor.shape and boxes.ndim == 2):
        raise ValueError(
            f"boxes {boxes.shape}, measured {measured.shape} and noise_floor "
            f"{noise_floor.shape} must be one 2-D shape"
        )
    measured = measured & np.isfinite(boxes)
    points = np.argwhere(measured).astype(float)
    if not len(points):
        raise ValueError("no measured box")
    floor = float(np.nanmedian(noise_floor[measured]))
    sigma_box = floor
    tree = cKDTree(points)
    if len(points) >= MIN_MEASURED_BOXES:
        values = boxes[measured]
        weights, indices = _idw_weights(tree, points, min(IDW_NEIGHBORS, len(points) - 1), True)
        residual = values - (weights * values[indices]).sum(axis=1) / weights.sum(axis=1)
        inverse_n_eff = (weights**2).sum(axis=1) / weights.sum(axis=1) ** 2
        scatter = MAD_TO_STD * float(np.median(np.abs(residual - np.median(residual))))
        sigma_box = max(scatter / math.sqrt(1.0 + float(np.mean(inverse_n_eff))), floor)
    return sigma_box / np.sqrt(_effective_boxes(tree, points, measured))


def _effective_boxes(tree: cKDTree, points: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Effective number of independent measured boxes behind each box's filtered level.

    Each box's unfiltered value is a weighted sum of measured boxes (itself, or its
    inverse-distance weights when interpolated); the 3 x 3 median filter is taken as the mean
    of its neighbourhood's sums, ``n_eff = (sum c)**2 / sum c**2``, and a measured box's median
    of independent values as ``2 / pi`` of that mean's.
    """
    ny, nx = measured.shape
    n_measured = len(points)
    rows = np.zeros((ny, nx, n_measured))
    index = np.full(measured.shape, -1)
    index[measured] = np.arange(n_measured)
    rows[measured, index[measured]] = 1.0
    holes = np.argwhere(~measured)
    if len(holes):
        k = min(IDW_NEIGHBORS, n_measured)
        distances, neighbours = tree.query(holes.astype(float), k=k)
        weights = 1.0 / np.reshape(distances, (len(holes), k)) ** IDW_POWER
        weights /= weights.sum(axis=1, keepdims=True)
        np.add.at(
            rows,
            (holes[:, 0, None], holes[:, 1, None], np.reshape(neighbours, (len(holes), k))),
            weights,
        )
    padded = np.pad(rows, ((1, 1), (1, 1), (0, 0)))
    counts = np.pad(np.ones((ny, nx)), 1)
    combined = sum(padded[dy : dy + ny, dx : dx + nx] for dy in range(3) for dx in range(3))
    combined /= sum(counts[dy : dy + ny, dx : dx + nx] for dy in range(3) for dx in range(3))[
        ..., None
    ]
    n_eff = combined.sum(axis=2) ** 2 / (combined**2).sum(axis=2)
    return np.where(measured, n_eff * 2.0 / math.pi, n_eff)
