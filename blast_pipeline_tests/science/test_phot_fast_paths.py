"""The fast replacements inside `ImageAnalysis` give what the library calls they replace give."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.convolution import convolve
from phot_synthetic import sersic_image
from photutils.segmentation import SegmentationImage, make_2dgaussian_kernel
from photutils.utils import circular_footprint

from blast_pipeline.science.background import (
    background_image,
    dilate_disc,
    estimate_background,
    smooth_for_detection,
)


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


@pytest.mark.parametrize("radius", [0, 1, 3, 7])
def test_disc_dilation_equals_photutils(radius):
    rng = np.random.default_rng(radius)
    labels = (rng.random((120, 97)) > 0.995).astype(int)
    labels[0, 0] = labels[-1, 50] = labels[60, -1] = 1  # seeds on the edges
    segm = SegmentationImage(labels)
    footprint = circular_footprint(radius) if radius > 0 else None
    expected = segm.make_source_mask(footprint=footprint)
    np.testing.assert_array_equal(dilate_disc(labels != 0, radius), expected)
