"""Contamination of global apertures and the validation flags."""

from __future__ import annotations

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord
from phot_synthetic import HOST_DEC, HOST_RA, make_image, sersic_model, star_model
from photutils.aperture import SkyCircularAperture, SkyEllipticalAperture

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
