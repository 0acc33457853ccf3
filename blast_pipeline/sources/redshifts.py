"""Spectroscopic redshift look-ups for a host galaxy: SDSS SkyServer and NED (reference 1.8).

Blast asks SDSS first (``SDSS.query_region(pos, spectro=True, radius=1")``, first ``z``), then NED
(``Ned.query_region(pos, radius=1")``, rows with a redshift, nearest one). Here the SDSS query is
a SkyServer SQL search joining nearby photometric objects to their best spectrum, ordered by
distance, and NED is its ``objsearch`` Near Position Search with a VOTable answer.
"""

from __future__ import annotations

import math

import numpy as np

from blast_pipeline.sources.base import RateLimitedError, SourceError
from blast_pipeline.sources.http import HttpSettings, ServiceHttp
from blast_pipeline.sources.surveys.sdss import angular_separation_deg
from blast_pipeline.sources.surveys.skyserver import (
    DEFAULT_SKYSERVER_SQL_URL,
    require_columns,
    run_sql,
)
from blast_pipeline.sources.surveys.votables import error_infos, first_table, parse_votable

DEFAULT_NED_URL = "https://ned.ipac.caltech.edu/cgi-bin/objsearch"


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def spectroscopic_objects_sql(ra_deg: float, dec_deg: float, radius_arcmin: float) -> str:
    """SQL listing spectra whose best photometric object lies within the radius, nearest first."""
    return (
        "SELECT TOP 10 s.specObjID AS specobjid, s.z AS z, s.ra AS ra, s.dec AS dec, "
        "n.distance AS distance_arcmin "
        f"FROM dbo.fGetNearbyObjEq({ra_deg:.8f}, {dec_deg:.8f}, {radius_arcmin:.6f}) AS n "
        "JOIN SpecObj AS s ON s.bestObjID = n.objID ORDER BY n.distance"
    )


class SdssSpectroscopicRedshifts:
    """Redshift of the nearest SDSS spectrum within a radius (SkyServer SQL search)."""

    service = "SDSS spectra"

    def __init__(
        self, http: ServiceHttp | None = None, *, sql_url: str = DEFAULT_SKYSERVER_SQL_URL
    ) -> None:
        self.http = http or ServiceHttp(self.service, HttpSettings(pool_size=1))
        self.sql_url = sql_url

    def spectroscopic_redshift(
        self, ra_deg: float, dec_deg: float, radius_arcsec: float = 1.0
    ) -> float | None:
        sql = spectroscopic_objects_sql(ra_deg, dec_deg, radius_arcsec / 60.0)
        rows = run_sql(self.http, self.sql_url, sql)
        require_columns(rows, ("z",), self.http, self.sql_url)
        for row in rows:  # nearest first (ORDER BY distance)
            z = _finite(row.get("z"))
            if z is not None:
                return z
        return None


def ned_near_position_params(ra_deg: float, dec_deg: float, radius_arcsec: float) -> dict:
    """Query parameters of a NED Near Position Search answering a VOTable (``of=xml_main``)."""
    return {
        "search_type": "Near Position Search",
        "in_csys": "Equatorial",
        "in_equinox": "J2000.0",
        "lon": f"{ra_deg}d",
        "lat": f"{dec_deg}d",
        "radius": radius_arcsec / 60.0,
        "out_csys": "Equatorial",
        "out_equinox": "J2000.0",
        "obj_sort": "Distance to search center",
        "z_constraint": "Unconstrained",
        "of": "xml_main",
        "extend": "no",
        "img_stamp": "NO",
        "list_limit": 0,
    }


def _column(colnames: list[str], *candidates: str) -> str | None:
    for name in candidates:
        if name in colnames:
            return name
    return None


class NedRedshifts:
    """Redshift of the nearest NED object with a redshift within a radius."""

    service = "NED"

    def __init__(self, http: ServiceHttp | None = None, *, url: str = DEFAULT_NED_URL) -> None:
        self.http = http or ServiceHttp(self.service, HttpSettings(pool_size=1))
        self.url = url

    def spectroscopic_redshift(
        self, ra_deg: float, dec_deg: float, radius_arcsec: float = 1.0
    ) -> float | None:
        response = self.http.get(
            self.url, params=ned_near_position_params(ra_deg, dec_deg, radius_arcsec)
        )
        try:
            votable = parse_votable(
                response.content, service=self.service, url=response.url, error_class=SourceError
            )
        except SourceError as exc:
            # Blast: an ExpatError from NED means "Too many requests to NED" (it answers HTML).
            raise RateLimitedError(
                f"NED: answer is not a VOTable, NED usually means too many requests ({exc})"
            ) from exc
        table = first_table(votable)
        if table is None:
            errors = [e for e in error_infos(votable) if "no object" not in e.lower()]
            if errors:
                raise self.http.error(f"search failed: {'; '.join(errors)}", response.url)
            return None
        names = list(table.colnames)
        z_col = _column(names, "Redshift", "redshift")
        ra_col = _column(names, "RA", "RA(deg)", "ra")
        dec_col = _column(names, "DEC", "DEC(deg)", "Dec", "dec")
        if z_col is None or ra_col is None or dec_col is None:
            raise self.http.error(
                f"VOTable lacks Redshift/RA/DEC columns (has {names})", response.url
            )
        best: tuple[float, float] | None = None
        for row in table:
            if np.ma.is_masked(row[z_col]):
                continue
            z, ra, dec = _finite(row[z_col]), _finite(row[ra_col]), _finite(row[dec_col])
            if z is None or ra is None or dec is None:
                continue
            separation = angular_separation_deg(ra_deg, dec_deg, ra, dec)
            if best is None or separation < best[0]:
                best = (separation, z)
        return None if best is None else best[1]
