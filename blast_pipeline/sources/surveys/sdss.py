"""SDSS cutouts: nearest imaging field from a SkyServer SQL search, then its frame (reference 1.4).

Blast calls ``astroquery.sdss.SDSS.query_region(position, radius=0.05 deg)``, keeps the object
closest to the position and downloads that object's ``frame-<band>-<run>-<camcol>-<field>.fits.bz2``
(calibrated nanomaggies, ``NMGY`` keyword), then cuts it with ``Cutout2D``.
"""

from __future__ import annotations

import math
import time

from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels
from blast_pipeline.sources.http import HttpSettings, ServiceHttp
from blast_pipeline.sources.surveys.fits_cutouts import (
    cut_square,
    download_image_hdu,
)
from blast_pipeline.sources.surveys.skyserver import (
    DEFAULT_SKYSERVER_SQL_URL,
    require_columns,
    run_sql,
)

DEFAULT_FRAMES_URL = "https://data.sdss.org/sas/dr17/eboss/photoObj/frames"

#: Blast's search radius for the imaging field (0.05 deg).
FIELD_SEARCH_RADIUS_ARCMIN = 3.0

_FIELD_COLUMNS = ("ra", "dec", "run", "rerun", "camcol", "field")


def nearby_fields_sql(ra_deg: float, dec_deg: float, radius_arcmin: float) -> str:
    """SQL listing photometric objects (with their run/rerun/camcol/field) near a position."""
    return (
        "SELECT TOP 10 p.objID AS objid, p.ra AS ra, p.dec AS dec, p.run AS run, "
        "p.rerun AS rerun, p.camcol AS camcol, p.field AS field, n.distance AS distance_arcmin "
        f"FROM dbo.fGetNearbyObjEq({ra_deg:.8f}, {dec_deg:.8f}, {radius_arcmin:.6f}) AS n "
        "JOIN PhotoObjAll AS p ON p.objID = n.objID ORDER BY n.distance"
    )


def angular_separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle separation in degrees (haversine, fine at arcsecond scales)."""
    ra1, dec1, ra2, dec2 = map(math.radians, (ra1, dec1, ra2, dec2))
    h = (
        math.sin((dec2 - dec1) / 2) ** 2
        + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


class SdssCutouts:
    """``CutoutSource`` for the SDSS_u/g/r/i/z filters."""

    survey = "SDSS"

    def __init__(
        self,
        http: ServiceHttp | None = None,
        *,
        sql_url: str = DEFAULT_SKYSERVER_SQL_URL,
        frames_url: str = DEFAULT_FRAMES_URL,
        pause_before_frame_s: float = 1.0,
    ) -> None:
        self.http = http or ServiceHttp.for_cutouts(self.survey, HttpSettings())
        self.sql_url = sql_url
        self.frames_url = frames_url.rstrip("/")
        self.pause_before_frame_s = pause_before_frame_s

    def frame_url(self, band: str, run: int, rerun: int, camcol: int, field: int) -> str:
        """The URL of one calibrated SDSS frame (Blast's ``SDSS.IMAGING_URL_SUFFIX``)."""
        return (
            f"{self.frames_url}/{rerun}/{run}/{camcol}/"
            f"frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2"
        )

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        sql = nearby_fields_sql(ra_deg, dec_deg, FIELD_SEARCH_RADIUS_ARCMIN)
        rows = run_sql(self.http, self.sql_url, sql)
        if not rows:
            return None
        require_columns(rows, _FIELD_COLUMNS, self.http, self.sql_url)
        try:
            nearest = min(
                rows,
                key=lambda row: angular_separation_deg(
                    ra_deg, dec_deg, float(row["ra"]), float(row["dec"])
                ),
            )
            run, rerun, camcol, field = (
                int(nearest[c]) for c in ("run", "rerun", "camcol", "field")
            )
        except (TypeError, ValueError) as exc:
            raise self.http.error(f"SQL search reply has unreadable values ({exc})") from exc
        if self.pause_before_frame_s > 0:
            time.sleep(self.pause_before_frame_s)  # Blast: "don't look like a bot to SDSS"
        url = self.frame_url(spec.band, run, rerun, camcol, field)
        hdu = download_image_hdu(self.http, url, service=self.survey, what="frame file")
        return cut_square(
            hdu,
            ra_deg,
            dec_deg,
            cutout_size_pixels(spec, fov_arcsec),
            service=self.survey,
            url=url,
        )
