"""The online implementations of the source protocols: real survey and redshift services.

``OnlineCutoutSource`` sends each filter to its survey's client; ``OnlineRedshiftSource`` asks
SDSS then NED. Both are built from one mapping of service URLs (real URLs by default, every one
replaceable, e.g. by a local test server) and one ``HttpSettings``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec
from blast_pipeline.sources.base import SourceError
from blast_pipeline.sources.http import DEFAULT_POOLS, HttpSettings, ServiceHttp, ServicePools
from blast_pipeline.sources.redshifts import (
    DEFAULT_NED_URL,
    NedRedshifts,
    SdssSpectroscopicRedshifts,
)
from blast_pipeline.sources.surveys import (
    GalexCutouts,
    LegacySurveyCutouts,
    PanstarrsCutouts,
    SdssCutouts,
    TwoMassCutouts,
    WiseCutouts,
    galex,
    legacy_survey,
    panstarrs,
    sdss,
    twomass,
    wise,
)
from blast_pipeline.sources.surveys.skyserver import DEFAULT_SKYSERVER_SQL_URL

logger = logging.getLogger(__name__)

#: Every service URL the online sources use, by key. Override any of them with ``base_urls``.
DEFAULT_SERVICE_URLS: dict[str, str] = {
    "panstarrs_filenames": panstarrs.DEFAULT_FILENAMES_URL,
    "panstarrs_fitscut": panstarrs.DEFAULT_FITSCUT_URL,
    "sdss_sql": DEFAULT_SKYSERVER_SQL_URL,
    "sdss_frames": sdss.DEFAULT_FRAMES_URL,
    "legacy_survey_sia": legacy_survey.DEFAULT_SIA_URLS[0],
    "legacy_survey_sia_fallback": legacy_survey.DEFAULT_SIA_URLS[1],
    "mast_invoke": galex.DEFAULT_MAST_INVOKE_URL,
    "wise_sia": wise.DEFAULT_SIA_URL,
    "twomass_sia": twomass.DEFAULT_SIA_URL,
    "ned_objsearch": DEFAULT_NED_URL,
}


def service_urls(base_urls: Mapping[str, str] | None) -> dict[str, str]:
    """The default URLs with ``base_urls`` applied; unknown keys are an error (typos)."""
    overrides = dict(base_urls or {})
    unknown = sorted(set(overrides) - set(DEFAULT_SERVICE_URLS))
    if unknown:
        raise ValueError(
            f"unknown service URL keys {unknown}; known keys: {', '.join(DEFAULT_SERVICE_URLS)}"
        )
    return {**DEFAULT_SERVICE_URLS, **overrides}


class OnlineCutoutSource:
    """``CutoutSource`` that downloads from the real survey services, by ``spec.survey``."""

    #: Cutouts of one transient fetched at once (I/O bound; each service has its own pool).
    parallel_fetches = 8

    def __init__(
        self,
        base_urls: Mapping[str, str] | None = None,
        settings: HttpSettings | None = None,
        *,
        pools: ServicePools | None = None,
        sdss_pause_before_frame_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        urls = service_urls(base_urls)
        settings = settings or HttpSettings()
        pools = pools or DEFAULT_POOLS

        def http(survey: str) -> ServiceHttp:
            return ServiceHttp.for_cutouts(survey, settings, pools=pools, sleep=sleep)

        self.clients = {
            "PanSTARRS": PanstarrsCutouts(
                http("PanSTARRS"),
                filenames_url=urls["panstarrs_filenames"],
                fitscut_url=urls["panstarrs_fitscut"],
            ),
            "SDSS": SdssCutouts(
                http("SDSS"),
                sql_url=urls["sdss_sql"],
                frames_url=urls["sdss_frames"],
                pause_before_frame_s=sdss_pause_before_frame_s,
            ),
            "DES": LegacySurveyCutouts(
                http("DES"),
                sia_urls=(urls["legacy_survey_sia"], urls["legacy_survey_sia_fallback"]),
            ),
            "GALEX": GalexCutouts(http("GALEX"), mast_url=urls["mast_invoke"]),
            "WISE": WiseCutouts(http("WISE"), sia_url=urls["wise_sia"]),
            "2MASS": TwoMassCutouts(http("2MASS"), sia_url=urls["twomass_sia"]),
        }

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        """The cutout from the filter's survey service; ``None`` when it has no coverage."""
        client = self.clients.get(spec.survey)
        if client is None:
            raise ValueError(
                f"no online cutout service for survey {spec.survey!r} (filter {spec.name}); "
                f"known surveys: {', '.join(self.clients)}"
            )
        _check_position(ra_deg, dec_deg)
        if not fov_arcsec > 0:
            raise ValueError(f"cutout field of view must be positive, got {fov_arcsec}")
        return client.fetch_cutout(ra_deg, dec_deg, spec, fov_arcsec)


class OnlineRedshiftSource:
    """``RedshiftSource``: SDSS spectroscopic redshift, else NED (Blast's Host information).

    Each service gets its own concurrency pool, one request at a time by default (Blast's global
    SDSS and NED locks). As in Blast, an SDSS failure is logged and NED is asked instead; a NED
    failure raises ``SourceError`` (``RateLimitedError`` when NED answers HTML: too many requests).
    """

    def __init__(
        self,
        base_urls: Mapping[str, str] | None = None,
        settings: HttpSettings | None = None,
        *,
        sdss_pool_size: int = 1,
        ned_pool_size: int = 1,
        pools: ServicePools | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        urls = service_urls(base_urls)
        settings = settings or HttpSettings()
        pools = pools or DEFAULT_POOLS
        self.sdss = SdssSpectroscopicRedshifts(
            ServiceHttp(
                SdssSpectroscopicRedshifts.service,
                replace(settings, pool_size=sdss_pool_size),
                pools=pools,
                sleep=sleep,
            ),
            sql_url=urls["sdss_sql"],
        )
        self.ned = NedRedshifts(
            ServiceHttp(
                NedRedshifts.service,
                replace(settings, pool_size=ned_pool_size),
                pools=pools,
                sleep=sleep,
            ),
            url=urls["ned_objsearch"],
        )

    def spectroscopic_redshift(
        self, ra_deg: float, dec_deg: float, radius_arcsec: float = 1.0
    ) -> float | None:
        """The SDSS redshift within the radius, else the nearest NED one, else ``None``."""
        _check_position(ra_deg, dec_deg)
        if not radius_arcsec > 0:
            raise ValueError(f"redshift search radius must be positive, got {radius_arcsec}")
        try:
            z = self.sdss.spectroscopic_redshift(ra_deg, dec_deg, radius_arcsec)
        except SourceError as exc:
            logger.warning("SDSS redshift look-up failed, asking NED: %s", exc)
            z = None
        if z is not None:
            return z
        return self.ned.spectroscopic_redshift(ra_deg, dec_deg, radius_arcsec)


def _check_position(ra_deg: float, dec_deg: float) -> None:
    if not (0.0 <= ra_deg < 360.0 and -90.0 <= dec_deg <= 90.0):
        raise ValueError(f"position out of range: ra={ra_deg} deg, dec={dec_deg} deg")
