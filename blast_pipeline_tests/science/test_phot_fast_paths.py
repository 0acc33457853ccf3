"""The fast paths (`ImageAnalysis`, photometry on the aperture's cutout) give what the library
calls they replace give."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.convolution import convolve
from astropy.io import fits
from astropy.stats import mad_std
from phot_synthetic import sersic_image
from photutils.aperture import (
    CircularAperture,
    EllipticalAperture,
    SkyCircularAperture,
    SkyEllipticalAperture,
    aperture_photometry,
)
from photutils.segmentation import SegmentationImage, make_2dgaussian_kernel
from photutils.utils import calc_total_error, circular_footprint

from blast_pipeline.science.background import (
    MAD_STD_MAX_VALUES,
    ImageAnalysis,
    background_box_size,
    background_image,
    estimate_background,
    masked_background,
    smooth_for_detection,
)
from blast_pipeline.science.detection import mad_std as fast_mad_std
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.gain import effective_gain
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.science.pixel_apertures import to_pixel
from blast_pipeline.science.source_mask import dilate_disc


@pytest.mark.parametrize(
    ("shape", "filter_name"),
    [((256, 256), "SDSS_r"), ((301, 277), "PanSTARRS_g"), ((240, 240), "GALEX_NUV")],
)
def test_background_image_equals_photutils(shape, filter_name):
    image = sersic_image(shape, seed=3).data
    image[10:14, 40:90] = np.nan
    bkg = estimate_background(image, filter_name=filter_name, mask=~np.isfinite(image))
    for rms, expected in ((False, bkg.background), (True, bkg.background_rms)):
        got = background_image(bkg, image.shape, rms=rms)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_background_image_of_a_flat_mesh_is_flat():
    bkg = estimate_background(np.full((200, 200), 3.0))
    np.testing.assert_array_equal(background_image(bkg, (200, 200)), bkg.background)


def test_smoothing_equals_astropy_convolve():
    image = sersic_image((200, 230), seed=4).data
    image[50:53, 60:70] = np.nan
    kernel = make_2dgaussian_kernel(3.0, size=5)
    expected = convolve(image, kernel, nan_treatment="fill", fill_value=0.0)
    np.testing.assert_allclose(smooth_for_detection(image), expected, rtol=0, atol=1e-12)
    clean = np.nan_to_num(image, nan=1.0)
    expected = convolve(clean, kernel, nan_treatment="fill", fill_value=0.0)
    got = smooth_for_detection(clean, all_finite=True)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 1000, 1001])
def test_mad_std_equals_astropy(n):
    values = np.random.default_rng(n).standard_t(3, size=n)
    kept = values.copy()
    assert fast_mad_std(values) == mad_std(values)
    np.testing.assert_array_equal(values, kept)  # the input is not modified


def test_mad_std_of_a_large_array_is_a_close_subsample_estimate():
    values = np.random.default_rng(5).normal(2.0, 3.0, size=4 * MAD_STD_MAX_VALUES + 7)
    assert fast_mad_std(values) == pytest.approx(mad_std(values), rel=0.01)


def _correlated_sky(shape, seed):
    """A sky with a gradient and noise correlated over ~2 pixels (as in resampled cutouts)."""
    rng = np.random.default_rng(seed)
    noise = smooth_for_detection(rng.normal(0.0, 1.0, shape), all_finite=True)
    yy, xx = np.indices(shape)
    return 100.0 + 0.002 * xx + 0.001 * yy + noise / noise.std()


@pytest.mark.parametrize("shape", [(1000, 1000), (901, 863)])
def test_large_image_background_is_the_full_resolution_masked_one(shape):
    """Large images (binned first pass, for the mask) get Blast's full-resolution masked
    ``Background2D`` as their background and RMS, and the RMS of correlated noise is right."""
    galaxy = (
        sersic_image(shape, seed=4, amplitude=40.0).data
        - sersic_image(shape, seed=4, amplitude=0.0).data
    )
    image = _correlated_sky(shape, seed=1) + galaxy
    analysis = ImageAnalysis(image, filter_name="PanSTARRS_r")
    assert analysis.source_masked
    box = background_box_size(shape)
    full = masked_background(image, box, analysis.source_mask, "PanSTARRS_r")
    np.testing.assert_allclose(analysis.background, background_image(full, shape), rtol=1e-12)
    rms = background_image(full, shape, rms=True)
    np.testing.assert_allclose(analysis.background_rms, rms, rtol=1e-12)
    # the noise really is correlated: white-noise scaling (x2) would be 40 % off
    assert np.median(analysis.background_rms) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("radius", [0, 1, 3, 7])
def test_disc_dilation_equals_photutils(radius):
    rng = np.random.default_rng(radius)
    labels = (rng.random((120, 97)) > 0.995).astype(int)
    labels[0, 0] = labels[-1, 50] = labels[60, -1] = 1  # seeds on the edges
    segm = SegmentationImage(labels)
    footprint = circular_footprint(radius) if radius > 0 else None
    expected = segm.make_source_mask(footprint=footprint)
    np.testing.assert_array_equal(dilate_disc(labels != 0, radius), expected)


@pytest.mark.parametrize(
    "aperture",
    [
        CircularAperture((101.37, 93.81), 7.3),
        EllipticalAperture((128.2, 127.6), 30.4, 17.9, theta=0.6),
        CircularAperture((3.6, 250.1), 2.2),
    ],
)
def test_photometry_on_the_bbox_cutout_equals_the_full_image(aperture):
    image = sersic_image(seed=5)
    analysis = ImageAnalysis(image.data, wcs=image.wcs, filter_name="SDSS_r")
    header = fits.Header({"EXPTIME": 53.9})
    spec = get_filter("SDSS_r")
    result = measure_aperture_photometry(
        image.data, header, image.wcs, aperture.to_sky(image.wcs), spec, analysis
    )
    # The full-image computation it replaces (Blast's).
    pixel = aperture.to_sky(image.wcs).to_pixel(image.wcs)
    data = image.data - analysis.background
    error = calc_total_error(data, analysis.background_rms, effective_gain(spec, header))
    table = aperture_photometry(data, pixel, error=error)
    assert result.counts == pytest.approx(float(table["aperture_sum"][0]), rel=1e-13)
    # plus the background level's error over the aperture's area, which Blast leaves out
    level = float(pixel.to_mask(method="exact").get_values(analysis.level_error_map.image()).sum())
    assert level > 0
    expected = np.hypot(float(table["aperture_sum_err"][0]), level)
    assert result.counts_error == pytest.approx(expected, rel=1e-13)


def test_cached_pixel_aperture_equals_to_pixel():
    image = sersic_image(seed=6)
    other = sersic_image(seed=6, pixel_arcsec=0.4)
    centre = image.wcs.pixel_to_world(120.3, 131.9)
    skies = [
        SkyEllipticalAperture(centre, 7.3 * u.arcsec, 4.1 * u.arcsec, theta=31.0 * u.deg),
        SkyCircularAperture(centre, 2.2 * u.arcsec),
    ]
    for sky in skies:
        for wcs in (image.wcs, image.wcs.deepcopy(), other.wcs, image.wcs):
            expected, got = sky.to_pixel(wcs), to_pixel(sky, wcs)
            assert type(got) is type(expected)
            np.testing.assert_array_equal(got.positions, expected.positions)
            for attr in ("r", "a", "b", "theta"):
                if hasattr(expected, attr):
                    assert getattr(got, attr) == getattr(expected, attr)


@pytest.mark.parametrize("shape", [(1000, 1000), (901, 863), (256, 256)])
def test_background_regions_equal_the_whole_maps(shape):
    """`background_in`/`background_rms_in`/`subtracted_in` give the whole images' pixels,
    whether or not the whole images were made (binned and full-resolution estimates)."""
    image = _correlated_sky(shape, seed=2) + sersic_image(shape, seed=4, amplitude=40.0).model
    lazy = ImageAnalysis(image, filter_name="PanSTARRS_r")
    whole = ImageAnalysis(image, filter_name="PanSTARRS_r")
    regions = [
        (slice(0, 17), slice(5, 40)),
        (slice(shape[0] - 30, shape[0]), slice(shape[1] - 9, shape[1])),
        (slice(None, None, 4), slice(None)),
        (slice(100, 180, 3), slice(37, 200, 7)),
    ]
    for region in regions:
        np.testing.assert_allclose(lazy.background_in(region), whole.background[region], rtol=1e-13)
        np.testing.assert_allclose(
            lazy.background_rms_in(region), whole.background_rms[region], rtol=1e-13
        )
        np.testing.assert_allclose(
            lazy.subtracted_in(region), whole.subtracted[region], rtol=1e-12, atol=1e-9
        )
        np.testing.assert_array_equal(whole.background_in(region), whole.background[region])
    assert "background" not in vars(lazy)  # nothing whole was made for the regions
