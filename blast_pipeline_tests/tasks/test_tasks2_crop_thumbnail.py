"""Crop transient images, Generate thumbnail final, and the shared image-analysis cache."""

from __future__ import annotations

import hashlib
import os

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image
from sqlalchemy import select
from tasks2_world import NAME, TRANSIENT_DEC, TRANSIENT_RA, make_world, survey_image

from blast_pipeline.db.models import Cutout
from blast_pipeline.files import parse_image_section
from blast_pipeline.runners.base import MarkdownText
from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.tasks.cutouts_io import read_image
from blast_pipeline.tasks.image_cache import IMAGE_CACHE, ImageAnalysisCache

CHAIN = (
    "Global aperture construction",
    "Global aperture photometry",
    "Validate global photometry",
    "Local aperture photometry",
    "Validate local photometry",
)
CROP = "Crop transient images"
FINAL = "Generate thumbnail final"


def _digests(world) -> dict[str, tuple[str, int]]:
    result = {}
    for path in sorted((world.data_root / "cutouts").rglob("*.fits")):
        result[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return result


def _cutouts(world) -> dict[str, tuple[str | None, str | None]]:
    with world.services.database.session() as session:
        return {
            c.filter.name: (c.fits_path, c.cropped_path)
            for c in session.scalars(select(Cutout).where(Cutout.fits_path.is_not(None)))
        }


def test_chain_crop_and_final_thumbnail(tmp_path, database_url):
    world = make_world(tmp_path, database_url, ("PanSTARRS_g", "SDSS_r", "WISE_W4"))
    misses = IMAGE_CACHE.misses
    for task in CHAIN:
        assert world.run_ready(task).status == "processed", task
    # construction, photometry and validation shared one analysis per image
    assert IMAGE_CACHE.misses - misses == 3

    originals = _digests(world)
    assert len(originals) == 3
    assert world.run_ready(CROP).status == "processed"
    assert _digests(world) == originals  # the downloaded files are untouched
    cutouts = _cutouts(world)
    for name, (fits_path, cropped_path) in cutouts.items():
        # a view of the cutout (CFITSIO image section), not a second copy of its pixels
        path, index, box = parse_image_section(cropped_path)
        assert path == fits_path and index in (0, 1)  # written by the test here; stored: 1
        with world.services.database.session() as session:
            cutout = session.scalar(select(Cutout).where(Cutout.fits_path == fits_path))
            image = read_image(world.data_root, cutout, name, cropped=True)
        data, header = image.data, image.header
        full = fits.getdata(world.data_root / fits_path)
        assert data.shape <= full.shape
        np.testing.assert_array_equal(data, full[box])
        assert header["EXPTIME"] == 100.0  # survey keywords kept
        # centred on the transient (trimmed at the edges when larger than the image)
        x, y = WCS(header).world_to_pixel(SkyCoord(TRANSIENT_RA * u.deg, TRANSIENT_DEC * u.deg))
        if name == "PanSTARRS_g":
            assert x == pytest.approx((data.shape[1] - 1) / 2, abs=1.0)
            assert y == pytest.approx((data.shape[0] - 1) / 2, abs=1.0)
            # PanSTARRS: 2 x the global aperture extent + 100 px, smaller than the 256 px cutout
            assert data.shape[0] == data.shape[1] and 150 < data.shape[0] < 256
        assert 0 < x < data.shape[1] and 0 < y < data.shape[0], name
    assert not (world.data_root / "cropped").exists()  # no crop files

    # re-running the crop records the same views
    assert world.run_ready(CROP).status == "processed"
    assert _cutouts(world) == cutouts
    assert _digests(world) == originals

    outcome = world.run_ready(FINAL)
    assert outcome.status == "processed"
    assert outcome.metadata["thumbnail"] == f"thumbnails/{NAME}/final.png"
    assert outcome.metadata["filter"] == "PanSTARRS_g"
    preview = outcome.metadata["preview"]
    assert isinstance(preview, MarkdownText) and preview.startswith("![")
    assert (world.data_root / outcome.metadata["thumbnail"]).stat().st_size > 1000
    # not noise only (issue 16): the host, at the centre of the crop, stands above the sky
    pixels = np.asarray(Image.open(world.data_root / outcome.metadata["thumbnail"]).convert("L"))
    h, w = pixels.shape
    centre = pixels[h // 2 - 15 : h // 2 + 15, w // 2 - 15 : w // 2 + 15].astype(float)
    sky = pixels[int(0.15 * h) : int(0.3 * h), int(0.7 * w) : int(0.85 * w)].astype(float)
    assert np.median(centre) > np.median(sky) + 30.0, (np.median(centre), np.median(sky))


def test_image_cache_is_keyed_by_file_and_bounded(tmp_path):
    paths = []
    for i, name in enumerate(("PanSTARRS_g", "PanSTARRS_r", "SDSS_r")):
        path = tmp_path / f"{name}.fits"
        survey_image(name, seed=i).hdu(EXPTIME=100.0).writeto(path)
        paths.append((path, name))
    cache = ImageAnalysisCache(max_entries=2)
    first = cache.get(*paths[0])
    assert cache.get(*paths[0]) is first and (cache.hits, cache.misses) == (1, 1)
    # identical to recomputing
    fresh = ImageAnalysis(fits.getdata(paths[0][0]).astype(float), filter_name="PanSTARRS_g")
    np.testing.assert_array_equal(first.analysis.background, fresh.background)
    np.testing.assert_array_equal(first.analysis.background_rms, fresh.background_rms)
    # the filter is part of the key (GALEX uses another background estimator)
    assert cache.get(paths[0][0], "GALEX_NUV") is not first
    # bounded: the least recently used entry is dropped
    cache.get(*paths[1])
    cache.get(*paths[2])
    assert len(cache) == 2
    assert cache.get(*paths[0]) is not first
    # a rewritten file is a new entry
    path, name = paths[2]
    before = cache.get(path, name)
    survey_image(name, seed=99).hdu(EXPTIME=100.0).writeto(path, overwrite=True)
    os.utime(path, ns=(before.path.stat().st_atime_ns, before.path.stat().st_mtime_ns + 10**9))
    after = cache.get(path, name)
    assert after is not before
    assert not np.array_equal(after.data, before.data)
    with pytest.raises(FileNotFoundError):
        cache.get(tmp_path / "missing.fits", name)
    with pytest.raises(ValueError):
        ImageAnalysisCache(max_entries=0)
