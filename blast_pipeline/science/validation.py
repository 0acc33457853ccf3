"""Validation of global and local photometry (reference 1.13 and 1.15).

Global: an aperture is contaminated when it covers pixels of a detected source other than the
one at its centre. Local: the 2 kpc aperture must be wider than the PSF.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.wcs import WCS
from photutils.aperture import SkyAperture

from blast_pipeline.science.background import ImageAnalysis
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
    catalog = analysis.catalog(threshold_sigma, n_pixels)
    if catalog is None:
        return False
    x, y = aperture.positions
    distance = np.hypot(np.asarray(catalog.x_centroid) - x, np.asarray(catalog.y_centroid) - y)
    centre_label = int(catalog.labels[int(np.nanargmin(distance))])
    segmentation = analysis.segmentation(threshold_sigma, n_pixels)
    labels = np.unique(segmentation.data[in_image][mask.data[in_mask] >= 1.0])
    return bool(np.any((labels != 0) & (labels != centre_label)))


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
