"""Physics of the simulated sky: cosmology, SED colours, Sérsic profiles, population statistics."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.cosmology import FlatLambdaCDM

from blast_pipeline.science.filters import get_filter
from blast_pipeline.sources.sky.cosmology import (
    angular_diameter_distance_mpc,
    distance_modulus,
    luminosity_distance_mpc,
)
from blast_pipeline.sources.sky.footprints import survey_covers
from blast_pipeline.sources.sky.galaxies import dlr_offset, ellipse_point
from blast_pipeline.sources.sky.population import build_field
from blast_pipeline.sources.sky.positions import field_centres, galactic_from_icrs
from blast_pipeline.sources.sky.sersic import (
    render_sersic,
    truncated_half_light_radius,
    truncated_integral,
)


def test_distances_match_astropy_for_blast_cosmology():
    reference = FlatLambdaCDM(H0=70, Om0=0.315)
    z = np.array([0.005, 0.05, 0.3, 1.2])
    assert np.allclose(
        luminosity_distance_mpc(z), reference.luminosity_distance(z).value, rtol=1e-6
    )
    assert np.allclose(
        angular_diameter_distance_mpc(z), reference.angular_diameter_distance(z).value, rtol=1e-6
    )
    assert np.allclose(distance_modulus(z), reference.distmod(z).value, atol=1e-5)
    with pytest.raises(ValueError, match="redshift"):
        luminosity_distance_mpc(-0.1)


@pytest.mark.parametrize(("n", "r_e", "q"), [(1.0, 6.0, 0.5), (4.0, 5.0, 0.8), (2.5, 1.2, 0.4)])
def test_sersic_stamp_normalisation_and_half_light_radius(n, r_e, q):
    half = int(6 * r_e) + 4
    box = (100 - half, 100 + half + 1)
    stamp = render_sersic(100.2, 99.7, box, box, r_e, n, q, 0.0)
    assert stamp.sum() == pytest.approx(1.0, rel=1e-9)
    # pa = 0: the major axis is north (y); the half-light ellipse holds half the light
    y, x = np.mgrid[box[0] : box[1], box[0] : box[1]]
    radius = np.hypot((x - 100.2) / q, y - 99.7)
    a_half = float(truncated_half_light_radius(n, r_e))
    inside = stamp[radius <= a_half].sum()
    assert inside == pytest.approx(0.5, abs=0.04)
    # a clipped stamp is normalised analytically: the pieces still add up to one
    top = render_sersic(100.2, 99.7, box, (100, box[1]), r_e, n, q, 0.0)
    bottom = render_sersic(100.2, 99.7, box, (box[0], 100), r_e, n, q, 0.0)
    assert top.sum() + bottom.sum() == pytest.approx(1.0, abs=0.01)
    assert truncated_integral(n, r_e, q) > 0


def test_truncated_half_light_radius_is_smaller_for_high_index():
    radii = truncated_half_light_radius(np.array([0.5, 1.0, 4.0]), 1.0)
    assert radii[0] == pytest.approx(1.0, abs=1e-4)
    assert 0.8 < radii[2] < radii[1] < 1.0


def test_dlr_geometry():
    east, north = ellipse_point(1.5, 0.7, 2.0, 0.5, 30.0)
    assert float(dlr_offset(east, north, 2.0, 0.5, 30.0)) == pytest.approx(1.5)
    # along the major axis one DLR is a; along the minor axis it is b
    assert float(dlr_offset(0.0, 2.0, 2.0, 0.5, 0.0)) == pytest.approx(1.0)
    assert float(dlr_offset(1.0, 0.0, 2.0, 0.5, 0.0)) == pytest.approx(1.0)


def test_field_centres_are_spread_over_the_sky_and_far_apart():
    ra, dec = field_centres(42, 600)
    _, b = galactic_from_icrs(ra, dec)
    assert np.all(np.abs(b) >= 10.0)
    assert 0.15 < np.mean(dec < -30) < 0.35
    assert np.mean(np.abs(b) < 20) > 0.1
    coords = SkyCoord(ra, dec, unit="deg")
    _, separation, _ = coords.match_to_catalog_sky(coords, nthneighbor=2)
    assert separation.deg.min() > 0.5  # 0.1 deg fields never touch
    again = field_centres(42, 100)
    assert np.array_equal(again[0], ra[:100])


def test_population_statistics():
    ra, dec = field_centres(9, 300)
    fields = [build_field(9, i, ra[i], dec[i], 30.0) for i in range(300)]
    hostless = np.mean([f.hostless for f in fields])
    assert 0.03 < hostless < 0.13
    redshifts = np.array([f.true_redshift for f in fields])
    assert redshifts.min() >= 0.005 and redshifts.max() <= 0.3
    assert 0.06 < np.median(redshifts) < 0.16
    offsets = np.array([f.offset_dlr for f in fields if f.host is not None])
    assert np.mean(offsets < 2.0) > 0.8 and offsets.max() < 4.0
    faint = np.mean([not f.host.in_catalog for f in fields if f.host is not None])
    assert 0.02 < faint < 0.3
    masses = np.array([f.host.log_stellar_mass for f in fields if f.host is not None])
    assert 9.5 < np.median(masses) < 10.5
    sizes = np.array([f.host.half_light_a_arcsec for f in fields if f.host is not None])
    assert 0.3 < np.median(sizes) < 5.0


def test_footprints():
    two_mass, ps1, des = get_filter("2MASS_J"), get_filter("PanSTARRS_r"), get_filter("DES_r")
    sdss, nuv, fuv = get_filter("SDSS_r"), get_filter("GALEX_NUV"), get_filter("GALEX_FUV")
    assert survey_covers(two_mass, 10.0, -80.0) and survey_covers(get_filter("WISE_W4"), 0.0, 89.0)
    assert survey_covers(ps1, 150.0, -29.0) and not survey_covers(ps1, 150.0, -31.0)
    assert survey_covers(des, 150.0, 10.0) and not survey_covers(des, 150.0, 40.0)
    assert survey_covers(sdss, 180.0, 30.0) and not survey_covers(sdss, 180.0, -40.0)
    ra, dec = np.meshgrid(np.arange(0, 360, 5.0), np.arange(-60, 61, 5.0))
    cells = list(zip(ra.ravel(), dec.ravel(), strict=True))
    high_b = [c for c in cells if abs(galactic_from_icrs(*c)[1]) > 20]
    nuv_cover = np.mean([survey_covers(nuv, *c) for c in high_b])
    assert 0.7 < nuv_cover < 0.97  # most but not all of the sky
    assert any(survey_covers(nuv, *c) and not survey_covers(fuv, *c) for c in high_b)
    assert not any(survey_covers(fuv, *c) and not survey_covers(nuv, *c) for c in cells)
    with pytest.raises(ValueError, match="invalid position"):
        survey_covers(ps1, 10.0, 91.0)
