"""SED input photometry: MW extinction, 1 % floor, S/N cut and Blast's filter rule, on numbers
worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blast_pipeline.science.sed_inputs import (
    PhotometryPoint,
    correct_photometry,
    has_enough_filters,
    mw_extinction_mag,
    prepare_sed_input,
)


def test_fitzpatrick99_at_its_spline_anchors():
    # F99's optical/IR curve is a spline through anchor points; at R_V = 3.1 (fm_unred.pro):
    #  6000 A: A/E(B-V) = -0.422809 + 1.00270*3.1 + 2.13572e-4*3.1**2 = 2.687613
    #  4670 A: 0.700127 + 1.00184*3.1 - 3.32598e-5*3.1**2             = 3.805511
    # 12200 A: 0.82925 * 3.1/3.1                                       = 0.829250
    a = mw_extinction_mag([6000.0, 4670.0, 12200.0], ebv=0.1)
    np.testing.assert_allclose(a, [0.2687613, 0.3805511, 0.0829250], rtol=1e-6)
    assert mw_extinction_mag([6000.0], ebv=0.0)[0] == 0.0


def test_bad_reddening_is_refused():
    with pytest.raises(ValueError, match="E\\(B-V\\)"):
        mw_extinction_mag([6000.0], ebv=-0.1)
    with pytest.raises(ValueError, match="E\\(B-V\\)"):
        mw_extinction_mag([6000.0], ebv=float("nan"))


def test_correction_and_one_percent_floor_by_hand():
    # A = 0.5 mag: factor 10**0.2 = 1.584893; 100 +- 2 uJy -> 158.4893 +- sqrt(3.169786**2 +
    # 1.584893**2) = 3.543928. A = 0: 100 +- 0.1 -> 100 +- sqrt(0.01 + 1) = 1.004988 (floor wins).
    flux, err = correct_photometry(np.array([100.0, 100.0]), np.array([2.0, 0.1]), [0.5, 0.0])
    np.testing.assert_allclose(flux, [158.48932, 100.0], rtol=1e-6)
    np.testing.assert_allclose(err, [3.543928, 1.004988], rtol=1e-6)


def test_prepare_applies_the_cut_after_the_correction_and_sorts_by_wavelength():
    points = [
        PhotometryPoint("2MASS_J", 10.0, 2.0, 12200.0),  # S/N 5 -> kept
        PhotometryPoint("PanSTARRS_r", 50.0, 1.0, 6000.0),  # kept
        PhotometryPoint("GALEX_NUV", 2.9, 1.0, 2300.0),  # S/N 2.9 (unchanged by A) -> cut
        PhotometryPoint("WISE_W1", -3.0, 1.0, 33526.0),  # negative -> cut
        PhotometryPoint("SDSS_u", float("nan"), 1.0, 3500.0),  # no flux -> ignored
    ]
    sed = prepare_sed_input(points, ebv=0.1)
    assert sed.filters == ("PanSTARRS_r", "2MASS_J")
    assert sed.rejected_filters == ("GALEX_NUV", "WISE_W1")
    factor_r = 10 ** (0.4 * 0.2687613)
    assert sed.flux_ujy[0] == pytest.approx(50.0 * factor_r, rel=1e-6)
    assert sed.flux_err_ujy[0] == pytest.approx(
        math.hypot(1.0 * factor_r, 0.01 * 50.0 * factor_r), rel=1e-6
    )
    factor_j = 10 ** (0.4 * 0.082925)
    assert sed.flux_ujy[1] == pytest.approx(10.0 * factor_j, rel=1e-6)
    np.testing.assert_allclose(sed.extinction_mag, [0.2687613, 0.082925], rtol=1e-6)
    np.testing.assert_allclose(sed.wavelength_angstrom, [6000.0, 12200.0])


def test_signal_to_noise_three_is_kept_below_is_not():
    # with A = 0 and err = 1, flux 3.0 gives err sqrt(1 + 0.03**2) = 1.00045 -> S/N 2.9987 (cut);
    # flux 3.01 -> err 1.000453, S/N 3.0086 (kept)
    sed = prepare_sed_input(
        [PhotometryPoint("SDSS_g", 3.0, 1.0, 4770.0), PhotometryPoint("SDSS_r", 3.01, 1.0, 6231.0)],
        ebv=0.0,
    )
    assert sed.filters == ("SDSS_r",) and sed.rejected_filters == ("SDSS_g",)


def test_empty_input():
    sed = prepare_sed_input([], ebv=0.05)
    assert sed.filters == () and sed.flux_ujy.shape == (0,)


@pytest.mark.parametrize(
    ("filters", "enough"),
    [
        ({"PanSTARRS_g"}, True),  # one optical band is enough
        ({"DES_r"}, True),
        ({"GALEX_NUV", "WISE_W1"}, True),  # UV + IR
        ({"SDSS_u", "2MASS_K"}, True),
        ({"GALEX_FUV", "GALEX_NUV"}, False),  # UV only
        ({"WISE_W1", "2MASS_J"}, False),  # IR only
        ({"DES_z", "DES_i", "DES_Y"}, False),  # DES z/i/Y are not in Blast's optical set
        (set(), False),
    ],
)
def test_blast_filter_rule(filters, enough):
    assert has_enough_filters(filters) is enough
