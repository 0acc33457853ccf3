"""Contamination of global apertures and the validation flags."""

from __future__ import annotations

from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from phot_synthetic import HOST_DEC, HOST_RA, make_image, sersic_model, star_model
from photutils.aperture import SkyCircularAperture, SkyEllipticalAperture

from blast_pipeline.science import validation
from blast_pipeline.science.apertures import match_host_source
from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.cosmology import local_aperture_radius_arcsec
from blast_pipeline.science.validation import (
    global_validation_flag,
    global_validation_flags,
    is_contaminated,
    local_aperture_resolved,
    local_validation_flag,
)

SHAPE = (256, 256)


def _galaxy(with_neighbour: bool):
    model = sersic_model(SHAPE, amplitude=20.0, r_eff=10.0, ellip=0.2)
    if with_neighbour:
        # a star 30 px from the centre: a separate segment at 5 sigma (the galaxy's 5-sigma
        # isophote is at ~19 px), inside a 40 px aperture
        model = model + star_model(SHAPE, 127.5 + 30, 127.5, 1000.0, 3.0)
    return make_image(model, seed=8)


def _aperture(radius_pix=40.0):
    return SkyCircularAperture(
        SkyCoord(HOST_RA * u.deg, HOST_DEC * u.deg), radius_pix * 0.25 * u.arcsec
    )


def test_neighbour_inside_the_aperture_is_contamination():
    isolated = _galaxy(False)
    iso_analysis = ImageAnalysis(isolated.data, wcs=isolated.wcs)
    aperture = _aperture()
    assert is_contaminated(iso_analysis, aperture, isolated.wcs) is False

    crowded = _galaxy(True)
    analysis = ImageAnalysis(crowded.data, wcs=crowded.wcs)
    assert analysis.segmentation(5, 15).n_labels >= 2
    assert is_contaminated(analysis, aperture, crowded.wcs) is True
    # plain arrays are accepted too
    assert is_contaminated(crowded.data, aperture, crowded.wcs) is True
    # a smaller aperture that stops short of the star is clean
    assert is_contaminated(analysis, _aperture(20.0), crowded.wcs) is False
    # the global aperture of the host itself (Kron ellipse) on the crowded image
    match = match_host_source(crowded.data, crowded.wcs, HOST_RA, HOST_DEC, analysis=analysis)
    assert match is not None and match.separation_arcsec < 1.0


def test_aperture_off_the_image_cannot_be_assessed():
    image = _galaxy(False)
    far = SkyEllipticalAperture(
        SkyCoord((HOST_RA + 1) * u.deg, HOST_DEC * u.deg),
        5 * u.arcsec,
        3 * u.arcsec,
        theta=0 * u.deg,
    )
    assert is_contaminated(ImageAnalysis(image.data, wcs=image.wcs), far, image.wcs) is None


def test_global_validation_flags_follow_blast():
    # many clean apertures: contaminated ones are rejected
    assert global_validation_flags([False, False, False, True]) == ["true"] * 3 + ["false"]
    # at most two clean: keep the contaminated ones with a warning
    assert global_validation_flags([False, True, True]) == [
        "true",
        "contamination warning",
        "contamination warning",
    ]
    assert global_validation_flag(True, 2) == "contamination warning"
    assert global_validation_flag(True, 3) == "false"
    assert global_validation_flag(False, 0) == "true"
    with pytest.raises(ValueError):
        global_validation_flag(True, -1)


def test_local_aperture_resolution():
    z = 0.015355  # SN 2010H: 2 kpc is about 6.6"
    radius = local_aperture_radius_arcsec(z)
    assert 6 < radius < 7
    assert local_aperture_resolved(z, 1.32) is True  # SDSS r
    assert local_aperture_resolved(z, 11.82) is False  # WISE W4
    assert local_aperture_resolved(z, radius * 0.999) is True
    assert local_aperture_resolved(z, radius * 1.001) is False
    assert local_validation_flag(None, 1.0) == "false"
    assert local_validation_flag(z, 1.0) == "true"
    with pytest.raises(ValueError, match="fwhm"):
        local_aperture_resolved(z, 0.0)


def _crowded_field(seed: int, shape=(600, 600), n_stars=15):
    """A host with random neighbours (10 galaxies, ``n_stars`` stars) and a few NaN pixels."""
    rng = np.random.default_rng(seed)
    model = sersic_model(shape, amplitude=15.0, r_eff=rng.uniform(5, 30), ellip=0.3)
    for _ in range(n_stars):
        x, y = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        model = model + star_model(shape, x, y, rng.uniform(50, 3000), 3.0)
    for _ in range(10):
        model = model + sersic_model(
            shape,
            amplitude=rng.uniform(0.5, 8),
            r_eff=rng.uniform(2, 15),
            x0=rng.uniform(0, shape[1]),
            y0=rng.uniform(0, shape[0]),
            ellip=rng.uniform(0, 0.6),
        )
    image = make_image(model, seed=seed)
    image.data[rng.integers(0, shape[0], 30), rng.integers(0, shape[1], 30)] = np.nan
    return image


