"""Local aperture size and the per-survey unit conventions of aperture photometry."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM
from astropy.io import fits
from phot_synthetic import make_image, star_model
from photutils.aperture import CircularAperture

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.cosmology import (
    COSMOLOGY,
    angular_size_arcsec,
    local_aperture_radius_arcsec,
)
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.science.units import MissingHeaderKeyword


def test_local_aperture_radius_matches_hand_computation():
    z = 0.05
    cosmo = FlatLambdaCDM(H0=70 * u.km / u.s / u.Mpc, Om0=0.315)
    d_a_mpc = cosmo.angular_diameter_distance(z).to_value(u.Mpc)
    expected = 2.0 / (d_a_mpc * 1000 * (math.pi / 180 / 3600))  # Blast's formula
    assert local_aperture_radius_arcsec(z) == pytest.approx(expected, rel=1e-10)
    # ~2.0 arcsec at z=0.05 for this cosmology; 5 kpc scales linearly
    assert 1.9 < expected < 2.2
    assert angular_size_arcsec(z, 5.0) == pytest.approx(2.5 * expected, rel=1e-10)
    assert COSMOLOGY.H0.value == 70 and COSMOLOGY.Om0 == 0.315


@pytest.mark.parametrize("z", [0.0, -0.1, float("nan"), float("inf"), "abc"])
def test_local_aperture_radius_rejects_bad_redshift(z):
    with pytest.raises(ValueError, match="redshift"):
        local_aperture_radius_arcsec(z)


# Survey conventions: (filter, header keywords); image units are derived from the AB magnitude.
SOURCE_AB_MAG = 17.0
CASES = {
    "SDSS_r": {"BUNIT": "nanomaggy", "EXPTIME": 53.9},  # 1 nmgy = 3.631 uJy
    "PanSTARRS_g": {"EXPTIME": 400.0},  # counts: ZP = 25 + 2.5 log10(EXPTIME)
    "2MASS_H": {"MAGZP": 20.4185},  # counts, ZP from the header, Vega (ab_offset)
    "WISE_W1": {"MAGZP": 20.5, "EXPTIME": 212.0},  # DN, ZP 20.5, Vega (ab_offset)
    "GALEX_NUV": {"EXPTIME": 181.05},  # counts/s, ZP 20.08
}


def _image_units_per_microjansky(name: str, header: dict) -> float:
    """Hand-written survey conventions (independent of units.py)."""
    if name == "SDSS_r":
        return 1 / 3.631
    if name == "PanSTARRS_g":
        zp = 25.0 + 2.5 * np.log10(header["EXPTIME"])
    elif name in ("2MASS_H", "WISE_W1"):
        zp = header["MAGZP"] + get_filter(name).ab_offset  # AB zero point of the Vega image
    else:
        zp = 20.08
    return 10 ** (-0.4 * (23.9 - zp))


@pytest.mark.parametrize("name", sorted(CASES))
def test_source_of_known_ab_magnitude_gives_its_microjansky_flux(name):
    spec = get_filter(name)
    header = CASES[name]
    true_ujy = 10 ** (-0.4 * (SOURCE_AB_MAG - 23.9))
    total = true_ujy * _image_units_per_microjansky(name, header)
    shape = (160, 160)
    model = star_model(shape, 79.5, 79.5, total, fwhm_pix=3.0)
    noise = total * 1e-5
    image = make_image(
        model,
        pixel_arcsec=spec.pixel_size_arcsec,
        psf_fwhm_pix=3.0,
        sky=100 * noise,
        noise=noise,
        seed=3,
    )
    hdu = image.hdu(**header)
    aperture = CircularAperture((79.5, 79.5), r=15.0)
    result = measure_aperture_photometry(
        hdu.data, hdu.header, image.wcs, aperture.to_sky(image.wcs), spec
    )
    assert result is not None
    in_aperture = image.truth_in(aperture) / total  # fraction of the PSF in the aperture
    assert in_aperture > 0.999
    assert result.flux == pytest.approx(true_ujy, rel=2e-3)
    # magnitude in the image's own system: AB minus ab_offset (Blast stores it so)
    assert result.magnitude == pytest.approx(SOURCE_AB_MAG - spec.ab_offset, abs=3e-3)
    assert result.flux_error > 0 and result.magnitude_error > 0


def test_missing_zero_point_keyword_is_a_clear_error():
    model = star_model((64, 64), 31.5, 31.5, 1000.0, 2.0)
    image = make_image(model, pixel_arcsec=1.0, noise=0.1, seed=0)
    hdu = image.hdu()  # no MAGZP
    aperture = CircularAperture((31.5, 31.5), 8.0).to_sky(image.wcs)
    with pytest.raises(MissingHeaderKeyword, match="MAGZP"):
        measure_aperture_photometry(
            hdu.data, hdu.header, image.wcs, aperture, get_filter("2MASS_H")
        )
    with pytest.raises(MissingHeaderKeyword, match="EXPTIME"):
        measure_aperture_photometry(
            hdu.data, fits.Header(hdu.header), image.wcs, aperture, get_filter("PanSTARRS_r")
        )


@pytest.mark.parametrize(("centre", "radius_pix"), [(24.0, 0.5), (24.5, 0.6), (24.0, 3.0)])
def test_photon_starved_galex_errors_are_poisson_in_the_expected_counts(centre, radius_pix):
    """GALEX FUV: ~0.07 sky photons per pixel, so the sigma-clipped background RMS is 0 and a
    Gaussian error would be ~0 (pulls of -260 on the simulated sky; a one-photon floor then
    made them 2x too large). Over realisations, the fluxes in a sub-pixel aperture (also one
    on a pixel corner, whose four pixels' weights count squared: photutils' sum of weight x
    variance overstates its error 2x) and a 3-pixel one scatter as their Poisson errors say."""
    exptime = 181.05
    spec = get_filter("GALEX_FUV")
    image = make_image(np.zeros((48, 48)), pixel_arcsec=1.5, noise=0.0, seed=0)
    header = image.hdu(EXPTIME=exptime).header
    source = 3.0 * star_model((48, 48), 24.0, 24.0, 1.0, 2.0)  # 3 photons expected in all
    expected = 0.07 + source
    aperture = CircularAperture((centre, centre), r=radius_pix)
    rng = np.random.default_rng(7)
    counts, errors = [], []
    for _ in range(400):
        photons = rng.poisson(expected).astype(float)
        if not photons[18:31, 18:31].any():
            continue
        result = measure_aperture_photometry(
            photons / exptime, header, image.wcs, aperture.to_sky(image.wcs), spec
        )
        if result is not None:
            counts.append(result.counts * exptime)
            errors.append(result.counts_error * exptime)
    counts, errors = np.array(counts), np.array(errors)
    assert len(counts) > 300
    assert np.all(errors > 0)
    # the scatter of the counts is what the errors say (about the mean: the clipped
    # background of a photon-starved map is ~0, so the sky is left in the counts)
    assert 0.8 < np.std(counts) / np.sqrt(np.mean(errors**2)) < 1.25


def _photon_map(seed: int = 3) -> tuple[np.ndarray, fits.Header, object]:
    exptime = 181.05
    image = make_image(np.zeros((48, 48)), pixel_arcsec=1.5, noise=0.0, seed=0)
    photons = np.random.default_rng(seed).poisson(
        0.07 + 20.0 * star_model((48, 48), 24, 24, 1.0, 2.0)
    )
    return photons / exptime, image.hdu(EXPTIME=exptime).header, image.wcs


def test_galex_analysis_of_the_image_cache_is_the_photometrys_own(tmp_path):
    """One path: the cached analysis of a GALEX file (what the tasks use) is made with its
    photon exposure, gives the same photometry as an analysis made inside the photometry, and
    an analysis made without it is refused."""
    from blast_pipeline.tasks.image_cache import ImageAnalysisCache

    data, header, wcs = _photon_map()
    path = tmp_path / "GALEX_NUV.fits"
    fits.PrimaryHDU(data.astype(np.float32), header=header).writeto(path)
    cached = ImageAnalysisCache().get(path, "GALEX_NUV")
    assert cached.analysis.photon_exposure_s == 181.05
    spec = get_filter("GALEX_NUV")
    aperture = CircularAperture((24.0, 24.0), r=3.0).to_sky(wcs)
    shared = measure_aperture_photometry(
        cached.data, cached.header, cached.wcs, aperture, spec, cached.analysis
    )
    inside = measure_aperture_photometry(cached.data, cached.header, cached.wcs, aperture, spec)
    assert shared == inside
    plain = ImageAnalysis(cached.data, wcs=cached.wcs, filter_name="GALEX_NUV")
    with pytest.raises(ValueError, match="photon exposure"):
        measure_aperture_photometry(cached.data, cached.header, cached.wcs, aperture, spec, plain)


def test_a_nan_pixel_beside_a_galex_aperture_leaves_its_measurement():
    data, header, wcs = _photon_map()
    aperture = CircularAperture((24.0, 24.0), r=2.0)
    data[21, 21] = np.nan  # inside the bounding box, outside the circle
    assert aperture.to_mask(method="exact").to_image(data.shape)[21, 21] == 0
    result = measure_aperture_photometry(
        data, header, wcs, aperture.to_sky(wcs), get_filter("GALEX_NUV")
    )
    assert result is not None and np.isfinite(result.flux_error) and result.flux_error > 0


def test_an_error_of_zero_is_no_measurement():
    image = make_image(np.zeros((64, 64)), pixel_arcsec=0.25, sky=5.0, noise=0.0, seed=0)
    header = fits.Header({"EXPTIME": 900.0})
    aperture = CircularAperture((32.0, 32.0), r=4.0).to_sky(image.wcs)
    assert (
        measure_aperture_photometry(
            image.data, header, image.wcs, aperture, get_filter("PanSTARRS_r")
        )
        is None
    )
