"""GALEX cutouts: the deepest GALEX tile from MAST, cut from its intensity map (reference 1.4).

Blast calls ``astroquery.mast.Observations.query_criteria(coordinates, radius="0.2 deg",
obs_collection="GALEX", filters=<NUV|FUV>)``; we send the same MAST ``invoke`` request
(service ``Mast.Caom.Filtered.Position``). Rows within 0.55 deg of the position whose ``dataURL``
is not a JPEG are kept, the longest ``t_exptime`` wins, and its URL is rewritten to the
``-int.fits.gz`` intensity map. An all-zero cutout means no coverage.
"""

from __future__ import annotations

import json
import math

import numpy as np
from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels
from blast_pipeline.sources.http import HttpSettings, ServiceHttp
from blast_pipeline.sources.surveys.fits_cutouts import (
    cut_square,
    download_image_hdu,
)
from blast_pipeline.sources.surveys.sdss import angular_separation_deg

DEFAULT_MAST_INVOKE_URL = "https://mast.stsci.edu/api/v0/invoke"

SEARCH_RADIUS_DEG = 0.2
MAX_TILE_SEPARATION_DEG = 0.55
_NEEDED_COLUMNS = ("s_ra", "s_dec", "t_exptime", "dataURL")


def mast_position_request(ra_deg: float, dec_deg: float, band: str) -> dict:
    """The MAST ``invoke`` request astroquery's ``Observations.query_criteria`` sends."""
    return {
        "service": "Mast.Caom.Filtered.Position",
        "format": "json",
        "params": {
            "columns": "*",
            "filters": [
                {"paramName": "obs_collection", "values": ["GALEX"]},
                {"paramName": "filters", "values": [band]},
            ],
            "position": f"{ra_deg}, {dec_deg}, {SEARCH_RADIUS_DEG}",
        },
        "pagesize": 50000,
        "page": 1,
        "removenullcolumns": True,
    }


def intensity_map_url(data_url: str, band: str) -> str:
    """Blast's rewrite of a GALEX product URL to its ``-int.fits.gz`` intensity map."""
    return (
        data_url.replace("-exp.fits.gz", "-int.fits.gz")
        .replace("-gsp.fits.gz", "-int.fits.gz")
        .replace("-rr.fits.gz", "-int.fits.gz")
        .replace("-cnt.fits.gz", "-int.fits.gz")
        .replace("-fcat.ds9reg", "-int.fits.gz")
        .replace("-xd-mcat.fits.gz", f"-{band[0].lower()}d-int.fits.gz")
    )


class GalexCutouts:
    """``CutoutSource`` for the GALEX_NUV/FUV filters."""

    survey = "GALEX"

    def __init__(
        self,
        http: ServiceHttp | None = None,
        *,
        mast_url: str = DEFAULT_MAST_INVOKE_URL,
        max_polls: int = 5,
    ) -> None:
        self.http = http or ServiceHttp.for_cutouts(self.survey, HttpSettings())
        self.mast_url = mast_url
        self.max_polls = max_polls

    def observations(self, ra_deg: float, dec_deg: float, band: str) -> list[dict]:
        """MAST observation rows for the band around the position (re-asked while EXECUTING)."""
        form = {"request": json.dumps(mast_position_request(ra_deg, dec_deg, band))}
        for poll in range(1, self.max_polls + 1):
            response = self.http.post(self.mast_url, data=form)
            try:
                reply = response.json()
            except ValueError as exc:
                raise self.http.error("MAST reply is not JSON", self.mast_url) from exc
            if not isinstance(reply, dict):
                raise self.http.error("MAST reply is not a JSON object", self.mast_url)
            status = str(reply.get("status", "")).upper()
            if status == "EXECUTING" and poll < self.max_polls:
                self.http.pause(self.http.settings.backoff_delay(poll))
                continue
            if status != "COMPLETE":
                message = reply.get("msg") or "no message"
                raise self.http.error(f"MAST query status {status or 'missing'}: {message}")
            data = reply.get("data")
            if not isinstance(data, list):
                raise self.http.error("MAST reply has no 'data' list", self.mast_url)
            return data
        raise self.http.error(f"MAST query still executing after {self.max_polls} polls")

    def choose_tile(self, rows: list[dict], ra_deg: float, dec_deg: float) -> dict | None:
        """Blast's choice: near enough, not a JPEG, longest exposure (first of the ties)."""
        if rows and any(c not in rows[0] for c in _NEEDED_COLUMNS):
            missing = [c for c in _NEEDED_COLUMNS if c not in rows[0]]
            raise self.http.error(f"MAST rows lack columns {missing}", self.mast_url)
        kept = []
        for row in rows:
            try:
                ra, dec = float(row["s_ra"]), float(row["s_dec"])
                exptime = float(row["t_exptime"])
            except (TypeError, ValueError):
                continue
            url = row["dataURL"]
            if not isinstance(url, str) or not url or url.endswith(".jpeg"):
                continue
            if not math.isfinite(exptime):
                continue
            if angular_separation_deg(ra_deg, dec_deg, ra, dec) < MAX_TILE_SEPARATION_DEG:
                kept.append((exptime, row))
        if not kept:
            return None
        longest = max(exptime for exptime, _ in kept)
        return next(row for exptime, row in kept if exptime == longest)

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        tile = self.choose_tile(self.observations(ra_deg, dec_deg, spec.band), ra_deg, dec_deg)
        if tile is None:
            return None
        url = intensity_map_url(tile["dataURL"], spec.band)
        hdu = download_image_hdu(self.http, url, service=self.survey, what="intensity map")
        extra = {} if "EXPTIME" in hdu.header else {"EXPTIME": float(tile["t_exptime"])}
        cutout = cut_square(
            hdu,
            ra_deg,
            dec_deg,
            cutout_size_pixels(spec, fov_arcsec),
            service=self.survey,
            url=url,
            extra_keywords=extra,
        )
        if cutout is None or not np.any(cutout[0].data):
            return None
        return cutout
