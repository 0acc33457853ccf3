"""The background level's error (`science.background_level`) and the size-scaled source mask:
issue 13 item 1, the global apertures of bright hosts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from phot_synthetic import make_image, sersic_model
from photutils.aperture import EllipticalAperture
from photutils.background import Background2D, SExtractorBackground
from photutils.segmentation import SegmentationImage

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.background_level import (
    MEDIAN_3X3_BOXES,
    background_level_error,
    median_filtered,
)
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.science.source_mask import SOURCE_MASK_GROWTH, dilate_disc, grow_source_mask


def test_median_filter_is_photutils_mesh_filter():
    """Unfiltered boxes filtered here give Background2D's own meshes (masked boxes
    interpolated first), background and RMS."""
    rng = np.random.default_rng(3)
    image = rng.normal(5.0, 1.0, (300, 280)) + np.linspace(0, 2, 280)[None, :]
    mask = np.zeros(image.shape, dtype=bool)
    mask[100:190, 60:170] = True  # several boxes left out and interpolated
    kwargs = dict(mask=mask, bkg_estimator=SExtractorBackground(sigma_clip=None))
    default = Background2D(image, 30, **kwargs)
    raw = Background2D(image, 30, filter_size=(1, 1), **kwargs)
    np.testing.assert_allclose(
        median_filtered(raw.background_mesh), default.background_mesh, rtol=1e-13
    )
    np.testing.assert_allclose(
        median_filtered(raw.background_rms_mesh), default.background_rms_mesh, rtol=1e-13
    )


def test_level_error_of_independent_boxes():
    """Boxes with independent errors sigma and none interpolated: the level is a 3 x 3 median,
    sigma / sqrt(2 * 9 / pi)."""
    rng = np.random.default_rng(0)
    boxes = rng.normal(10.0, 0.2, (40, 40))
    measured = np.ones(boxes.shape, dtype=bool)
    got = background_level_error(boxes, measured)
    assert got == pytest.approx(0.2 / math.sqrt(MEDIAN_3X3_BOXES), rel=0.1)
    # an interpolated hole averages more boxes (inverse-distance weights of 10 neighbours)
    measured[15:25, 15:25] = False
    holed = background_level_error(boxes, measured)
    assert 0.2 / math.sqrt(10) < holed < got


def test_level_error_needs_measured_boxes():
    boxes = np.ones((4, 4))
    measured = np.zeros((4, 4), dtype=bool)
    measured[0, :4] = True
    assert background_level_error(boxes, measured) is None
    with pytest.raises(ValueError, match="one 2-D shape"):
        background_level_error(boxes, measured[:3])


def test_large_segments_are_masked_by_their_own_size():
    segm_data = np.zeros((200, 200), dtype=int)
    segm_data[80:120, 70:130] = 1  # area 2400 px: equivalent radius 27.6 px
    segm_data[20:22, 20:22] = 2  # area 4 px: the fixed dilation
    segm = SegmentationImage(segm_data)
    got = grow_source_mask(segm, 7)
    grown = math.ceil(SOURCE_MASK_GROWTH * math.sqrt(2400 / math.pi))
    expected = dilate_disc(segm_data == 1, grown) | dilate_disc(segm_data == 2, 7)
    np.testing.assert_array_equal(got, expected)
    assert grown > 7


def _bright_host(seed: int):
    """A bright extended galaxy (n = 1, r_eff 25 px) on a flat sky with unit noise."""
    model = sersic_model((360, 360), amplitude=3.0, r_eff=25.0, n=1.0, ellip=0.3)
    return make_image(model, pixel_arcsec=0.25, sky=10.0, noise=1.0, seed=seed)


def test_bright_host_errors_include_the_background_level():
    """Over noise realisations of one bright host, the flux in a large aperture (S/N ~ 50)
    scatters as its error says, and its background level about as `background_level_error`
    says (0.67x here: the aperture spans several boxes, whose interpolated levels partly
    average out). Before, the mask left the host's wings in the neighbouring boxes and the
    error had no level term: mean pull -1.1 (-1.8 at S/N 300)."""
    spec = get_filter("PanSTARRS_r")
    header = fits.Header({"EXPTIME": 1.0})
    aperture = EllipticalAperture((179.5, 179.5), 75.0, 52.5, theta=0.0)
    pulls, levels, predicted = [], [], []
    for seed in range(24):
        image = _bright_host(seed)
        analysis = ImageAnalysis(image.data, wcs=image.wcs, filter_name=spec.name)
        result = measure_aperture_photometry(
            image.data, header, image.wcs, aperture.to_sky(image.wcs), spec, analysis
        )
        pulls.append((result.counts - image.truth_in(aperture)) / result.counts_error)
        under = aperture.to_mask(method="center").to_image(image.data.shape) > 0
        levels.append(float(np.mean(analysis.background[under])) - image.sky)
        predicted.append(analysis.background_level_error)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.6
    assert 0.6 < pulls.std() < 1.4
    assert 0.5 < np.std(levels) / np.mean(predicted) < 1.6
