"""Global (host) aperture construction, PSF matching and the aperture filter choice (1.3, 1.10, 1.11).

The global aperture is the Kron ellipse of the source segment nearest the host position in one
image (the first available filter of `APERTURE_FILTER_PRIORITY`). The other filters use the same
ellipse widened for their PSF.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from photutils.aperture import EllipticalAperture, SkyEllipticalAperture

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.filters import APERTURE_FILTER_PRIORITY

__all__ = [
    "HOST_MATCH_RADIUS_ARCSEC",
    "HOST_THRESHOLDS_SIGMA",
    "HostSourceMatch",
    "aperture_filter_candidates",
    "choose_aperture_filter",
    "construct_global_aperture",
    "match_host_source",
    "psf_matched_aperture",
]

#: Blast's detection-threshold ladder, then one sub-threshold try.
HOST_THRESHOLDS_SIGMA: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 25.0)
HOST_FALLBACK_THRESHOLD_SIGMA = 2.0
#: The matched source centroid must lie within this distance of the host.
HOST_MATCH_RADIUS_ARCSEC = 5.0
HOST_DETECTION_N_PIXELS = 10


@dataclass(frozen=True)
class HostSourceMatch:
    """The source matched to the host and its Kron aperture."""

    label: int
    threshold_sigma: float
    separation_arcsec: float
    xcentroid: float
    ycentroid: float
    pixel_aperture: EllipticalAperture
    sky_aperture: SkyEllipticalAperture


def _host_coord(host_ra: float, host_dec: float) -> SkyCoord:
    ra, dec = float(host_ra), float(host_dec)
    if not (np.isfinite(ra) and np.isfinite(dec)) or abs(dec) > 90:
        raise ValueError(f"invalid host position RA={host_ra!r}, Dec={host_dec!r}")
    return SkyCoord(ra * u.deg, dec * u.deg)


def _nearest(analysis: ImageAnalysis, sigma: float, n_pixels: int, wcs: WCS, host: SkyCoord):
    catalog = analysis.catalog(sigma, n_pixels)
    if catalog is None:
        return None
    x, y = wcs.world_to_pixel(host)
    xc, yc = np.asarray(catalog.x_centroid), np.asarray(catalog.y_centroid)
    distance = np.hypot(xc - x, yc - y)
    if not np.isfinite(distance).any():
        return None
    index = int(np.nanargmin(distance))
    source = catalog[index]
    separation = host.separation(wcs.pixel_to_world(xc[index], yc[index])).arcsec
    return source, float(separation)


def match_host_source(
    image: np.ndarray,
    wcs: WCS,
    host_ra: float,
    host_dec: float,
    *,
    analysis: ImageAnalysis | None = None,
    filter_name: str | None = None,
    thresholds_sigma: Sequence[float] = HOST_THRESHOLDS_SIGMA,
    fallback_threshold_sigma: float | None = HOST_FALLBACK_THRESHOLD_SIGMA,
    n_pixels: int = HOST_DETECTION_N_PIXELS,
    max_separation_arcsec: float = HOST_MATCH_RADIUS_ARCSEC,
) -> HostSourceMatch | None:
    """Find the host's segment with Blast's threshold ladder; None if no centroid is near enough.

    For each threshold (5, 10, ..., 25 sigma, then 2 sigma) the image is segmented without
    deblending and the source whose centroid is closest in pixels to the host is taken; the
    ladder stops at the first one within ``max_separation_arcsec`` of the host. Raising the
    threshold splits a host that a low threshold merged with its neighbours.
    """
    host = _host_coord(host_ra, host_dec)
    wcs = wcs.celestial
    if analysis is None:
        analysis = ImageAnalysis(image, wcs=wcs, filter_name=filter_name)
    elif analysis.shape != np.shape(image):
        raise ValueError(f"analysis is for shape {analysis.shape}, image is {np.shape(image)}")
    ladder = list(thresholds_sigma)
    if fallback_threshold_sigma is not None:
        ladder.append(fallback_threshold_sigma)
    for sigma in ladder:
        found = _nearest(analysis, sigma, n_pixels, wcs, host)
        if found is None or not found[1] <= max_separation_arcsec:
            continue
        source, separation = found
        aperture = source.kron_aperture
        if aperture is None or not (np.isfinite(aperture.a) and np.isfinite(aperture.b)):
            return None
        if aperture.a <= 0 or aperture.b <= 0:
            return None
        return HostSourceMatch(
            label=int(source.label),
            threshold_sigma=float(sigma),
            separation_arcsec=separation,
            xcentroid=float(source.x_centroid),
            ycentroid=float(source.y_centroid),
            pixel_aperture=aperture,
            sky_aperture=aperture.to_sky(wcs),
        )
    return None


def construct_global_aperture(
    image: np.ndarray,
    wcs: WCS,
    host_ra: float,
    host_dec: float,
    *,
    analysis: ImageAnalysis | None = None,
    filter_name: str | None = None,
    **kwargs,
) -> SkyEllipticalAperture | None:
    """Blast's global aperture: the Kron ellipse (on the sky) of the host's segment, or None.

    See `match_host_source` for the matching and its keyword arguments.
    """
    match = match_host_source(
        image, wcs, host_ra, host_dec, analysis=analysis, filter_name=filter_name, **kwargs
    )
    return None if match is None else match.sky_aperture


def psf_matched_aperture(
    aperture: SkyEllipticalAperture, fwhm_ref_arcsec: float, fwhm_arcsec: float
) -> SkyEllipticalAperture | None:
    """The aperture for a filter of PSF FWHM ``fwhm_arcsec``, from one built at ``fwhm_ref_arcsec``.

    ``a' = sqrt(a**2 - FWHM_ref**2 + FWHM**2)`` (same for b): the intrinsic size is kept and the
    PSF broadening swapped. Same centre and orientation. None if either new axis would be
    imaginary or zero (an aperture smaller than the reference PSF for a sharper filter).
    """
    if not isinstance(aperture, SkyEllipticalAperture):
        raise TypeError(f"expected a SkyEllipticalAperture, got {type(aperture).__name__}")
    fwhm_ref, fwhm = float(fwhm_ref_arcsec), float(fwhm_arcsec)
    for name, value in (("fwhm_ref_arcsec", fwhm_ref), ("fwhm_arcsec", fwhm)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    a = aperture.a.to_value(u.arcsec)
    b = aperture.b.to_value(u.arcsec)
    a2 = a**2 - fwhm_ref**2 + fwhm**2
    b2 = b**2 - fwhm_ref**2 + fwhm**2
    if not (a2 > 0 and b2 > 0):
        return None
    return SkyEllipticalAperture(
        aperture.positions, np.sqrt(a2) * u.arcsec, np.sqrt(b2) * u.arcsec, theta=aperture.theta
    )


def aperture_filter_candidates(available_filter_names: Iterable[str]) -> tuple[str, ...]:
    """The available filters that can define the global aperture, in Blast's priority order."""
    available = set(available_filter_names)
    return tuple(name for name in APERTURE_FILTER_PRIORITY if name in available)


def choose_aperture_filter(available_filter_names: Iterable[str], start: int = 0) -> str | None:
    """Blast's ``select_cutout_aperture``: first available filter of the priority list from ``start``.

    Blast retries aperture construction with ``start = 0, 1, ..., 8``; a filter is then tried
    again when the filters before it in the list are missing. `aperture_filter_candidates`
    gives each candidate once.
    """
    if isinstance(available_filter_names, str):
        raise TypeError("available_filter_names must be a collection of names, not a string")
    if start < 0:
        raise ValueError(f"start must be non-negative, got {start}")
    available = set(available_filter_names)
    for name in APERTURE_FILTER_PRIORITY[start:]:
        if name in available:
            return name
    return None
