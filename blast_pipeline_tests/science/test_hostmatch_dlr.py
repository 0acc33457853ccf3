"""Directional light radius against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from blast_pipeline.science.dlr import (
    directional_light_radius,
    fractional_offset,
    separation_arcsec,
)

ARCSEC = 1.0 / 3600.0


@pytest.mark.parametrize("dec", [0.0, 60.0, -45.0])
def test_dlr_on_major_and_minor_axes(dec):
    # Major axis along north-south (PA 0): a point due north is on the major axis.
    ra = 150.0
    a, b = 6.0, 2.0
    north = directional_light_radius(ra, dec, a, b, 0.0, ra, dec + 5 * ARCSEC)
    east = directional_light_radius(
        ra, dec, a, b, 0.0, ra + 5 * ARCSEC / np.cos(np.radians(dec)), dec
    )
    assert north == pytest.approx(a, rel=1e-6)
    assert east == pytest.approx(b, rel=1e-6)
    # Rotating the galaxy by 90 degrees swaps them.
    assert directional_light_radius(ra, dec, a, b, 90.0, ra, dec + 5 * ARCSEC) == pytest.approx(
        b, rel=1e-6
    )


def test_dlr_at_intermediate_angle_matches_formula():
    a, b, pa = 4.0, 1.0, 30.0
    # A point at position angle 75 deg (east of north), 3" from the centre, at the equator.
    theta = np.radians(75.0)
    ra = 3 * ARCSEC * np.sin(theta)
    dec = 3 * ARCSEC * np.cos(theta)
    phi = np.radians(75.0 - pa)
    expected = a * b / np.hypot(a * np.sin(phi), b * np.cos(phi))
    assert directional_light_radius(0.0, 0.0, a, b, pa, ra, dec) == pytest.approx(
        expected, rel=1e-5
    )
    assert fractional_offset(0.0, 0.0, a, b, pa, ra, dec) == pytest.approx(3.0 / expected, rel=1e-5)


def test_dlr_is_vectorised_by_broadcasting():
    galaxies_ra = np.array([[0.0], [0.0]])
    galaxies_dec = np.array([[0.0], [0.0]])
    a = np.array([[3.0], [5.0]])
    b = np.array([[1.0], [5.0]])
    points_dec = np.array([2 * ARCSEC, 4 * ARCSEC, 6 * ARCSEC])
    dlr = directional_light_radius(galaxies_ra, galaxies_dec, a, b, 0.0, 0.0, points_dec[None, :])
    assert dlr.shape == (2, 3)
    np.testing.assert_allclose(dlr, [[3.0] * 3, [5.0] * 3], rtol=1e-6)


def test_separation_handles_cos_dec():
    # 10 arcsec of RA coordinate at dec 60 is 5 arcsec on the sky.
    assert separation_arcsec(10.0, 60.0, 10.0 + 10 * ARCSEC, 60.0) == pytest.approx(5.0, rel=1e-4)


def test_dlr_rejects_non_positive_axes():
    with pytest.raises(ValueError, match="positive"):
        directional_light_radius(0.0, 0.0, 0.0, 1.0, 0.0, 0.0, ARCSEC)


def test_unknown_position_angle_is_round_of_the_same_area():
    """A galaxy with an axis ratio but no position angle is not an ellipse pointing north:
    its DLR is sqrt(a b) in every direction (it was a due north and b due east)."""
    ra, dec, a, b = 150.0, 10.0, 10.0, 2.0
    north = directional_light_radius(ra, dec, a, b, np.nan, ra, dec + 6 * ARCSEC)
    east = directional_light_radius(
        ra, dec, a, b, np.nan, ra + 6 * ARCSEC / np.cos(np.radians(dec)), dec
    )
    assert north == pytest.approx(np.sqrt(a * b), rel=1e-9)
    assert east == pytest.approx(np.sqrt(a * b), rel=1e-9)
    # a known position angle still gives the ellipse
    assert directional_light_radius(ra, dec, a, b, 0.0, ra, dec + 6 * ARCSEC) == pytest.approx(a)
