"""Blast's aperture tasks on the real SN 2010H cutouts (skipped when ../shared/data is absent)."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from phot_synthetic import EXAMPLE_2010H, HOST_DEC, HOST_RA
from photutils.aperture import aperture_photometry

from blast_pipeline.science.apertures import match_host_source, psf_matched_aperture
from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.crop import crop_box, crop_size_pixels, crop_view
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.science.validation import is_contaminated

pytestmark = pytest.mark.skipif(
    not EXAMPLE_2010H.is_dir(),
    reason=f"real 2010H cutouts not found at {EXAMPLE_2010H} (../shared/data next to the repo)",
)

FILTERS = [
    "2MASS_H", "2MASS_J", "2MASS_K", "GALEX_FUV", "GALEX_NUV", "SDSS_i", "SDSS_r", "SDSS_u",
    "SDSS_z", "WISE_W1", "WISE_W2", "WISE_W3", "WISE_W4",
]  # fmt: skip
SN_RA, SN_DEC, Z = 121.6015, 1.03586, 0.015355


def _open(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        with fits.open(EXAMPLE_2010H / name.split("_")[0] / f"{name}.fits") as hdul:
            hdu = fits.PrimaryHDU(hdul[0].data.astype(float), hdul[0].header)
        return hdu, WCS(hdu.header).celestial


@pytest.fixture(scope="module")
def global_aperture():
    hdu, wcs = _open("SDSS_r")
    analysis = ImageAnalysis(hdu.data, wcs=wcs, filter_name="SDSS_r")
    match = match_host_source(hdu.data, wcs, HOST_RA, HOST_DEC, analysis=analysis)
    return match, analysis


def test_sdss_r_aperture_finds_ic494(global_aperture):
    match, _ = global_aperture
    assert match is not None
    host = SkyCoord(HOST_RA * u.deg, HOST_DEC * u.deg)
    assert match.sky_aperture.positions.separation(host).arcsec < 3.0
    # IC 494 is about 1' across: a Kron ellipse of tens of arcsec
    assert 20 < match.sky_aperture.a.to_value(u.arcsec) < 80


def test_every_filter_has_a_finite_flux_in_the_psf_matched_aperture(global_aperture):
    match, _ = global_aperture
    ref = get_filter("SDSS_r")
    for name in FILTERS:
        spec = get_filter(name)
        hdu, wcs = _open(name)
        aperture = psf_matched_aperture(
            match.sky_aperture, ref.image_fwhm_arcsec, spec.image_fwhm_arcsec
        )
        result = measure_aperture_photometry(hdu.data, hdu.header, wcs, aperture, spec)
        assert result is not None, name
        assert np.isfinite(result.flux) and result.flux > 0, name
        assert 0 < result.flux_error < result.flux, name
        assert 5 < result.magnitude < 20, name


def test_sdss_flux_is_nanomaggies_times_3631(global_aperture):
    match, analysis = global_aperture
    hdu, wcs = _open("SDSS_r")
    assert hdu.header["BUNIT"] == "nanomaggy"
    result = measure_aperture_photometry(
        hdu.data, hdu.header, wcs, match.sky_aperture, get_filter("SDSS_r"), analysis
    )
    nmgy = aperture_photometry(hdu.data - analysis.background, match.pixel_aperture)
    assert result.flux == pytest.approx(float(nmgy["aperture_sum"][0]) * 3.631, rel=1e-4)
    # IC 494: r ~ 13 mag
    assert 12.0 < 23.9 - 2.5 * np.log10(result.flux) < 14.0


def test_2mass_and_wise_use_their_zero_points(global_aperture):
    match, _ = global_aperture
    for name in ("2MASS_H", "WISE_W1"):
        spec = get_filter(name)
        hdu, wcs = _open(name)
        result = measure_aperture_photometry(hdu.data, hdu.header, wcs, match.sky_aperture, spec)
        zp = float(hdu.header["MAGZP"]) if name == "2MASS_H" else 20.5
        assert result.zero_point == pytest.approx(zp)
        expected = result.counts * 10 ** (-0.4 * (zp - 23.9)) * 10 ** (-0.4 * spec.ab_offset)
        assert result.flux == pytest.approx(expected, rel=1e-9)


@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
def test_contamination_crop_on_the_real_image(global_aperture):
    match, analysis = global_aperture
    hdu, wcs = _open("SDSS_r")
    assert is_contaminated(analysis, match.sky_aperture, wcs) in (True, False)
    size = crop_size_pixels(
        wcs, SN_RA, SN_DEC, redshift=Z, host_ra_dec=(HOST_RA, HOST_DEC), aperture=match.sky_aperture
    )
    assert 100 <= size <= 900
    cropped = crop_view(hdu, crop_box(hdu.data.shape, wcs, SN_RA, SN_DEC, size))
    assert cropped.data.shape[0] <= size and hdu.data.shape == (900, 900)
    x, y = WCS(cropped.header).world_to_pixel(SkyCoord(SN_RA * u.deg, SN_DEC * u.deg))
    ny, nx = cropped.data.shape
    assert abs(x - (nx - 1) / 2) < 1 and abs(y - (ny - 1) / 2) < 1
