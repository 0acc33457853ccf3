"""Cutout storage: every pixel and the header read back, so the aperture photometry is
unchanged; compressed where that pays (integers, quantised floats), plain otherwise; old
uncompressed files still read."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from photutils.aperture import SkyCircularAperture

from blast_pipeline.science.background import BackgroundEstimationError, ImageAnalysis
from blast_pipeline.science.filters import FILTERS
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.sources.sky import SimulatedSky
from blast_pipeline.tasks.fits_storage import (
    WORTHWHILE_COMPRESSION,
    compressed_fraction,
    image_hdu,
    write_image,
)


def _photometry(path, spec, sky):
    with fits.open(path) as hdul:
        hdu = image_hdu(hdul)
        data, header = np.asarray(hdu.data, dtype=np.float64), hdu.header.copy()
    wcs = WCS(header).celestial
    try:
        analysis = ImageAnalysis(data, wcs=wcs, filter_name=spec.name)
    except BackgroundEstimationError:
        return None
    return measure_aperture_photometry(data, header, wcs, sky, spec, analysis)


@pytest.mark.slow
def test_storage_leaves_the_pixels_and_the_photometry_unchanged(tmp_path):
    sky = SimulatedSky(tmp_path / "sky", seed=42, fov_arcsec=120)
    compared = files = raw_bytes = packed_bytes = 0
    worst = 0.0
    for transient in sky.generate(1):
        centre = SkyCoord(transient.ra_deg * u.deg, transient.dec_deg * u.deg)
        for spec in FILTERS:
            hdul = sky.fetch_cutout(transient.ra_deg, transient.dec_deg, spec, 120)
            if hdul is None:
                continue
            raw = tmp_path / f"{spec.name}.raw.fits"
            packed = tmp_path / f"{spec.name}.fits"
            hdul.writeto(raw, overwrite=True)
            write_image(hdul[0], packed)
            files += 1
            raw_bytes += raw.stat().st_size
            packed_bytes += packed.stat().st_size
            with fits.open(packed) as back:
                hdu = image_hdu(back)
                assert hdu.data.shape == hdul[0].data.shape
                assert (
                    WCS(hdu.header).celestial.to_header()
                    == WCS(hdul[0].header).celestial.to_header()
                )
                assert np.array_equal(hdu.data, hdul[0].data, equal_nan=True)  # lossless
            for radius in (3.0, 8.0):
                aperture = SkyCircularAperture(centre, radius * u.arcsec)
                before = _photometry(raw, spec, aperture)
                after = _photometry(packed, spec, aperture)
                assert (before is None) == (after is None)
                if before is None or before.flux is None:
                    continue
                shift = abs(after.flux - before.flux) / before.flux_error
                worst = max(worst, shift)
                compared += 1
    assert compared > 15
    assert worst == 0.0, worst
    assert packed_bytes <= raw_bytes + files * 2880  # at most an empty primary header more


def test_integer_images_are_stored_losslessly(tmp_path):
    data = np.random.default_rng(1).integers(0, 60000, size=(64, 80)).astype(np.int32)
    header = fits.Header({"EXPTIME": 30.0})
    write_image(fits.PrimaryHDU(data, header), tmp_path / "int.fits")
    with fits.open(tmp_path / "int.fits") as hdul:
        hdu = image_hdu(hdul)
        assert isinstance(hdu, fits.CompImageHDU)
        assert np.array_equal(hdu.data, data) and hdu.header["EXPTIME"] == 30.0
    # an uncompressed file (written before, or by Blast) still reads
    fits.PrimaryHDU(data).writeto(tmp_path / "plain.fits")
    with fits.open(tmp_path / "plain.fits") as hdul:
        assert np.array_equal(image_hdu(hdul).data, data)


def test_floats_are_compressed_only_where_it_pays(tmp_path):
    """Full-precision noise is stored plain (GZIP would save ~10 % for ~20x the write time);
    the same image quantised as survey services deliver it is compressed; both exactly."""
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 5.0, size=(300, 200)).astype(np.float32)  # sky-subtracted
    quantised = (np.round(noise / 0.5) * 0.5).astype(np.float32)
    assert compressed_fraction(noise) > WORTHWHILE_COMPRESSION > compressed_fraction(quantised)
    for data, kind in ((noise, fits.ImageHDU), (quantised, fits.CompImageHDU)):
        write_image(fits.PrimaryHDU(data, fits.Header({"BUNIT": "nmgy"})), tmp_path / "f.fits")
        with fits.open(tmp_path / "f.fits") as hdul:
            hdu = image_hdu(hdul)
            assert type(hdu) is kind and hdu is hdul[1]  # crops are sections of extension 1
            assert np.array_equal(hdu.data, data) and hdu.header["BUNIT"] == "nmgy"
            assert hdu.section[10:20, 30:45].tolist() == data[10:20, 30:45].tolist()


def test_finding_the_image_reads_the_header_not_the_compressed_pixels(tmp_path):
    """Tasks that need only a cutout's header and WCS (crops) must not decompress it."""
    data = np.arange(64 * 48, dtype=np.float32).reshape(48, 64)
    write_image(fits.PrimaryHDU(data), tmp_path / "c.fits")
    with fits.open(tmp_path / "c.fits") as hdul:
        hdu = image_hdu(hdul)
        assert hdu is hdul[1]
        assert (hdu.header["NAXIS1"], hdu.header["NAXIS2"]) == (64, 48)
        assert not hdu._data_loaded
        np.testing.assert_array_equal(hdu.data, data)
    with fits.open(tmp_path / "c.fits") as hdul:  # an empty primary HDU is never the image
        hdul[0].header["NAXIS"] = 0
        assert image_hdu(hdul) is hdul[1]
