"""2MASS cutouts from the IRSA 2MASS SIA service (reference 1.4).

``nph-im_sia?POS=<ra>,<dec>&SIZE=0.01`` answers a VOTable listing atlas images of all three bands.
Candidate URLs are those of the band's atlas images (files named ``<band>i<...>.fits``, Blast's
``https://irsa.*<band>i.*fits``); the first whose WCS contains the position is cut with
``Cutout2D``.
The atlas headers carry ``MAGZP``, which the photometry needs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels
from blast_pipeline.sources.http import HttpSettings, ServiceHttp
from blast_pipeline.sources.surveys.fits_cutouts import (
    celestial_wcs,
    cut_square,
    download_image_hdu,
)
from blast_pipeline.sources.surveys.votables import query_sia

DEFAULT_SIA_URL = "https://irsa.ipac.caltech.edu/cgi-bin/2MASS/IM/nph-im_sia"


def is_band_image_url(url: str, band: str) -> bool:
    """Whether a URL points at a 2MASS atlas image of the band (file ``<band>i<...>.fits[.gz]``).

    Blast matches ``https://irsa.*<band>i.*fits`` on the whole URL; matching the file name (the
    last path segment, or a ``name=`` query value) avoids matching ``hi`` elsewhere in a URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    names = [parts.path.rsplit("/", 1)[-1]] + [v for _, v in parse_qsl(parts.query)]
    prefix = f"{band.lower()}i"
    return any(
        name.lower().startswith(prefix) and re.search(r"\.fits(\.gz)?$", name.lower())
        for name in names
    )


def _cell_strings(votable) -> list[str]:
    """Every string cell of every table, row by row (Blast scans all ``<TD>`` cells)."""
    cells: list[str] = []
    for table in votable.iter_tables():
        array = table.array
        for row in array:
            for value in row:
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, str):
                    cells.append(value.strip())
    return cells


def _contains(
    hdu: fits.PrimaryHDU | fits.ImageHDU, ra_deg: float, dec_deg: float, *, url: str
) -> bool:
    """Whether the position falls on the image's pixels."""
    wcs = celestial_wcs(hdu.header, service="2MASS", url=url)
    x, y = wcs.wcs_world2pix(ra_deg, dec_deg, 0)
    ny, nx = hdu.data.shape
    return bool(np.isfinite(x) and np.isfinite(y) and -0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5)


class TwoMassCutouts:
    """``CutoutSource`` for the 2MASS_J/H/K filters."""

    survey = "2MASS"

    def __init__(self, http: ServiceHttp | None = None, *, sia_url: str = DEFAULT_SIA_URL) -> None:
        self.http = http or ServiceHttp.for_cutouts(self.survey, HttpSettings())
        self.sia_url = sia_url

    def candidate_urls(self, ra_deg: float, dec_deg: float, band: str) -> list[str]:
        """Image URLs of the band listed by the SIA service, in its order."""
        params = {"POS": f"{ra_deg},{dec_deg}", "SIZE": 0.01}
        votable, _ = query_sia(self.http, self.sia_url, params)
        urls = []
        for cell in _cell_strings(votable):
            if is_band_image_url(cell, band) and cell not in urls:
                urls.append(cell)
        return urls

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        for url in self.candidate_urls(ra_deg, dec_deg, spec.band):
            hdu = download_image_hdu(self.http, url, service=self.survey, what="atlas file")
            if _contains(hdu, ra_deg, dec_deg, url=url):
                return cut_square(
                    hdu,
                    ra_deg,
                    dec_deg,
                    cutout_size_pixels(spec, fov_arcsec),
                    service=self.survey,
                    url=url,
                )
        return None
