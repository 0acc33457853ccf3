"""Simulated cutouts: FITS/WCS validity, survey units, and fluxes against the truth."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from photutils.aperture import (
    SkyCircularAperture,
    SkyEllipticalAperture,
    aperture_photometry,
)
from sky_fixtures import TEST_FOV_ARCSEC, first

from blast_pipeline.science.filters import FILTERS, cutout_size_pixels, get_filter
from blast_pipeline.science.units import image_zero_point, microjansky_per_count
from blast_pipeline.sources.sky.render import (
    CutoutGrid,
    SceneRenderer,
    cutout_grid,
    image_header,
)
from blast_pipeline.sources.sky.sersic import TRUNCATION_IN_RE


def _to_microjansky(hdu: fits.PrimaryHDU, spec, value: float) -> float:
    return value * microjansky_per_count(spec, image_zero_point(spec, hdu.header))


def _covered_transient(sky, spec):
    for transient in sky.transients():
        if sky.truth(transient.name)["coverage"][spec.name]:
            return transient
    raise AssertionError(f"no transient covered by {spec.name}")


@pytest.mark.parametrize("spec", FILTERS, ids=lambda s: s.name)
def test_cutouts_are_north_up_tan_images_of_blast_geometry(small_sky, spec):
    transient = _covered_transient(small_sky, spec)
    hdul = small_sky.fetch_cutout(transient.ra_deg, transient.dec_deg, spec, 60.0)
    assert len(hdul) == 1
    data, header = hdul[0].data, hdul[0].header
    n = cutout_size_pixels(spec, 60.0)
    assert data.shape == (n, n)
    assert data.dtype == np.float32
    assert np.all(np.isfinite(data))
    wcs = WCS(header)
    assert wcs.has_celestial and wcs.wcs.ctype[0] == "RA---TAN" and wcs.wcs.ctype[1] == "DEC--TAN"
    assert proj_plane_pixel_scales(wcs) * 3600 == pytest.approx([spec.pixel_size_arcsec] * 2)
    centre = wcs.world_to_pixel(SkyCoord(transient.ra_deg, transient.dec_deg, unit="deg"))
    assert np.allclose(centre, [(n - 1) / 2, (n - 1) / 2], atol=1e-6)
    c = (n - 1) / 2
    north = wcs.pixel_to_world(c, c + 10).dec.deg - wcs.pixel_to_world(c, c).dec.deg
    assert north == pytest.approx(10 * spec.pixel_size_arcsec / 3600, rel=1e-3)
    west = wcs.pixel_to_world(c + 10, c)  # +x is west: RA decreases
    offset = SkyCoord(transient.ra_deg, transient.dec_deg, unit="deg").spherical_offsets_to(west)
    assert offset[0].to_value(u.arcsec) == pytest.approx(-10 * spec.pixel_size_arcsec, rel=1e-3)
    assert header["BLASTFLT"] == spec.name
    image_zero_point(spec, header)  # every keyword the unit conversion needs is present


def test_blast_full_geometry_pixel_counts():
    expected = {
        "PanSTARRS": 1440,
        "DES": 1365,
        "SDSS": 900,
        "2MASS": 360,
        "WISE": 261,
        "GALEX": 240,
    }
    for spec in FILTERS:
        grid = cutout_grid(150.0, 20.0, spec, 360.0)
        assert grid.n_pixels == expected[spec.survey], spec.name


def test_survey_specific_headers(small_sky):
    transient = small_sky.transients()[1]  # covered by everything but SDSS
    headers = {}
    for name in ("2MASS_K", "WISE_W3", "GALEX_FUV", "PanSTARRS_y", "DES_g"):
        hdul = small_sky.fetch_cutout(transient.ra_deg, transient.dec_deg, get_filter(name), 30.0)
        headers[name] = hdul[0].header
    assert headers["2MASS_K"]["MAGZP"] == pytest.approx(19.9023)
    assert headers["WISE_W3"]["MAGZP"] == 18.0 and headers["WISE_W3"]["EXPTIME"] > 0
    assert headers["GALEX_FUV"]["EXPTIME"] > 0
    assert headers["PanSTARRS_y"]["EXPTIME"] > 0
    assert image_zero_point(get_filter("PanSTARRS_y"), headers["PanSTARRS_y"]) == pytest.approx(
        25 + 2.5 * np.log10(headers["PanSTARRS_y"]["EXPTIME"])
    )
    assert headers["DES_g"]["BUNIT"] == "nanomaggy" and headers["DES_g"]["EXPTIME"] > 0
    assert "CD1_1" in headers["DES_g"] and "CDELT1" in headers["2MASS_K"]
    sdss_name = first(small_sky, lambda f: small_sky.truth(f.transient.name)["coverage"]["SDSS_r"])
    sdss = small_sky.transient(sdss_name)
    header = small_sky.fetch_cutout(sdss.ra_deg, sdss.dec_deg, get_filter("SDSS_r"), 30.0)[0].header
    assert header["BUNIT"] == "nanomaggy" and header["NMGY"] > 0
    # one nanomaggy is 3.631 microjansky
    assert microjansky_per_count(
        get_filter("SDSS_r"), image_zero_point(get_filter("SDSS_r"), header)
    ) == pytest.approx(3.631, rel=1e-3)


def test_host_only_render_peaks_at_the_wcs_position_and_holds_the_total_flux(small_sky):
    name = first(small_sky, lambda f: f.host is not None and f.host.catalog_band_mag < 19.0)
    host = small_sky.field(name).host
    for spec in (get_filter("PanSTARRS_r"), get_filter("2MASS_H"), get_filter("GALEX_NUV")):
        extent = TRUNCATION_IN_RE * host.r_e_arcsec + 6 * spec.image_fwhm_arcsec
        grid = cutout_grid(host.ra_deg + 0.0004, host.dec_deg - 0.0003, spec, 2 * extent + 10)
        header = image_header(grid, spec, 42)
        model = SceneRenderer().model(grid, spec, header, [host], [])
        y, x = np.unravel_index(np.argmax(model), model.shape)
        expected = grid.wcs().world_to_pixel(SkyCoord(host.ra_deg, host.dec_deg, unit="deg"))
        assert abs(x - expected[0]) <= 1.0 and abs(y - expected[1]) <= 1.0, spec.name
        total = model.sum() * microjansky_per_count(spec, image_zero_point(spec, header))
        assert total == pytest.approx(host.flux(spec), rel=2e-5), spec.name


def test_bright_host_is_the_brightest_pixel_of_the_real_cutout(small_sky):
    spec = get_filter("PanSTARRS_r")

    def host_peaks(field) -> bool:
        t = field.transient
        if field.host is None or t.dec_deg <= -30 or field.host.catalog_band_mag > 18.5:
            return False
        hdul = small_sky.model_image(t.ra_deg, t.dec_deg, spec, TEST_FOV_ARCSEC)
        y, x = np.unravel_index(np.argmax(hdul[0].data), hdul[0].data.shape)
        hx, hy = WCS(hdul[0].header).world_to_pixel(
            SkyCoord(field.host.ra_deg, field.host.dec_deg, unit="deg")
        )
        return abs(x - hx) <= 1.0 and abs(y - hy) <= 1.0

    name = first(small_sky, host_peaks)
    noisy = small_sky.fetch_cutout(
        small_sky.transient(name).ra_deg, small_sky.transient(name).dec_deg, spec, TEST_FOV_ARCSEC
    )
    host = small_sky.field(name).host
    y, x = np.unravel_index(np.argmax(noisy[0].data), noisy[0].data.shape)
    hx, hy = WCS(noisy[0].header).world_to_pixel(SkyCoord(host.ra_deg, host.dec_deg, unit="deg"))
    assert abs(x - hx) <= 2.0 and abs(y - hy) <= 2.0


@pytest.mark.parametrize("filter_name", ["WISE_W1", "2MASS_J", "GALEX_FUV"])
def test_whole_field_model_holds_every_source_total_flux(small_sky, filter_name):
    spec = get_filter(filter_name)
    name = first(small_sky, lambda f: small_sky.truth(f.transient.name)["coverage"][filter_name])
    field = small_sky.field(name)
    reach = max(TRUNCATION_IN_RE * g.r_e_arcsec for g in field.galaxies)
    fov = 2 * (field.half_width_arcsec * np.sqrt(2) + reach + 5 * spec.image_fwhm_arcsec)
    hdul = small_sky.model_image(field.transient.ra_deg, field.transient.dec_deg, spec, fov)
    total = _to_microjansky(hdul[0], spec, float(hdul[0].data.sum()))
    expected = sum(g.flux(spec) for g in field.galaxies) + sum(s.flux(spec) for s in field.stars)
    assert total == pytest.approx(expected, rel=1e-5)


def test_true_flux_matches_photometry_on_model_and_noisy_images(small_sky):
    name = first(
        small_sky,
        lambda f: (
            f.host is not None and f.host.catalog_band_mag < 19.0 and f.transient.dec_deg > -30
        ),
    )
    transient, host = small_sky.transient(name), small_sky.field(name).host
    aperture = SkyEllipticalAperture(
        SkyCoord(host.ra_deg, host.dec_deg, unit="deg"),
        a=3 * host.half_light_a_arcsec * u.arcsec,
        b=3 * host.half_light_b_arcsec * u.arcsec,
        theta=host.pa_deg * u.deg,
    )
    for filter_name in ("PanSTARRS_g", "PanSTARRS_z", "2MASS_H"):
        spec = get_filter(filter_name)
        truth = small_sky.true_flux_microjansky(name, spec, aperture)
        assert 0.2 * host.flux(spec) < truth < 1.5 * host.flux(spec)
        model = small_sky.model_image(transient.ra_deg, transient.dec_deg, spec, TEST_FOV_ARCSEC)
        wcs = WCS(model[0].header)
        measured = aperture_photometry(model[0].data, aperture, wcs=wcs, method="exact")
        model_flux = _to_microjansky(model[0], spec, float(measured["aperture_sum"][0]))
        assert model_flux == pytest.approx(truth, rel=1e-6)
        noisy = small_sky.fetch_cutout(transient.ra_deg, transient.dec_deg, spec, TEST_FOV_ARCSEC)
        data = noisy[0].data.astype(float)
        _, sky_level, sky_sigma = sigma_clipped_stats(data, sigma=3.0)
        residual = data - sky_level
        noisy_sum = aperture_photometry(residual, aperture, wcs=wcs, method="exact")
        noisy_flux = _to_microjansky(noisy[0], spec, float(noisy_sum["aperture_sum"][0]))
        area = aperture.to_pixel(wcs).area
        noise = _to_microjansky(noisy[0], spec, sky_sigma * np.sqrt(area))
        shot = np.sqrt(max(truth, 0.0) * 1e-3)  # generous allowance for source shot noise
        assert abs(noisy_flux - truth) < 5 * noise + 0.05 * truth + shot, filter_name


def test_true_flux_grows_the_grid_for_large_apertures(small_sky):
    name = small_sky.transients()[0].name
    field = small_sky.field(name)
    spec = get_filter("WISE_W2")
    centre = SkyCoord(field.transient.ra_deg, field.transient.dec_deg, unit="deg")
    big = SkyCircularAperture(centre, r=0.9 * TEST_FOV_ARCSEC * u.arcsec)
    inside = small_sky.true_flux_microjansky(name, spec, big)
    small = small_sky.true_flux_microjansky(
        name, spec, SkyCircularAperture(centre, r=20 * u.arcsec)
    )
    assert inside > small > 0


def test_no_coverage_returns_none(small_sky):
    south = first(small_sky, lambda f: f.transient.dec_deg < -35)
    north = first(small_sky, lambda f: f.transient.dec_deg > 35)
    ps_g, des_g, sdss_u = get_filter("PanSTARRS_g"), get_filter("DES_g"), get_filter("SDSS_u")
    south_t, north_t = small_sky.transient(south), small_sky.transient(north)
    assert small_sky.fetch_cutout(south_t.ra_deg, south_t.dec_deg, ps_g, 30.0) is None
    assert small_sky.model_image(south_t.ra_deg, south_t.dec_deg, ps_g, 30.0) is None
    assert small_sky.fetch_cutout(south_t.ra_deg, south_t.dec_deg, sdss_u, 30.0) is None
    assert small_sky.fetch_cutout(north_t.ra_deg, north_t.dec_deg, des_g, 30.0) is None
    assert small_sky.fetch_cutout(north_t.ra_deg, north_t.dec_deg, ps_g, 30.0) is not None
    for transient in small_sky.transients()[:10]:
        coverage = small_sky.truth(transient.name)["coverage"]
        assert coverage["2MASS_J"] and coverage["WISE_W4"]
        for spec_name in ("GALEX_FUV", "DES_Y", "SDSS_z"):
            hdul = small_sky.fetch_cutout(
                transient.ra_deg, transient.dec_deg, get_filter(spec_name), 20.0
            )
            assert (hdul is not None) == coverage[spec_name]


def test_galex_images_are_poisson_count_rates(small_sky):
    transient = _covered_transient(small_sky, get_filter("GALEX_NUV"))
    hdu = small_sky.fetch_cutout(
        transient.ra_deg, transient.dec_deg, get_filter("GALEX_NUV"), 60.0
    )[0]
    counts = hdu.data.astype(float) * hdu.header["EXPTIME"]
    assert np.all(counts >= 0)
    assert np.allclose(counts, np.round(counts), atol=1e-3)
    assert counts.sum() > 0


def test_bad_cutout_requests_raise(small_sky):
    spec = get_filter("2MASS_J")
    with pytest.raises(ValueError, match="fov_arcsec"):
        small_sky.fetch_cutout(10.0, 10.0, spec, 0.0)
    with pytest.raises(ValueError, match="smaller than one"):
        small_sky.fetch_cutout(10.0, 10.0, spec, 0.5)
    with pytest.raises(ValueError, match="invalid cutout centre"):
        small_sky.fetch_cutout(10.0, 95.0, spec, 30.0)
    with pytest.raises(TypeError, match="FilterSpec"):
        small_sky.fetch_cutout(10.0, 10.0, "2MASS_J", 30.0)


def test_grid_header_is_a_valid_standalone_wcs():
    grid = CutoutGrid(359.99, -45.0, 101, 1.5, True)
    wcs = grid.wcs()
    ra, dec = wcs.all_pix2world([[50, 50]], 0)[0]
    assert ra == pytest.approx(359.99) and dec == pytest.approx(-45.0)
