"""Global aperture construction, PSF matching and the aperture-filter priority."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from phot_synthetic import HOST_DEC, HOST_RA, sersic_image
from photutils.aperture import SkyEllipticalAperture

from blast_pipeline.science.apertures import (
    aperture_filter_candidates,
    choose_aperture_filter,
    construct_global_aperture,
    match_host_source,
    psf_matched_aperture,
)
from blast_pipeline.science.background import ImageAnalysis

TRUE_THETA_DEG = np.degrees(0.6)
TRUE_ELLIP = 0.4


def _sky_ellipse(a=10.0, b=6.0, theta=30.0):
    return SkyEllipticalAperture(
        SkyCoord(HOST_RA * u.deg, HOST_DEC * u.deg), a * u.arcsec, b * u.arcsec, theta=theta * u.deg
    )


def test_psf_matched_aperture_axes():
    aperture = _sky_ellipse()
    matched = psf_matched_aperture(aperture, fwhm_ref_arcsec=1.32, fwhm_arcsec=5.84)
    assert matched.a.to_value(u.arcsec) == pytest.approx(np.sqrt(100 - 1.32**2 + 5.84**2))
    assert matched.b.to_value(u.arcsec) == pytest.approx(np.sqrt(36 - 1.32**2 + 5.84**2))
    assert matched.theta == aperture.theta
    assert matched.positions.separation(aperture.positions).arcsec == pytest.approx(0, abs=1e-9)
    # same PSF: unchanged; sharper PSF: smaller
    same = psf_matched_aperture(aperture, 2.0, 2.0)
    assert same.a.to_value(u.arcsec) == pytest.approx(10.0)
    assert psf_matched_aperture(aperture, 5.0, 1.0).b.to_value(u.arcsec) < 6.0


def test_psf_matched_aperture_guard_and_errors():
    small = _sky_ellipse(a=3.0, b=1.0)
    # b^2 - 6^2 + 1^2 < 0: no aperture rather than a NaN axis
    assert psf_matched_aperture(small, fwhm_ref_arcsec=6.0, fwhm_arcsec=1.0) is None
    with pytest.raises(ValueError, match="fwhm"):
        psf_matched_aperture(small, float("nan"), 1.0)
    with pytest.raises(TypeError):
        psf_matched_aperture("not an aperture", 1.0, 1.0)


def test_choose_aperture_filter_follows_blast_priority():
    available = ["2MASS_H", "SDSS_g", "SDSS_i", "WISE_W1", "GALEX_NUV"]
    assert choose_aperture_filter(available) == "SDSS_i"
    assert choose_aperture_filter(available, start=4) == "SDSS_i"
    assert choose_aperture_filter(available, start=5) == "SDSS_g"
    assert choose_aperture_filter(available, start=6) == "2MASS_H"
    assert choose_aperture_filter(["WISE_W1"]) is None
    assert choose_aperture_filter(["PanSTARRS_r", "PanSTARRS_g"]) == "PanSTARRS_g"
    assert aperture_filter_candidates(available) == ("SDSS_i", "SDSS_g", "2MASS_H")
    with pytest.raises(ValueError):
        choose_aperture_filter(available, start=-1)


def test_global_aperture_on_synthetic_sersic_galaxy():
    image = sersic_image(amplitude=20.0, seed=7)
    match = match_host_source(image.data, image.wcs, HOST_RA, HOST_DEC)
    assert match is not None
    assert match.threshold_sigma == 5.0  # first rung of the ladder
    aperture = construct_global_aperture(image.data, image.wcs, HOST_RA, HOST_DEC)
    assert isinstance(aperture, SkyEllipticalAperture)
    # centre within 1" of the true centre (the image centre is the host position)
    assert aperture.positions.separation(SkyCoord(HOST_RA * u.deg, HOST_DEC * u.deg)).arcsec < 1.0
    pixel = aperture.to_pixel(image.wcs)
    theta_deg = pixel.theta.to_value(u.deg) % 180
    assert theta_deg == pytest.approx(TRUE_THETA_DEG, abs=3.0)
    # the PSF rounds the galaxy slightly
    assert 1 - pixel.b / pixel.a == pytest.approx(TRUE_ELLIP, abs=0.05)
    # a Kron aperture of an r_eff = 12 px galaxy is several r_eff
    assert 25 < pixel.a < 50


def test_host_far_from_any_source_gives_none():
    image = sersic_image(amplitude=20.0, seed=7)
    # 20" east of the galaxy: the nearest centroid is far more than 5" away
    far_ra = HOST_RA + 20 / 3600 / np.cos(np.radians(HOST_DEC))
    assert construct_global_aperture(image.data, image.wcs, far_ra, HOST_DEC) is None


def test_ladder_reuses_the_shared_analysis():
    image = sersic_image(amplitude=20.0, seed=7)
    analysis = ImageAnalysis(image.data, wcs=image.wcs)
    first = match_host_source(image.data, image.wcs, HOST_RA, HOST_DEC, analysis=analysis)
    catalog = analysis.catalog(first.threshold_sigma, 10)
    second = match_host_source(image.data, image.wcs, HOST_RA, HOST_DEC, analysis=analysis)
    assert analysis.catalog(first.threshold_sigma, 10) is catalog  # cached, not recomputed
    assert first == second or (
        first.pixel_aperture.a == second.pixel_aperture.a and first.xcentroid == second.xcentroid
    )
    with pytest.raises(ValueError, match="host position"):
        match_host_source(image.data, image.wcs, float("nan"), HOST_DEC, analysis=analysis)
