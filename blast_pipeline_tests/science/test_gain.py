"""Effective gains for the Poisson term (`science.gain`): Blast's rule except for SDSS and WISE."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from phot_synthetic import EXAMPLE_2010H

from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.gain import (
    effective_gain,
    photon_exposure_s,
    sdss_gain_electrons_per_dn,
)
from blast_pipeline.science.units import MissingHeaderKeyword


def test_sdss_electrons_per_nanomaggy_come_from_the_camera_gain_and_nmgy():
    spec = get_filter("SDSS_r")
    header = fits.Header({"EXPTIME": 53.907456, "NMGY": 0.005, "CAMCOL": 6})
    assert effective_gain(spec, header) == pytest.approx(4.895 / 0.005)
    del header["CAMCOL"]  # the band's median gain over the six camcols
    assert effective_gain(spec, header) == pytest.approx(
        np.median([4.71, 4.6, 4.72, 4.76, 4.725, 4.895]) / 0.005
    )
    assert effective_gain(spec, header) == pytest.approx(sdss_gain_electrons_per_dn("r") / 0.005)
    del header["NMGY"]  # no calibration keyword: Blast's EXPTIME
    assert effective_gain(spec, header) == pytest.approx(53.907456)


#: The real 2010H cutouts (../shared/data next to the repository; absent from some clones).
needs_2010h = pytest.mark.skipif(
    not EXAMPLE_2010H.is_dir(), reason=f"real 2010H cutouts not found at {EXAMPLE_2010H}"
)


@needs_2010h
def test_real_sdss_frame_header():
    header = fits.getheader(EXAMPLE_2010H / "SDSS" / "SDSS_u.fits")
    gain = effective_gain(get_filter("SDSS_u"), header)
    assert gain == pytest.approx(1.62 / float(header["NMGY"]))  # camcol 1
    assert gain > 3.5 * float(header["EXPTIME"])  # Blast's rule: 4x the u-band variance


@needs_2010h
def test_real_wise_coadd_header():
    header = fits.getheader(EXAMPLE_2010H / "WISE" / "WISE_W1.fits")
    assert effective_gain(get_filter("WISE_W1"), header) == pytest.approx(3.20 * 212.1581 / 7.7)


def test_wise_coadds_count_their_frames():
    header = fits.Header({"EXPTIME": 88.0})
    assert effective_gain(get_filter("WISE_W4"), header) == pytest.approx(24.5 * 10.0)


def test_other_surveys_keep_blasts_rule():
    # Legacy Survey: Blast's EXPTIME is a depth-map value, not a time: it plays no part
    des = effective_gain(get_filter("DES_r"), fits.Header({"EXPTIME": 90.0}))
    assert des == effective_gain(get_filter("DES_r"), fits.Header())
    assert des == pytest.approx(10 ** (0.4 * (26.818 - 22.5)) * 10 * 90.0)
    assert effective_gain(get_filter("DES_Y"), fits.Header()) == pytest.approx(
        10 ** (0.4 * (25.321 - 22.5)) * 10 * 45.0
    )
    assert effective_gain(get_filter("PanSTARRS_r"), fits.Header({"EXPTIME": 900.0})) == 1.0
    with pytest.raises(MissingHeaderKeyword, match="EXPTIME"):
        effective_gain(get_filter("GALEX_NUV"), fits.Header())
    with pytest.raises(ValueError, match="non-positive EXPTIME"):
        effective_gain(get_filter("WISE_W1"), fits.Header({"EXPTIME": 0.0}))


def test_bad_sdss_calibration_keywords_are_named():
    spec = get_filter("SDSS_r")
    with pytest.raises(ValueError, match="NMGY"):
        effective_gain(spec, fits.Header({"EXPTIME": 53.9, "NMGY": 0.0}))
    for camcol in (2.7, 9, "x"):
        with pytest.raises(ValueError, match=f"CAMCOL {camcol!r}"):
            effective_gain(spec, fits.Header({"EXPTIME": 53.9, "NMGY": 0.005, "CAMCOL": camcol}))
    header = fits.Header({"NMGY": 0.005, "CAMCOL": "3"})  # a string camcol is still camcol 3
    assert effective_gain(spec, header) == pytest.approx(4.72 / 0.005)


def test_only_galex_maps_are_photon_counting():
    header = fits.Header({"EXPTIME": 181.05})
    assert photon_exposure_s(get_filter("GALEX_FUV"), header) == 181.05
    assert photon_exposure_s(get_filter("WISE_W1"), header) is None
    with pytest.raises(MissingHeaderKeyword, match="EXPTIME"):
        photon_exposure_s(get_filter("GALEX_NUV"), fits.Header())
