"""Blast's ``Background2D`` estimate of an image, and its source-masked variant that keeps
enough boxes for the background to stay local; the estimates' background, RMS and level-error
maps (`final_maps`). Used by `ImageAnalysis` (science.background), which says how they are
combined."""

from __future__ import annotations

import math

import numpy as np
from astropy.stats import SigmaClip
from photutils.background import Background2D, MeanBackground, SExtractorBackground

from blast_pipeline.science.background_level import (
    MEDIAN_ERROR_FACTOR,
    background_level_errors,
    median_filtered,
)
from blast_pipeline.science.mesh_map import MeshMap

__all__ = [
    "EXCLUDE_PERCENTILE",
    "MAX_EXCLUDE_PERCENTILE",
    "MIN_KEPT_FRACTION",
    "BackgroundEstimationError",
    "background_box_size",
    "estimate_background",
    "final_maps",
    "masked_background",
    "measured_boxes",
]


class BackgroundEstimationError(ValueError):
    """The background of an image cannot be estimated (Blast then reports no photometry)."""


def background_box_size(shape: tuple[int, ...]) -> int:
    """Blast's ``Background2D`` box size: ``int(0.1 * sqrt(N_pix))`` pixels."""
    box = int(0.1 * math.sqrt(int(np.prod(shape))))
    if box < 1:
        raise BackgroundEstimationError(f"image of shape {shape} is too small for a background")
    return box


def _estimator(filter_name: str | None):
    # GALEX images are mostly zeros: a median (and SExtractor's mode) is always 0 there.
    if filter_name is not None and "GALEX" in filter_name:
        return MeanBackground(sigma_clip=SigmaClip(sigma=3.0))
    return SExtractorBackground(sigma_clip=None)


def estimate_background(
    data: np.ndarray,
    *,
    filter_name: str | None = None,
    mask: np.ndarray | None = None,
    box: int | None = None,
    filter_size: tuple[int, int] = (3, 3),
) -> Background2D:
    """Blast's ``estimate_background``, optionally with a source mask; ``box`` replaces
    Blast's box size (for a binned image); ``filter_size`` is photutils' mesh median filter
    (``(1, 1)``: the unfiltered boxes, see `masked_background`).

    Raises `BackgroundEstimationError` if ``Background2D`` fails even with
    ``exclude_percentile=50``.
    """
    box = background_box_size(data.shape) if box is None else box
    try:
        return Background2D(
            data, box, mask=mask, filter_size=filter_size, bkg_estimator=_estimator(filter_name)
        )
    except ValueError:
        try:
            return Background2D(
                data,
                box,
                mask=mask,
                exclude_percentile=50,
                filter_size=filter_size,
                bkg_estimator=_estimator(filter_name),
            )
        except ValueError as err:
            raise BackgroundEstimationError(
                f"cannot estimate the background of a {data.shape} image: {err}"
            ) from err


#: Blast's (photutils') rule: a box with more than this percentage of its pixels masked
#: (source mask, invalid, sigma-clipped or beyond the image edge) is left out of the mesh and
#: filled by interpolating the kept boxes.
EXCLUDE_PERCENTILE = 10.0
#: A source-masked pass keeps at least this fraction of the boxes that have any pixel...
MIN_KEPT_FRACTION = 0.5
#: ...by allowing up to this percentage of a box masked (a kept box then still has a quarter of
#: its pixels on the sky: thousands of pixels at Blast's box sizes).
MAX_EXCLUDE_PERCENTILE = 75.0


