"""DES filters, served by the Legacy Survey (DECaLS) NOIRLab SIA service (reference 1.4).

Blast searches ``ls_dr10`` (then ``ls_dr9`` when DR10 gives no image), keeps records whose
``access_url`` contains ``-depth-`` and whose ``obs_bandpass`` starts with the band, downloads the
matching ``-image-`` file and reads what it calls the exposure time from the depth map at the
position (0 means no data). The cutout gets that value as ``EXPTIME``, as in Blast; it is a
point source's inverse variance (1/nmgy^2), so the photometry does not take it for a gain
(`science.gain`).
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels
from blast_pipeline.sources.http import HttpSettings, ServiceHttp
from blast_pipeline.sources.surveys.fits_cutouts import (
    celestial_wcs,
    cut_square,
    first_image_hdu,
    open_fits_bytes,
)
from blast_pipeline.sources.surveys.votables import first_table, query_sia

DEFAULT_SIA_URLS: tuple[str, ...] = (
    "https://datalab.noirlab.edu/sia/ls_dr10",
    "https://datalab.noirlab.edu/sia/ls_dr9",
)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is np.ma.masked:
        return ""
    return str(value)


class LegacySurveyCutouts:
    """``CutoutSource`` for the DES_g/r/i/z/Y filters."""

    survey = "DES"

    def __init__(
        self, http: ServiceHttp | None = None, *, sia_urls: tuple[str, ...] = DEFAULT_SIA_URLS
    ) -> None:
        if not sia_urls:
            raise ValueError("LegacySurveyCutouts needs at least one SIA URL")
        self.http = http or ServiceHttp.for_cutouts(self.survey, HttpSettings())
        self.sia_urls = tuple(sia_urls)

    def depth_map_urls(
        self, sia_url: str, ra_deg: float, dec_deg: float, band: str, fov_deg: float
    ) -> list[str]:
        """Depth-map URLs of the band from one SIA release, in the service's order."""
        width = fov_deg / max(math.cos(math.radians(dec_deg)), 1e-6)
        params = {"POS": f"{ra_deg},{dec_deg}", "SIZE": f"{width},{fov_deg}", "VERB": 2}
        votable, query_url = query_sia(self.http, sia_url, params)
        table = first_table(votable)
        if table is None or len(table) == 0:
            return []
        missing = [c for c in ("access_url", "obs_bandpass") if c not in table.colnames]
        if missing:
            raise self.http.error(f"SIA reply lacks columns {missing}", query_url)
        return [
            _text(row["access_url"])
            for row in table
            if "-depth-" in _text(row["access_url"]) and _text(row["obs_bandpass"]).startswith(band)
        ]

    def _exposure_time(self, depth_url: str, ra_deg: float, dec_deg: float) -> float | None:
        """The depth-map value at the position (Blast's exposure time), ``None`` if 0 or off-map."""
        response = self.http.get(depth_url)
        depth = first_image_hdu(
            open_fits_bytes(response.content, service=self.survey, url=depth_url)
        )
        if depth is None:
            raise self.http.error("depth map holds no image", depth_url)
        data = np.asarray(depth.data)
        if data.shape == (1, 1):
            value = data[0, 0]
        else:
            wcs = celestial_wcs(depth.header, service=self.survey, url=depth_url)
            x, y = wcs.wcs_world2pix(ra_deg, dec_deg, 0)
            if not (np.isfinite(x) and np.isfinite(y)):
                return None
            col, row = int(x), int(y)
            if not (0 <= row < data.shape[0] and 0 <= col < data.shape[1]):
                return None
            value = data[row, col]
        value = float(value)
        return value if math.isfinite(value) and value != 0 else None

    def _cutout_from_release(
        self, sia_url: str, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        depth_urls = self.depth_map_urls(sia_url, ra_deg, dec_deg, spec.band, fov_arcsec / 3600)
        if not depth_urls:
            return None
        image_url = depth_urls[0].replace("-depth-", "-image-")
        response = self.http.get_if_found(image_url)
        if response is None:  # Blast: "found some bad links..."
            return None
        image = first_image_hdu(
            open_fits_bytes(response.content, service=self.survey, url=image_url)
        )
        if image is None or 1 in image.data.shape:
            return None
        exposure_time = self._exposure_time(depth_urls[0], ra_deg, dec_deg)
        if exposure_time is None:
            return None
        return cut_square(
            image,
            ra_deg,
            dec_deg,
            cutout_size_pixels(spec, fov_arcsec),
            service=self.survey,
            url=image_url,
            extra_keywords={"EXPTIME": exposure_time},
        )

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        for sia_url in self.sia_urls:
            cutout = self._cutout_from_release(sia_url, ra_deg, dec_deg, spec, fov_arcsec)
            if cutout is not None:
                return cutout
        return None
