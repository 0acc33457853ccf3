"""Validation of global and local photometry (reference 1.13 and 1.15).

Global: an aperture is contaminated when it covers pixels of a detected source other than the
one at its centre. Local: the 2 kpc aperture must be wider than the PSF.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.wcs import WCS
from photutils.aperture import SkyAperture
from photutils.segmentation import SourceCatalog

from blast_pipeline.science.background import ImageAnalysis, detect_sources_quietly
from blast_pipeline.science.cosmology import local_aperture_radius_arcsec
from blast_pipeline.science.pixel_apertures import to_pixel

__all__ = [
    "CONTAMINATION_N_PIXELS",
    "CONTAMINATION_THRESHOLD_SIGMA",
    "global_validation_flag",
    "global_validation_flags",
    "is_contaminated",
    "local_aperture_resolved",
    "local_validation_flag",
]

CONTAMINATION_THRESHOLD_SIGMA = 5.0
CONTAMINATION_N_PIXELS = 15
#: Blast warns instead of rejecting when at most this many apertures are uncontaminated.
MAX_UNCONTAMINATED_FOR_WARNING = 2


def is_contaminated(
    analysis_or_image: ImageAnalysis | np.ndarray,
    sky_aperture: SkyAperture,
    wcs: WCS,
    *,
    threshold_sigma: float = CONTAMINATION_THRESHOLD_SIGMA,
    n_pixels: int = CONTAMINATION_N_PIXELS,
) -> bool | None:
    """Whether the aperture covers another source than the one at its centre.

    Blast's ``check_global_contamination`` on one image: segment at 5 sigma with 15 pixels (no
    deblending), take the source whose centroid is nearest the aperture centre, and report
    contamination if any pixel fully inside the aperture belongs to a different segment. No
    detected source means clean (False). None when the aperture does not overlap the image.

    Blast checks both the photometry image and the image that defined the aperture (and skips
    GALEX, whose sparse photons defeat the segmentation); the caller combines them with ``or``.
    """
    analysis = (
        analysis_or_image
        if isinstance(analysis_or_image, ImageAnalysis)
        else ImageAnalysis(analysis_or_image, wcs=wcs.celestial)
    )
    wcs = wcs.celestial
    aperture = to_pixel(sky_aperture, wcs)
    # Blast keeps only pixels whose exact overlap weight is 1 (``mask_image == True``); only the
    # part of the aperture's bounding box inside the image can have any.
    mask = aperture.to_mask(method="exact")
    in_image, in_mask = mask.get_overlap_slices(analysis.shape)
    if in_image is None:
        return None
    inside = mask.data[in_mask] >= 1.0
    centre = tuple(float(c) for c in np.ravel(aperture.positions)[:2])
    if (threshold_sigma, n_pixels) not in analysis.cached_segmentations:
        # Usually a window around the aperture decides, at a fraction of the whole image's cost.
        decided = _contamination_in_window(
            analysis, in_image, inside, centre, threshold_sigma, n_pixels
        )
        if decided is not None:
            return decided
    catalog = analysis.catalog(threshold_sigma, n_pixels)
    if catalog is None:
        return False
    distance = np.hypot(
        np.asarray(catalog.x_centroid) - centre[0], np.asarray(catalog.y_centroid) - centre[1]
    )
    centre_label = int(catalog.labels[int(np.nanargmin(distance))])
    segmentation = analysis.segmentation(threshold_sigma, n_pixels)
    labels = np.unique(segmentation.data[in_image][inside])
    return bool(np.any((labels != 0) & (labels != centre_label)))


#: First window: the aperture's bounding box grown by this many pixels on each side (doubled
#: at each retry, at most `_WINDOW_TRIES` windows before the whole image).
_WINDOW_MARGIN = 48
_WINDOW_TRIES = 3


def _contamination_in_window(
    analysis: ImageAnalysis,
    in_image: tuple[slice, slice],
    inside: np.ndarray,
    centre: tuple[float, float],
    threshold_sigma: float,
    n_pixels: int,
) -> bool | None:
    """`is_contaminated` decided from a window around the aperture, or None when the window
    cannot decide (then the whole image is segmented). Exact, not an approximation:

    * the window is used only if no above-threshold pixel group touches its edge, so every
      segment in it is a whole segment of the image (same pixels, same size cut, same centroid);
    * a segment outside the window has its centroid outside (its pixels are all above a
      positive threshold, so the centroid lies in their convex hull), hence farther from the
      centre than the window's edge. With no segment or two or more segments inside the
      aperture the answer does not depend on which source is central; with exactly one, it is
      clean only if that segment is the nearest of the window and nearer than the window's
      edge, contaminated if another segment of the window is nearer, undecided otherwise.
    """
    ny, nx = analysis.shape
    y_slice, x_slice = in_image
    for attempt in range(_WINDOW_TRIES):
        margin = _WINDOW_MARGIN * 2**attempt
        y0, y1 = max(y_slice.start - margin, 0), min(y_slice.stop + margin, ny)
        x0, x1 = max(x_slice.start - margin, 0), min(x_slice.stop + margin, nx)
        if (y1 - y0) * (x1 - x0) * 2 > ny * nx:
            return None  # as costly as the whole image, which is then cached
        window = (slice(y0, y1), slice(x0, x1))
        data = analysis.subtracted_in(window)
        threshold = threshold_sigma * analysis.background_rms_in(window)
        invalid = analysis.invalid_mask[window]
        above = (data > threshold) & ~invalid
        if _touches_an_inner_edge(above, (y0 > 0, y1 < ny, x0 > 0, x1 < nx)):
            continue
        segm = detect_sources_quietly(
            data, threshold, n_pixels=n_pixels, mask=invalid if invalid.any() else None
        )
        if segm is None:
            return False
        labels = np.unique(
            segm.data[
                y_slice.start - y0 : y_slice.stop - y0, x_slice.start - x0 : x_slice.stop - x0
            ][inside]
        )
        labels = labels[labels != 0]
        if labels.size != 1:
            return bool(labels.size)
        catalog = SourceCatalog(data, segm, mask=invalid if invalid.any() else None)
        distance = np.hypot(
            np.asarray(catalog.x_centroid) + x0 - centre[0],
            np.asarray(catalog.y_centroid) + y0 - centre[1],
        )
        nearest = int(np.nanargmin(distance))
        if int(catalog.labels[nearest]) != int(labels[0]):
            return True
        edge = min(
            centre[0] - x0 + 0.5 if x0 > 0 else np.inf,
            x1 - 0.5 - centre[0] if x1 < nx else np.inf,
            centre[1] - y0 + 0.5 if y0 > 0 else np.inf,
            y1 - 0.5 - centre[1] if y1 < ny else np.inf,
        )
        if distance[nearest] < edge:
            return False
    return None


def _touches_an_inner_edge(above: np.ndarray, inner: tuple[bool, bool, bool, bool]) -> bool:
    """Whether ``above`` has a pixel on an edge of the window that is not the image's edge
    (bottom, top, left, right)."""
    bottom, top, left, right = inner
    return bool(
        (bottom and above[0].any())
        or (top and above[-1].any())
        or (left and above[:, 0].any())
        or (right and above[:, -1].any())
    )


def global_validation_flag(contaminated: bool, n_uncontaminated: int) -> str:
    """Blast's ``is_validated`` value of one global photometry row.

    When at most 2 of a transient's global apertures are uncontaminated, rejecting the
    contaminated ones would leave too few points for the SED, so they are kept with
    ``"contamination warning"``; otherwise contaminated rows are ``"false"``. Clean rows are
    always ``"true"``.
    """
    if n_uncontaminated < 0:
        raise ValueError(f"n_uncontaminated must be non-negative, got {n_uncontaminated}")
    if not contaminated:
        return "true"
    if n_uncontaminated <= MAX_UNCONTAMINATED_FOR_WARNING:
        return "contamination warning"
    return "false"


def global_validation_flags(contaminated: Sequence[bool]) -> list[str]:
    """`global_validation_flag` for all of a transient's global rows at once."""
    n_clean = sum(1 for c in contaminated if not c)
    return [global_validation_flag(bool(c), n_clean) for c in contaminated]


def local_aperture_resolved(z: float, fwhm_arcsec: float) -> bool:
    """Whether the 2 kpc local aperture radius at ``z`` exceeds the filter's PSF FWHM (1.15)."""
    fwhm = float(fwhm_arcsec)
    if not np.isfinite(fwhm) or fwhm <= 0:
        raise ValueError(f"fwhm_arcsec must be finite and positive, got {fwhm_arcsec!r}")
    return local_aperture_radius_arcsec(z) > fwhm


def local_validation_flag(z: float | None, fwhm_arcsec: float) -> str:
    """Blast's local ``is_validated``: ``"true"``/``"false"``; ``"false"`` without a redshift."""
    if z is None:
        return "false"
    return "true" if local_aperture_resolved(z, fwhm_arcsec) else "false"