def _box_fill(mask: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """Fraction of each box's pixels that ``mask`` leaves (boxes cut by the image edge count
    their missing part as masked, as photutils does)."""
    ny, nx = mask.shape
    rows, cols = np.arange(0, ny, box[0]), np.arange(0, nx, box[1])
    good = np.add.reduceat(~mask, rows, axis=0, dtype=np.int32)
    good = np.add.reduceat(good, cols, axis=1, dtype=np.int32)
    return good / float(box[0] * box[1])


def _whole_boxes(shape: tuple[int, int], box: tuple[int, int]) -> np.ndarray:
    """The mesh's boxes that lie wholly inside an image of ``shape`` (the others, cut by the
    edge, keep Blast's rule: a narrow strip is not worth a box)."""
    whole_y = np.arange(-(-shape[0] // box[0])) < shape[0] // box[0]
    whole_x = np.arange(-(-shape[1] // box[1])) < shape[1] // box[1]
    return whole_y[:, None] & whole_x[None, :]


def _exclude_percentile_for(fill: np.ndarray) -> float:
    """The smallest ``exclude_percentile`` (at least Blast's, at most `MAX_EXCLUDE_PERCENTILE`)
    that keeps `MIN_KEPT_FRACTION` of the boxes in ``fill`` (the shares of their pixels left),
    one point of margin for the pixels sigma clipping removes."""
    fill = fill[fill > 0]
    if fill.size == 0:
        return EXCLUDE_PERCENTILE
    needed = 100.0 * (1.0 - float(np.quantile(fill, 1.0 - MIN_KEPT_FRACTION))) + 1.0
    return float(np.clip(math.ceil(needed), EXCLUDE_PERCENTILE, MAX_EXCLUDE_PERCENTILE))


def measured_boxes(bkg: Background2D) -> np.ndarray:
    """The boxes ``bkg`` measured (not interpolated)."""
    box_pixels = float(np.prod(bkg.box_size))
    return np.asarray(bkg.n_pixels_mesh) > (1.0 - bkg.exclude_percentile / 100.0) * box_pixels


def masked_background(
    data: np.ndarray,
    box: int | tuple[int, int],
    mask: np.ndarray,
    filter_name: str | None,
    *,
    filter_size: tuple[int, int] = (3, 3),
    photon_counting: bool = False,
) -> Background2D:
    """``Background2D`` of a source-masked image (``mask`` includes the invalid pixels), with
    Blast's estimator, keeping enough boxes for the background to stay local.

    With Blast's ``exclude_percentile=10`` a source mask leaves out every box whose masked
    share exceeds 10 %: most boxes of a crowded or deep field (13 of 100 kept for the real
    2010H SDSS i cutout), whose background then comes from a few distant boxes. The allowed
    share is raised (to at most `MAX_EXCLUDE_PERCENTILE`) until `MIN_KEPT_FRACTION` of the
    boxes wholly inside the image are measured; fields where Blast's rule keeps that many are
    unchanged. ``filter_size`` is photutils' mesh median filter (``(1, 1)``: the unfiltered
    box values, which `ImageAnalysis` filters itself after measuring their scatter).
    ``photon_counting`` (GALEX maps with their exposure) drops the sigma clipping: on a map with
    most pixels photon-free it clips every photon and puts the sky at 0 (a global FUV flux
    then holds its aperture's sky, pulls of +1.2); with the sources masked, the plain box mean
    and standard deviation are the sky and its Poisson noise.

    Raises `BackgroundEstimationError` if no box can be measured.
    """
    box_yx = (box, box) if np.ndim(box) == 0 else (int(box[0]), int(box[1]))
    whole = _whole_boxes(data.shape, box_yx)
    percentile = _exclude_percentile_for(_box_fill(mask, box_yx)[whole])
    estimator = (
        {"sigma_clip": None, "bkg_estimator": MeanBackground(sigma_clip=None)}
        if photon_counting
        else {"bkg_estimator": _estimator(filter_name)}  # photutils' sigma clipping
    )
    for attempt in range(2):
        try:
            bkg = Background2D(
                data,
                box_yx,
                mask=mask,
                exclude_percentile=percentile,
                filter_size=filter_size,
                **estimator,
            )
        except ValueError as err:
            if percentile >= MAX_EXCLUDE_PERCENTILE:
                raise BackgroundEstimationError(
                    f"cannot estimate the background of a {data.shape} image: {err}"
                ) from err
            percentile = MAX_EXCLUDE_PERCENTILE
            continue
        # Sigma clipping removes pixels the mask did not predict: check, and re-choose from
        # the boxes' measured pixel counts once.
        fill = np.asarray(bkg.n_pixels_mesh) / float(np.prod(bkg.box_size))
        counted = whole & (fill > 0)
        if (
            attempt
            or percentile >= MAX_EXCLUDE_PERCENTILE
            or not counted.any()
            or measured_boxes(bkg)[counted].mean() >= MIN_KEPT_FRACTION
        ):
            return bkg
        percentile = max(percentile, _exclude_percentile_for(fill[whole]))
    return bkg


def final_maps(bkg: Background2D, shape: tuple[int, int]) -> tuple[MeshMap, MeshMap, MeshMap]:
    """Background, RMS and background-level-error maps of an unfiltered ``Background2D``
    (``filter_size=(1, 1)``): the level errors are measured on the raw boxes
    (`background_level_errors`, each box's floor the error of a median of its pixels), then
    photutils' own 3 x 3 median filter is applied, as ``Background2D`` would have."""
    box = (int(bkg.box_size[0]), int(bkg.box_size[1]))
    boxes = np.asarray(bkg.background_mesh, dtype=float)
    rms = np.asarray(bkg.background_rms_mesh, dtype=float)
    n_pixels = np.maximum(np.asarray(bkg.n_pixels_mesh, dtype=float), 1.0)
    errors = background_level_errors(
        boxes, measured_boxes(bkg), MEDIAN_ERROR_FACTOR * rms / np.sqrt(n_pixels)
    )
    return (
        MeshMap(median_filtered(boxes), box, shape, shape),
        MeshMap(median_filtered(rms), box, shape, shape),
        MeshMap(errors, box, shape, shape),
    )
