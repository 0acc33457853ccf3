"""FITS helpers shared by the survey clients: open downloaded bytes, cut a square around a position.

Cutouts follow Blast (``Cutout2D(data, position, size_pixels, wcs)``, trim mode) but rebuild the
header cleanly: the survey's own keywords (MAGZP, EXPTIME, NMGY, BUNIT...) are kept, the old WCS
keywords are dropped and replaced by the WCS of the cut region, so no CD/PC mixture is left behind.
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import warnings
import zlib

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D, NoOverlapError
from astropy.wcs import WCS, FITSFixedWarning

from blast_pipeline.sources.base import CutoutDownloadError, SourceError
from blast_pipeline.sources.http import body_snippet, redact_url

#: Header keywords describing the data layout or the old WCS, dropped from cutout headers.
_DROPPED_KEYWORD = re.compile(
    r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|BSCALE|BZERO|BLANK|CHECKSUM|DATASUM"
    r"|WCSAXES|CTYPE\d|CUNIT\d|CRPIX\d|CRVAL\d|CDELT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+"
    r"|LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|A_DMAX|B_DMAX"
    r"|[AB]P?_\d+_\d+)$"
)


def open_fits_bytes(
    content: bytes, *, service: str, url: str, error_class: type[SourceError] = CutoutDownloadError
) -> fits.HDUList:
    """Open a downloaded FITS file (plain, gzip or bzip2), fully loaded in memory."""
    try:
        if content[:2] == b"\x1f\x8b":
            content = gzip.decompress(content)
        elif content[:3] == b"BZh":
            content = bz2.decompress(content)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise error_class(
            f"{service}: corrupt compressed FITS file from {redact_url(url)}: {exc}"
        ) from exc
    if not content.startswith(b"SIMPLE"):
        preview = body_snippet(content[:4096], limit=80)
        raise error_class(
            f"{service}: reply from {redact_url(url)} is not a FITS file (starts {preview!r})"
        )
    try:
        hdul = fits.open(io.BytesIO(content), lazy_load_hdus=False)
        for hdu in hdul:
            _ = hdu.data  # read now: a truncated file fails here, not later
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... on broken files
        raise error_class(f"{service}: unreadable FITS file from {redact_url(url)}: {exc}") from exc
    return hdul


def first_image_hdu(hdul: fits.HDUList) -> fits.PrimaryHDU | fits.ImageHDU | None:
    """The first HDU holding a 2-D image (primary for most surveys, HDU 1 for .fits.fz)."""
    for hdu in hdul:
        if getattr(hdu, "is_image", False) and hdu.data is not None and hdu.data.ndim == 2:
            return hdu
    return None


def celestial_wcs(header: fits.Header, *, service: str, url: str) -> WCS:
    """The 2-D celestial WCS of an image header, or a clear error when there is none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2)
    except Exception as exc:
        raise CutoutDownloadError(
            f"{service}: image from {url} has an unusable WCS: {exc}"
        ) from exc
    if not wcs.has_celestial:
        raise CutoutDownloadError(f"{service}: image from {url} has no celestial WCS")
    return wcs


def cut_square(
    hdu: fits.PrimaryHDU | fits.ImageHDU,
    ra_deg: float,
    dec_deg: float,
    size_pixels: int,
    *,
    service: str,
    url: str,
    extra_keywords: dict[str, object] | None = None,
) -> fits.HDUList | None:
    """A ``size_pixels`` square cutout centred on the position, as a one-HDU list.

    ``None`` when the position lies outside the image (no coverage). The header keeps the
    original survey keywords, gets the cut region's WCS and then ``extra_keywords``."""
    wcs = celestial_wcs(hdu.header, service=service, url=url)
    position = SkyCoord(ra_deg * u.deg, dec_deg * u.deg, frame="icrs")
    try:
        cutout = Cutout2D(np.asarray(hdu.data), position, size_pixels, wcs=wcs, copy=True)
    except NoOverlapError:
        return None
    header = fits.Header()
    for card in hdu.header.cards:
        if card.keyword and not _DROPPED_KEYWORD.match(card.keyword):
            header.append(card)
    header.update(cutout.wcs.to_header(relax=True))
    for keyword, value in (extra_keywords or {}).items():
        header[keyword] = value
    return fits.HDUList([fits.PrimaryHDU(data=cutout.data, header=header)])


def download_image_hdu(http, url: str, *, service: str, what: str = "image file"):
    """GET a (possibly compressed) FITS file and return its first image HDU; a file without an
    image raises the service's error naming ``what``."""
    response = http.get(url)
    hdu = first_image_hdu(open_fits_bytes(response.content, service=service, url=url))
    if hdu is None:
        raise http.error(f"{what} holds no image", url)
    return hdu
