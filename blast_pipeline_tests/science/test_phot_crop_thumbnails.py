"""Crops centred on the transient (never in place) and PNG thumbnails."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from matplotlib.image import imread
from phot_synthetic import HOST_DEC, HOST_RA, sersic_image
from photutils.aperture import SkyCircularAperture, SkyEllipticalAperture

from blast_pipeline.science.cosmology import angular_size_arcsec
from blast_pipeline.science.crop import crop_box, crop_size_pixels, crop_view, pixel_scale_arcsec
from blast_pipeline.science.thumbnails import render_thumbnail_png, shrink_png

SN_RA, SN_DEC = HOST_RA + 4 / 3600, HOST_DEC + 2 / 3600


def _hdu():
    image = sersic_image(amplitude=5.0, seed=3, pixel_arcsec=0.4)
    return image.hdu(EXPTIME=53.9, BUNIT="nanomaggy", OBJECT="2010H")


def crop_cutout(hdu, ra, dec, size):
    """The crop as the crop task records it (a box) and the readers read it (a view)."""
    box = crop_box(hdu.data.shape, WCS(hdu.header), ra, dec, size)
    return None if box is None else crop_view(hdu, box)


@pytest.mark.parametrize("kind", [fits.CompImageHDU, fits.ImageHDU])
def test_crop_view_equals_blast_cutout2d_and_reads_only_its_tiles(tmp_path, kind):
    """Blast crops with ``Cutout2D`` (trim mode); the view of a stored file, compressed or plain
    (`fits_storage`), gives the same pixels and WCS, also trimmed at an edge."""
    from astropy.nddata import Cutout2D

    from blast_pipeline.tasks.fits_storage import image_hdu

    hdu = _hdu()
    path = tmp_path / "cutout.fits"
    options = (
        {"compression_type": "GZIP_2", "quantize_level": 0.0} if kind is fits.CompImageHDU else {}
    )
    image = kind(data=hdu.data, header=hdu.header.copy(), **options)
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(path)
    for ra, dec, size in ((SN_RA, SN_DEC, 101), (HOST_RA + 20 / 3600, HOST_DEC, 160)):
        position = WCS(hdu.header).world_to_pixel(SkyCoord(ra * u.deg, dec * u.deg))
        blast = Cutout2D(hdu.data, position, (size, size), wcs=WCS(hdu.header))
        with fits.open(path) as hdul:
            stored = image_hdu(hdul)
            assert type(stored) is kind and stored is hdul[1]
            box = crop_box(hdu.data.shape, WCS(stored.header), ra, dec, size)
            view = crop_view(stored, box)
        np.testing.assert_array_equal(view.data, blast.data)
        np.testing.assert_allclose(WCS(view.header).wcs.crpix, blast.wcs.wcs.crpix)
        assert WCS(view.header).wcs.crval.tolist() == blast.wcs.wcs.crval.tolist()


def test_crop_is_a_new_centred_hdu_and_leaves_the_input_alone():
    hdu = _hdu()
    data_before = hdu.data.copy()
    header_before = hdu.header.tostring()
    cropped = crop_cutout(hdu, SN_RA, SN_DEC, 101)
    assert cropped is not hdu and isinstance(cropped, fits.PrimaryHDU)
    np.testing.assert_array_equal(hdu.data, data_before)
    assert hdu.header.tostring() == header_before
    assert cropped.data.shape == (101, 101)
    assert not np.shares_memory(cropped.data, hdu.data)
    x, y = WCS(cropped.header).world_to_pixel(SkyCoord(SN_RA * u.deg, SN_DEC * u.deg))
    assert x == pytest.approx(50.0, abs=0.5) and y == pytest.approx(50.0, abs=0.5)
    # pixel values follow the WCS
    ox, oy = WCS(hdu.header).world_to_pixel(SkyCoord(SN_RA * u.deg, SN_DEC * u.deg))
    assert cropped.data[50, 50] == hdu.data[int(round(float(oy))), int(round(float(ox)))]
    assert cropped.header["OBJECT"] == "2010H" and cropped.header["EXPTIME"] == 53.9


def test_crop_replaces_a_cd_matrix_wcs_cleanly():
    hdu = _hdu()
    wcs = WCS(hdu.header)
    for key in ("CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2"):
        hdu.header.remove(key, ignore_missing=True)
    hdu.header["CD1_1"], hdu.header["CD2_2"] = wcs.wcs.cdelt
    hdu.header["CD1_2"] = hdu.header["CD2_1"] = 0.0
    cropped = crop_cutout(hdu, SN_RA, SN_DEC, 60)
    new = WCS(cropped.header)
    x, y = new.world_to_pixel(SkyCoord(SN_RA * u.deg, SN_DEC * u.deg))
    assert x == pytest.approx(29.5, abs=0.5) and y == pytest.approx(29.5, abs=0.5)
    assert new.proj_plane_pixel_scales()[0].to_value(u.arcsec) == pytest.approx(0.4)


def test_crop_with_no_overlap_gives_none():
    assert crop_cutout(_hdu(), HOST_RA + 1.0, HOST_DEC, 100) is None
    with pytest.raises(ValueError, match="size_pix"):
        crop_cutout(_hdu(), SN_RA, SN_DEC, 0)


def test_crop_size_rules():
    wcs = WCS(_hdu().header)
    assert pixel_scale_arcsec(wcs, SN_RA, SN_DEC) == pytest.approx(0.4, rel=1e-4)
    five_kpc = 2 * angular_size_arcsec(0.01, 5.0) / 0.4  # ~52" diameter -> ~259 px
    # no host, no redshift: 5 kpc at z = 0.01
    assert crop_size_pixels(wcs, SN_RA, SN_DEC) == round(five_kpc)
    assert crop_size_pixels(wcs, SN_RA, SN_DEC, redshift=0.001) == round(five_kpc)
    # a higher redshift makes 5 kpc smaller, but never below 100 pixels
    assert crop_size_pixels(wcs, SN_RA, SN_DEC, redshift=0.5) == 100
    # host 40" east: 2 * 100 px + 100 = 300 px > 5 kpc
    host = (SN_RA + 40 / 3600 / np.cos(np.radians(SN_DEC)), SN_DEC)
    assert crop_size_pixels(wcs, SN_RA, SN_DEC, host_ra_dec=host) == pytest.approx(300, abs=2)
    # with this cutout's aperture: its bbox edges around the transient
    big = SkyCircularAperture(SkyCoord(SN_RA * u.deg, SN_DEC * u.deg), 80 * u.arcsec)
    size = crop_size_pixels(wcs, SN_RA, SN_DEC, host_ra_dec=host, aperture=big)
    assert size == pytest.approx(2 * 200 + 100, abs=4)


def test_thumbnail_png(tmp_path):
    image = sersic_image(amplitude=5.0, seed=3)
    aperture = SkyEllipticalAperture(
        SkyCoord(HOST_RA * u.deg, HOST_DEC * u.deg), 8 * u.arcsec, 5 * u.arcsec, theta=30 * u.deg
    )
    local = SkyCircularAperture(SkyCoord(SN_RA * u.deg, SN_DEC * u.deg), 2 * u.arcsec)
    path = render_thumbnail_png(
        image.data,
        image.wcs,
        tmp_path / "sub" / "thumb.png",
        transient=(SN_RA, SN_DEC),
        host=(HOST_RA, HOST_DEC),
        apertures=[(aperture, "green", "global"), (local, "blue", "local")],
        title="2010H SDSS_r",
    )
    assert path.exists()
    pixels = imread(path)
    assert pixels.shape[1] <= 800 and pixels.shape[0] == pixels.shape[1]
    assert pixels[..., :3].std() > 0.05  # not blank
    with pytest.raises(ValueError):
        render_thumbnail_png(
            image.data, image.wcs, tmp_path / "x.png", transient=(SN_RA, SN_DEC), size_pixels=1600
        )


def test_shrunk_preview_is_the_thumbnail_at_a_smaller_size(tmp_path):
    image = sersic_image(amplitude=5.0, seed=3)
    path = render_thumbnail_png(
        image.data, image.wcs, tmp_path / "thumb.png", transient=(SN_RA, SN_DEC), size_pixels=400
    )
    preview = shrink_png(path, tmp_path / "preview" / "p.png", 100)
    big, small = imread(path)[..., :3], imread(preview)[..., :3]
    assert small.shape == (100, 100, 3)
    # the same picture: the big one averaged in 4 x 4 blocks is close to the preview
    blocks = big.reshape(100, 4, 100, 4, 3).mean(axis=(1, 3))
    assert np.abs(blocks - small).mean() < 0.05
    with pytest.raises(ValueError, match="size_pixels"):
        shrink_png(path, tmp_path / "x.png", 0)


def test_thumbnail_overlays_are_where_the_sky_positions_are(tmp_path):
    """North up, east left: the transient's cross, the host's x and an aperture's outline are
    drawn at the canvas pixels of their sky positions, in their colours; the image itself is
    the zscale/asinh grey map (bright galaxy centre, darker sky)."""
    image = sersic_image((200, 200), amplitude=50.0, seed=3)
    wcs = image.wcs
    # a circle of 40 px radius around pixel (60, 140): upper left of the image
    centre = wcs.pixel_to_world(60.0, 140.0)
    circle = SkyCircularAperture(centre, 40 * 0.25 * u.arcsec)
    sn = wcs.pixel_to_world(150.0, 50.0)  # lower right
    path = render_thumbnail_png(
        image.data,
        wcs,
        tmp_path / "t.png",
        transient=(sn.ra.deg, sn.dec.deg),
        host=(HOST_RA, HOST_DEC),
        apertures=[(circle, "lime", "global")],
        size_pixels=400,
    )
    rgb = (imread(path)[..., :3] * 255).round().astype(int)
    assert rgb.shape == (400, 400, 3)

    def at(x, y):  # canvas pixel of image pixel (x, y): 2 canvas pixels per image pixel
        return rgb[int(400 - (y + 0.5) * 2), int((x + 0.5) * 2)]

    assert tuple(at(60 + 40, 140)) == (0, 255, 0)  # the circle's right-most point
    assert tuple(at(60, 140 - 40)) == (0, 255, 0)
    assert tuple(at(150, 50)) == (0, 255, 255)  # the transient's cross
    host_x, host_y = wcs.world_to_pixel(SkyCoord(HOST_RA * u.deg, HOST_DEC * u.deg))
    assert tuple(at(float(host_x), float(host_y))) == (255, 0, 0)
    grey = rgb[..., 0]
    assert grey[200 - 40 : 200 - 30, 200 - 5 : 200 + 5].mean() > grey[:40, 300:].mean() + 50