@pytest.mark.parametrize(
    ("seed", "margin", "n_stars", "n_apertures"),
    [(0, 48, 15, 60), (1, 48, 15, 60), (2, 8, 15, 60), (3, 2, 60, 60), (4, 1, 60, 60)],
)
def test_the_window_around_the_aperture_decides_exactly_as_the_whole_image(
    seed, margin, n_stars, n_apertures, monkeypatch
):
    """The fast path (a window around the aperture) gives the whole image's answer for every
    aperture: centred on sources and not, small and large, clean and contaminated. Small
    margins make segments cross the window's edge and sources lie just outside it, so the
    checks that send such cases to a wider window or the whole image are exercised too."""
    monkeypatch.setattr(validation, "_WINDOW_MARGIN", margin)
    image = _crowded_field(seed, n_stars=n_stars)
    rng = np.random.default_rng(100 + seed)
    whole = ImageAnalysis(image.data, wcs=image.wcs)
    whole.segmentation(5.0, 15)  # cached: is_contaminated then uses the whole image
    windowed = ImageAnalysis(image.data, wcs=image.wcs)
    by_window = []
    ny, nx = image.data.shape
    for _ in range(n_apertures):
        x, y = rng.uniform(-20, nx + 20), rng.uniform(-20, ny + 20)
        if rng.uniform() < 0.3:  # centred on the host
            x, y = (nx - 1) / 2 + rng.normal(0, 2), (ny - 1) / 2 + rng.normal(0, 2)
        centre = image.wcs.pixel_to_world(x, y)
        a = rng.uniform(2, 120) * 0.25 * u.arcsec
        aperture = SkyEllipticalAperture(
            centre, a, a * rng.uniform(0.3, 1.0), theta=rng.uniform(0, 180) * u.deg
        )
        expected = is_contaminated(whole, aperture, image.wcs)
        assert is_contaminated(windowed, aperture, image.wcs) is expected
        if windowed.cached_segmentations:  # undecided by the window: the whole image was used
            windowed = ImageAnalysis(image.data, wcs=image.wcs)
        else:
            by_window.append(expected)
    assert len(by_window) >= 30 and {True, False} <= set(by_window)


def _flat_sky_analysis(data):
    """What `_contamination_in_window` reads of an `ImageAnalysis`, for a noiseless image on a
    zero background with unit RMS."""
    return SimpleNamespace(
        shape=data.shape,
        subtracted_in=lambda region: data[region],
        background_rms_in=lambda region: np.ones_like(data)[region],
        invalid_mask=np.zeros(data.shape, dtype=bool),
    )


def _decide_in_window(data):
    """`_contamination_in_window` for the 5 x 5 aperture at rows/columns 48-52 of ``data``
    (centre (50, 50); 5 sigma, 4 pixels)."""
    aperture, inside = (slice(48, 53), slice(48, 53)), np.ones((5, 5), dtype=bool)
    return validation._contamination_in_window(
        _flat_sky_analysis(data), aperture, inside, (50.0, 50.0), 5.0, 4
    )


def test_a_source_just_outside_the_window_can_be_the_central_one(monkeypatch):
    """The one segment in the aperture (L) is the nearest of the first window, but a source (S)
    just outside that window is nearer still: the window must not answer "clean"; the wider
    window sees S and answers "contaminated", as the whole image does."""
    data = np.zeros((100, 100))
    for k in range(52, 60):  # a diagonal bar from the aperture ...
        data[k - 1 : k + 2, k - 1 : k + 2] = 50.0
    data[60:62, 60:62] = 10000.0  # ... to a bright knot: L's centroid is 14.7 px away
    data[49:52, 63:66] = 100.0  # S, 14 px away, just beyond the first window (cols 38-62)
    monkeypatch.setattr(validation, "_WINDOW_MARGIN", 10)
    assert _decide_in_window(data) is True
    monkeypatch.setattr(validation, "_WINDOW_TRIES", 1)
    assert _decide_in_window(data) is None
    # without S, L is the central source and the aperture is clean
    data[49:52, 63:66] = 0.0
    monkeypatch.setattr(validation, "_WINDOW_TRIES", 3)
    assert _decide_in_window(data) is False


def test_a_segment_that_leaves_the_window_is_not_cut_in_two(monkeypatch):
    """A U-shaped source enters the aperture twice and closes beyond the first window: cut at
    the window's edge it would look like two sources (contamination); the window must widen
    until the whole source is in it, and answer "clean" as the whole image does."""
    data = np.zeros((100, 100))
    data[45:71, 48] = data[45:71, 52] = 100.0  # two arms through the aperture ...
    data[68:71, 48:53] = 100.0  # ... joined at rows 68-70, beyond the first window (38-62)
    monkeypatch.setattr(validation, "_WINDOW_MARGIN", 10)
    assert _decide_in_window(data) is False
