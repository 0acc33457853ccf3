"""Aperture photometry against the noiseless in-aperture truth, and Blast's "no measurement" cases."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from phot_synthetic import HOST_DEC, HOST_RA, make_image, sersic_image, star_model
from photutils.aperture import CircularAperture, EllipticalAperture

from blast_pipeline.science.apertures import match_host_source
from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import (
    CorrelatedNoiseModel,
    measure_aperture_photometry,
)
from blast_pipeline.science.units import microjansky_per_count

SDSS_R = get_filter("SDSS_r")
HEADER = fits.Header({"EXPTIME": 53.9, "BUNIT": "nanomaggy"})


def _measure(image, aperture, analysis=None, spec=SDSS_R, header=HEADER, **kwargs):
    return measure_aperture_photometry(
        image.data, header, image.wcs, aperture.to_sky(image.wcs), spec, analysis, **kwargs
    )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_masked_background_photometry_matches_in_aperture_truth(seed):
    image = sersic_image(amplitude=20.0, seed=seed)
    analysis = ImageAnalysis(image.data, wcs=image.wcs, filter_name="SDSS_r")
    assert analysis.source_masked
    match = match_host_source(image.data, image.wcs, HOST_RA, HOST_DEC, analysis=analysis)
    truth = image.truth_in(match.pixel_aperture)
    result = _measure(image, match.pixel_aperture, analysis)
    ratio = result.counts / truth
    assert ratio == pytest.approx(1.0, abs=0.02)
    # Blast's unmasked background eats the wings: visibly low
    plain = ImageAnalysis(image.data, wcs=image.wcs, mask_sources=False)
    plain_ratio = _measure(image, match.pixel_aperture, plain).counts / truth
    assert plain_ratio < ratio - 0.01
    # error and units
    assert result.counts_error > 0
    assert abs(result.counts - truth) < 5 * result.counts_error
    assert result.flux == pytest.approx(result.counts * 3.631, rel=1e-4)  # nanomaggies
    assert result.magnitude == pytest.approx(22.5 - 2.5 * np.log10(result.counts))
    assert result.magnitude_error == pytest.approx(1.0857 * result.counts_error / result.counts)


def test_aperture_partly_outside_the_image_gives_none():
    image = sersic_image(amplitude=20.0, seed=1)
    inside = CircularAperture((128.0, 128.0), r=40.0)
    assert _measure(image, inside) is not None
    for position in [(20.0, 128.0), (128.0, 240.0), (-50.0, -50.0), (1000.0, 5.0)]:
        assert _measure(image, CircularAperture(position, r=40.0)) is None


def test_masked_zero_region_gives_none():
    image = sersic_image(amplitude=20.0, seed=1)
    image.data[:60, :60] = 0.0  # survey mask / no coverage
    assert _measure(image, CircularAperture((25.0, 25.0), r=10.0)) is None


def test_negative_flux_has_no_magnitude():
    model = -star_model((128, 128), 63.5, 63.5, 500.0, 4.0)  # a hole in the sky
    image = make_image(model, pixel_arcsec=0.4, noise=0.1, seed=2)
    result = _measure(image, CircularAperture((63.5, 63.5), 6.0))
    assert result.flux < 0
    assert result.magnitude is None and result.magnitude_error is None


def test_nan_in_aperture_gives_none():
    image = sersic_image(amplitude=20.0, seed=1)
    image.data[128, 128] = np.nan
    assert _measure(image, CircularAperture((128.0, 128.0), r=30.0)) is None


def test_2mass_error_model():
    spec = get_filter("2MASS_H")
    header = fits.Header({"MAGZP": 20.0})
    image = make_image(
        star_model((128, 128), 63.5, 63.5, 5000.0, 3.0), pixel_arcsec=1.0, noise=2.0, seed=4
    )
    analysis = ImageAnalysis(image.data, wcs=image.wcs, filter_name="2MASS_H")
    aperture = EllipticalAperture((63.5, 63.5), 8.0, 5.0, theta=0.3)
    result = _measure(image, aperture, analysis, spec=spec, header=header)
    level = float(
        aperture.to_mask(method="exact").get_values(analysis.level_error_map.image()).sum()
    )
    assert level > 0
    expected = np.sqrt(
        result.counts / 60
        + 4 * np.pi * 8 * 5 * 1.7**2 * np.median(analysis.background_rms) ** 2
        + level**2
    )
    assert result.counts_error == pytest.approx(expected, rel=1e-9)
    assert result.flux == pytest.approx(result.counts * microjansky_per_count(spec, 20.0))


def test_wise_local_background_and_correlated_noise():
    spec = get_filter("WISE_W1")
    header = fits.Header({"MAGZP": 20.5, "EXPTIME": 200.0})
    model = star_model((128, 128), 63.5, 63.5, 3000.0, 3.0)
    image = make_image(model, pixel_arcsec=1.375, noise=0.5, seed=5)
    aperture = CircularAperture((63.5, 63.5), 8.0)
    analysis = ImageAnalysis(image.data, wcs=image.wcs, filter_name="WISE_W1")
    plain = _measure(image, aperture, analysis, spec=spec, header=header)
    truth = image.truth_in(aperture)
    assert plain.counts == pytest.approx(truth, rel=0.02)
    table = CorrelatedNoiseModel.from_arrays([2.0, 4.0, 16.0], [1.0, 4.0, 9.0])
    corrected = _measure(
        image, aperture, analysis, spec=spec, header=header, correlated_noise=table
    )
    # r = 8 px -> variance factor interpolated on sqrt: sqrt(4)=2 at 4 px, 3 at 16 px -> 2.333;
    # it scales the pixel term, not the background level's (added in quadrature)
    level = float(
        aperture.to_mask(method="exact").get_values(analysis.level_error_map.image()).sum()
    )
    pixel_plain = np.sqrt(plain.counts_error**2 - level**2)
    expected = np.hypot(pixel_plain * (2 + 4 / 12), level)
    assert corrected.counts_error == pytest.approx(expected, rel=1e-9)
    assert corrected.counts == plain.counts
    with pytest.raises(ValueError, match="increasing"):
        CorrelatedNoiseModel.from_arrays([2.0, 1.0], [1.0, 2.0])


def test_analysis_computed_once_equals_recomputed():
    image = sersic_image(amplitude=5.0, seed=21)
    first = ImageAnalysis(image.data, wcs=image.wcs, filter_name="SDSS_r")
    again = ImageAnalysis(image.data.copy(), wcs=image.wcs, filter_name="SDSS_r")
    np.testing.assert_array_equal(first.background, again.background)
    np.testing.assert_array_equal(first.background_rms, again.background_rms)
    np.testing.assert_array_equal(first.source_mask, again.source_mask)
    np.testing.assert_array_equal(first.segmentation(5).data, again.segmentation(5).data)
    assert first.catalog(5) is first.catalog(5.0, 10)  # cached per threshold
    assert first.catalog(5) is not first.catalog(10)
    aperture = CircularAperture((128.0, 128.0), 30.0)
    shared = _measure(image, aperture, first)
    assert shared == _measure(image, aperture, first)  # reused: same answer
    assert shared == _measure(image, aperture)  # computed inside: same answer
    # the analysis keeps its own read-only copy
    image.data[:] = 0.0
    assert first.data.any() and not first.data.flags.writeable
    with pytest.raises(ValueError, match="shape"):
        measure_aperture_photometry(
            np.zeros((10, 10)), HEADER, image.wcs, aperture.to_sky(image.wcs), SDSS_R, first
        )


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="2D"):
        ImageAnalysis(np.zeros(10))
    image = sersic_image(amplitude=5.0, seed=1)
    aperture = CircularAperture((128.0, 128.0), 30.0).to_sky(image.wcs)
    with pytest.raises(TypeError, match="FilterSpec"):
        measure_aperture_photometry(image.data, HEADER, image.wcs, aperture, "SDSS_r")
