"""Correlated noise measured with random empty apertures: exact on synthetic noise, close to
Blast's WISE tables on the real 2010H images, and calibrated flux errors (pulls)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import FITSFixedWarning
from phot_synthetic import EXAMPLE_2010H, SHARED_DATA, tan_wcs
from photutils.aperture import CircularAperture
from scipy.signal import fftconvolve

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.correlated_noise import _disc, empty_aperture_noise
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.sources.sky.render import correlate_noise

WISE_TABLES = SHARED_DATA / "wise-correlated-noise"


def _kernel(sigma_px: float) -> np.ndarray:
    """The 2-D kernel of `correlate_noise`, normalised to unit output variance (sigma 0:
    white noise)."""
    if sigma_px == 0:
        return np.ones((1, 1))
    half = max(1, int(np.ceil(4.0 * sigma_px)))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_px) ** 2)
    taps /= taps.sum()
    kernel = np.outer(taps, taps)
    return kernel / np.sqrt(np.sum(kernel**2))


def _exact_ratio(radius: float, sigma_px: float) -> float:
    """Variance of a disc sum of the noise over the independent-pixel variance that the
    photometry computes (``sum(w * rms**2)``: partial pixels make it < 1 for white noise)."""
    dy, dx, w = _disc(radius)
    half = int(max(abs(dy).max(), abs(dx).max()))
    disc = np.zeros((2 * half + 1, 2 * half + 1))
    disc[dy + half, dx + half] = w
    return float(np.sum(fftconvolve(disc, _kernel(sigma_px)) ** 2) / np.sum(w))


@pytest.mark.parametrize("sigma_px", [0.0, 0.5, 1.8])
def test_ratio_matches_the_exact_variance_of_correlated_noise(sigma_px):
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((600, 600)).astype(np.float32)
    if sigma_px:
        noise = correlate_noise(noise, sigma_px)
    image = 100.0 + 2.0 * noise
    model = empty_aperture_noise(ImageAnalysis(image, filter_name="SDSS_r"))
    assert model is not None and len(model.radius_pix) >= 8
    for radius, ratio in zip(model.radius_pix, model.variance_factor, strict=True):
        exact = _exact_ratio(radius, sigma_px)
        if radius <= 16:  # 1000 apertures: the variance to ~ +-10 % (2 sigma), plus the RMS map's
            assert ratio == pytest.approx(exact, rel=0.25), radius
        else:  # large apertures also see the background estimate's own error
            assert exact * 0.8 <= ratio <= exact * 2.0, radius


def test_a_crowded_image_has_no_model_rather_than_a_wrong_one():
    data = np.random.default_rng(1).normal(10.0, 1.0, (60, 60))
    analysis = ImageAnalysis(data, filter_name="SDSS_r")
    object.__setattr__(analysis, "source_mask", np.ones((60, 60), dtype=bool))
    assert empty_aperture_noise(analysis) is None


@pytest.mark.skipif(
    not (EXAMPLE_2010H.is_dir() and WISE_TABLES.is_dir()),
    reason=f"real 2010H cutouts or Blast's WISE tables not found under {SHARED_DATA}",
)
@pytest.mark.parametrize("band", ["W1", "W2", "W3", "W4"])
def test_real_wise_images_give_blasts_correlated_noise(band):
    """On the real WISE Atlas cutouts the measured error factor at 1-3 pixels is within 1.6x of
    Blast's table, and at least 2 from 2 pixels on: errors without it are 2-7x too small."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        data = fits.getdata(EXAMPLE_2010H / "WISE" / f"WISE_{band}.fits").astype(float)
    model = empty_aperture_noise(ImageAnalysis(data, filter_name=f"WISE_{band}"))
    radius, ratio = np.loadtxt(WISE_TABLES / f"WISE_{band}_corrmodel.txt", unpack=True)
    for r in (1.0, 2.0, 3.0):
        ours = model.error_factor(r)
        blast = float(np.sqrt(np.interp(r, radius, ratio)))
        assert blast / 1.6 <= ours <= blast * 1.6, (r, ours, blast)
    assert model.error_factor(2.0) >= 2.0 and model.error_factor(6.0) >= 5.0


def test_flux_errors_with_the_measured_noise_have_unit_pulls():
    """A faint source on WISE-like correlated noise, 80 noise realisations: with the measured
    model the pulls (flux - truth) / error have a standard deviation within 0.9-1.2; without it,
    the independent-pixel errors are several times too small."""
    spec = get_filter("WISE_W1")
    header = fits.Header({"MAGZP": 20.5, "EXPTIME": 212.0})
    shape = (240, 240)
    wcs = tan_wcs(shape, spec.pixel_size_arcsec)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    source = 40.0 * np.exp(-((xx - 119.5) ** 2 + (yy - 119.5) ** 2) / (2 * 2.5**2))
    aperture = CircularAperture((119.5, 119.5), 6.0)
    truth = float(aperture.do_photometry(source)[0][0])
    pulls, naive = [], []
    for seed in range(80):
        rng = np.random.default_rng(seed)
        noise = correlate_noise(rng.standard_normal(shape, dtype=np.float32), 1.8)
        data = 5.0 + source + 1.0 * noise
        analysis = ImageAnalysis(data, wcs=wcs, filter_name="WISE_W1")
        sky = aperture.to_sky(wcs)
        model = empty_aperture_noise(analysis, seed=seed)
        with_model = measure_aperture_photometry(
            data, header, wcs, sky, spec, analysis, correlated_noise=model
        )
        without = measure_aperture_photometry(data, header, wcs, sky, spec, analysis)
        pulls.append((with_model.counts - truth) / with_model.counts_error)
        naive.append((without.counts - truth) / without.counts_error)
    assert 0.9 <= np.std(pulls) <= 1.2
    assert np.std(naive) > 3.0
