"""An analytic Milky Way dust map and a small SFD-format copy of it.

``sfd_ebv(l, b)`` is the raw SFD-like E(B-V) of the simulated Galaxy: a softened cosecant law
(0.022 mag at the poles, ~0.11 at |b| = 10 deg) modulated in longitude so that fields differ.
``write_sfd_files`` samples it onto the two Lambert zenithal-equal-area hemispheres of the SFD
file format (``SFD_dust_4096_{ngp,sgp}.fits``; the base name is hard-coded by dustmaps whatever the
array size), with the header recipe verified in science-notes section 2, so
``dustmaps.sfd.SFDQuery(map_dir=...)`` and sfdmap2 read it like the real maps. Blast multiplies
the value by 0.86 (Schlafly & Finkbeiner 2011); the truth stores both.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from blast_pipeline.atomic import replace_atomically
from blast_pipeline.sources.sky.positions import galactic_from_icrs

SFD_MAP_PIXELS = 256
SFD_FILE_NAMES = {"ngp": "SFD_dust_4096_ngp.fits", "sgp": "SFD_dust_4096_sgp.fits"}


def sfd_ebv(l_deg: float | np.ndarray, b_deg: float | np.ndarray) -> np.ndarray:
    """Raw SFD E(B-V) (mag) of the simulated Galaxy at Galactic longitude/latitude (deg)."""
    l_rad = np.radians(np.asarray(l_deg, dtype=float))
    b_rad = np.radians(np.asarray(b_deg, dtype=float))
    base = 0.022 / np.sqrt(np.sin(b_rad) ** 2 + 0.1**2)
    modulation = (
        1.0
        + 0.35 * np.cos(2.0 * l_rad + 0.5) * np.cos(b_rad)
        + 0.2 * np.sin(3.0 * l_rad - 1.0) * np.cos(2.0 * b_rad)
    )
    return base * modulation


def sfd_ebv_at(ra_deg: float | np.ndarray, dec_deg: float | np.ndarray) -> np.ndarray:
    """Raw SFD E(B-V) at ICRS positions (deg) (astropy's ICRS -> Galactic rotation)."""
    return sfd_ebv(*galactic_from_icrs(ra_deg, dec_deg))


def sfd_header(n_pixels: int, pole: str) -> fits.Header:
    """The header of one SFD hemisphere file (ZEA projection centred on a Galactic pole)."""
    if pole not in SFD_FILE_NAMES:
        raise ValueError(f"pole must be 'ngp' or 'sgp', got {pole!r}")
    lam_scal = n_pixels / 2
    cd = np.degrees(np.sqrt(2.0)) / lam_scal
    sign = 1 if pole == "ngp" else -1
    header = fits.Header()
    header["OBJECT"] = "E(B-V)"
    header["BUNIT"] = "mag"
    header["CTYPE1"] = "GLON-ZEA"
    header["CTYPE2"] = "GLAT-ZEA"
    header["CRPIX1"] = n_pixels / 2 + 0.5
    header["CRPIX2"] = n_pixels / 2 + 0.5
    header["CRVAL1"] = 90.0 * sign
    header["CRVAL2"] = 90.0 * sign
    header["CD1_1"] = -cd * sign
    header["CD1_2"] = 0.0
    header["CD2_1"] = 0.0
    header["CD2_2"] = cd * sign
    header["LONPOLE"] = 180.0
    header["LAM_NSGP"] = sign
    header["LAM_SCAL"] = lam_scal
    header["COMMENT"] = "Simulated sky: analytic E(B-V), not the real SFD map"
    return header


def write_sfd_files(map_dir: Path, n_pixels: int = SFD_MAP_PIXELS) -> Path:
    """Write both hemisphere files into ``map_dir`` (atomically, byte-reproducibly)."""
    map_dir = Path(map_dir)
    map_dir.mkdir(parents=True, exist_ok=True)
    for pole, file_name in SFD_FILE_NAMES.items():
        header = sfd_header(n_pixels, pole)
        rows, columns = np.mgrid[0:n_pixels, 0:n_pixels]
        l_deg, b_deg = WCS(header).wcs_pix2world(columns, rows, 0)
        data = sfd_ebv(l_deg, b_deg).astype(np.float32)
        data[~np.isfinite(data)] = 0.0
        hdu = fits.PrimaryHDU(data, header=header)
        replace_atomically(map_dir / file_name, partial(hdu.writeto, overwrite=True))
    return map_dir
