"""The usability checks of cutout files: real 2010H files pass, damaged copies say why."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from phot_synthetic import EXAMPLE_2010H

from blast_pipeline.science.image_checks import file_problem

pytestmark = pytest.mark.skipif(
    not EXAMPLE_2010H.is_dir(),
    reason=f"real 2010H cutouts not found at {EXAMPLE_2010H} (../shared/data next to the repo)",
)


def test_every_real_2010h_cutout_is_usable():
    paths = sorted(EXAMPLE_2010H.rglob("*.fits"))
    assert len(paths) == 13
    assert {p.name: file_problem(p) for p in paths} == {p.name: None for p in paths}


def test_damaged_copies_of_a_real_file_are_refused_with_a_reason(tmp_path):
    source = EXAMPLE_2010H / "WISE" / "WISE_W1.fits"
    good = source.read_bytes()
    header = fits.getheader(source)
    cases = {
        "empty": (b"", "is empty (0 bytes)"),
        "truncated": (good[: len(good) // 2], "cannot be read (ValueError: cannot reshape"),
        "header_only": (good[:1000], "cannot be read (OSError"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / f"{name}.fits").write_bytes(content)
        assert file_problem(tmp_path / f"{name}.fits").startswith(reason), name
    arrays = {
        "nan": (np.full((40, 40), np.nan), header, "has no finite pixels"),
        "zeros": (np.zeros((40, 40)), header, "is all zeros"),
        "no_wcs": (np.ones((40, 40)), None, "has no celestial WCS"),
        "cube": (np.ones((2, 40, 40)), header, "image is not 2-D"),
    }
    for name, (data, hdr, reason) in arrays.items():
        fits.PrimaryHDU(data, hdr).writeto(tmp_path / f"{name}.fits")
        assert file_problem(tmp_path / f"{name}.fits").startswith(reason), name
    bad_wcs = header.copy()
    bad_wcs["CTYPE1"] = "RA---XYZ"
    fits.PrimaryHDU(np.ones((40, 40)), bad_wcs).writeto(tmp_path / "bad_wcs.fits")
    assert file_problem(tmp_path / "bad_wcs.fits").startswith("has an unusable WCS")
    assert file_problem(tmp_path / "missing.fits") == "is missing"
    # a tile-compressed copy (data in the first extension) is a usable cutout
    data = fits.getdata(source).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header)]).writeto(
        tmp_path / "compressed.fits"
    )
    assert file_problem(tmp_path / "compressed.fits") is None
