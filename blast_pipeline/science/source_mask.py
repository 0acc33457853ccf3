"""Source masks for the background estimate: segments dilated by a disc, large ones by
their own size."""

from __future__ import annotations

import math

import numpy as np
from photutils.segmentation import SegmentationImage
from scipy.ndimage import maximum_filter1d

__all__ = ["MAX_GROWTH_BOXES", "SOURCE_MASK_GROWTH", "dilate_disc", "grow_source_mask"]


def dilate_disc(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` dilated by photutils' ``circular_footprint(radius)`` (the pixels within
    ``radius`` of a masked pixel; nothing beyond the edges): exactly what
    ``SegmentationImage.make_source_mask(footprint=circular_footprint(radius))`` returns.

    The disc is a union of horizontal segments, one per row offset, so the dilation is a union
    of shifted 1-D maximum filters (photutils uses an FFT convolution of the whole image).
    """
    mask = np.asarray(mask, dtype=bool)
    radius = int(radius)
    if radius <= 0:
        return mask.copy()
    ny = mask.shape[0]
    out = np.zeros_like(mask)
    rows: dict[int, np.ndarray] = {}
    for dy in range(-radius, radius + 1):
        half = math.isqrt(radius * radius - dy * dy)
        if half not in rows:
            rows[half] = maximum_filter1d(
                mask.view(np.uint8), 2 * half + 1, axis=1, mode="constant", cval=0
            ).view(bool)
        widened = rows[half]
        if dy >= 0:
            out[dy:] |= widened[: ny - dy]
        else:
            out[:dy] |= widened[-dy:]
    return out


#: A detected source is masked this many times its equivalent radius ``sqrt(area / pi)``
#: beyond its detection isophote (at least the fixed dilation): the wings of a large galaxy
#: outside its 3-sigma isophote still raise the neighbouring boxes' background (bright
#: simulated hosts came out 1-2 sigma low, their background level 0.02-0.1 RMS high).
SOURCE_MASK_GROWTH = 1.0
#: ... but at most this many background boxes beyond it. One box was too few where a host fills
#: much of the field (a 16" host in a 120" field: background +0.1-0.25 RMS under it, its flux
#: 3 % low); beyond that, a wider mask takes more boxes from a crowded field than it removes
#: wing light.
MAX_GROWTH_BOXES = 2


def grow_source_mask(segm: SegmentationImage, radius: int, max_radius: int) -> np.ndarray:
    """The source mask of a segmentation: every segment dilated by ``radius`` pixels
    (`dilate_disc`), and each segment whose `SOURCE_MASK_GROWTH` times equivalent radius is
    larger, by that instead, at most by ``max_radius`` (the caller passes
    `MAX_GROWTH_BOXES` background boxes). Each is dilated in its own
    bounding box grown by the radius: the same pixels as a whole-image dilation."""
    mask = dilate_disc(segm.data != 0, radius)
    ny, nx = mask.shape
    for label, area, (rows, cols) in zip(segm.labels, segm.areas, segm.slices, strict=True):
        grown = min(math.ceil(SOURCE_MASK_GROWTH * math.sqrt(float(area) / math.pi)), max_radius)
        if grown <= radius:
            continue
        y0, y1 = max(rows.start - grown, 0), min(rows.stop + grown, ny)
        x0, x1 = max(cols.start - grown, 0), min(cols.stop + grown, nx)
        mask[y0:y1, x0:x1] |= dilate_disc(segm.data[y0:y1, x0:x1] == label, grown)
    return mask
