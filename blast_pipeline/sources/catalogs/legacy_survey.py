"""DESI Legacy Imaging Surveys galaxies (Tractor catalogue) from NOIRLab Data Lab's TAP service.

Prost's "decals" catalogue reads the same tables (``ls_dr9``/``ls_dr10`` ``tractor`` joined with
``photo_z`` on ``ls_id``) through Data Lab's own query client; we ask the public TAP endpoint
(``https://datalab.noirlab.edu/tap/sync``) with ``REQUEST=doQuery&LANG=ADQL&FORMAT=csv`` and a
cone search, so no Data Lab package or account is needed.

Selection: Tractor model ``type`` neither ``PSF`` (point source) nor ``DUP`` (Gaia source fitted
by another model), and ``brick_primary`` (no duplicates from overlapping bricks).

Conversions (one row per galaxy):

* ``mag`` = 22.5 - 2.5 log10(``flux_r``): Tractor fluxes are in nanomaggies, AB system;
  ``mag_err`` = 2.5 / ln(10) * sigma / flux with sigma = 1 / sqrt(``flux_ivar_r``). A flux
  <= 0 or an inverse variance <= 0 gives NaN. The magnitude is *observed* (not corrected for
  Milky Way extinction, like the other catalogues here) unless ``deredden=True``, which divides
  the flux by ``mw_transmission_r`` first (Prost's ``dered_mag_r``).
* Sizes: ``shape_r`` is the half-light radius (arcsec) along the major axis of the Tractor
  ellipse, so ``a = shape_r`` and ``b = a * b/a``. From the ellipticity components,
  ``e = sqrt(e1**2 + e2**2)``, ``b/a = (1 - e) / (1 + e)`` and the major-axis position angle,
  east of north, is ``PA = 0.5 * atan2(e2, e1)`` (degrees, folded into [0, 180)). That sign is
  Tractor's: ``EllipseE.getRaDecBasis`` puts the major axis along (dRA cos dec, dDec) =
  (sin theta, cos theta) with theta = 0.5 atan2(e2, e1), and legacypipe builds shapes from a
  catalogue PA (east of north) with ``EllipseE.fromRAbPhi(r, ba, 180 - pa)``, which gives back
  theta = pa. (The Legacy Survey pages' ``phi = -0.5 atan2(e2, e1)`` is that ``180 - pa``
  argument, SDSS's angle convention, not the position angle.) Round models (REX, e = 0) get
  ``b = a`` and PA NaN; a size <= 0 is NaN (the host matcher then uses its size floor).
* Redshifts from ``photo_z`` (Zhou et al. 2021): ``z_spec`` when > 0 ("spec", error NaN: the
  matcher applies its spectroscopic floor), else ``z_phot_median`` +- ``z_phot_std``
  ("phot"); Data Lab writes -99 for missing values, which become NaN. The join is a LEFT JOIN,
  so galaxies without a photo-z stay, with NaN redshift.

Releases: DR10 first (``ls_dr10``, the southern sky, Dec <~ +32 deg), then DR9 (``ls_dr9``,
which also has the BASS/MzLS north) when DR10 has no galaxy in the cone. ``table.meta``:
catalog_name "legacy_survey", catalog_release the release that answered, band "r",
mag_limit 23.5 (about the DR9/DR10 r-band 5-sigma depth for galaxies), and ``truncated`` when
the answer hit ``max_rows``.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from astropy.io import votable
from astropy.table import Table

from blast_pipeline.sources.base import SourceError
from blast_pipeline.sources.catalogs.table import (
    check_cone,
    cone_select,
    empty_galaxy_table,
    make_galaxy_table,
)
from blast_pipeline.sources.http import HttpSettings, ServiceHttp, body_snippet

__all__ = [
    "DATALAB_TAP_URL",
    "LEGACY_SURVEY_META",
    "LegacySurveyCatalogSource",
    "legacy_survey_query",
    "tractor_shape_to_ellipse",
]

logger = logging.getLogger(__name__)

DATALAB_TAP_URL = "https://datalab.noirlab.edu/tap/sync"
LEGACY_SURVEY_RELEASES = ("dr10", "dr9")
LEGACY_SURVEY_META: dict[str, Any] = {
    "catalog_name": "legacy_survey",
    "catalog_release": "dr10",
    "band": "r",
    "mag_limit": 23.5,
}
#: Columns the query returns (``t.``: tractor, ``p.``: photo_z).
TRACTOR_COLUMNS = (
    "ls_id",
    "ra",
    "dec",
    "type",
    "brick_primary",
    "flux_r",
    "flux_ivar_r",
    "mw_transmission_r",
    "shape_r",
    "shape_e1",
    "shape_e2",
)
PHOTO_Z_COLUMNS = ("z_phot_median", "z_phot_std", "z_spec")
_REQUIRED = ("ls_id", "ra", "dec", "type", "flux_r", "shape_r", "shape_e1", "shape_e2")
_NOT_GALAXIES = ("PSF", "DUP")
_POGSON = 2.5 / np.log(10.0)

ConeFunction = Literal["q3c", "contains"]


def legacy_survey_query(
    release: str, ra_deg: float, dec_deg: float, radius_arcsec: float, cone: ConeFunction = "q3c"
) -> str:
    """The ADQL query for galaxies of one release in a cone.

    ``cone="q3c"`` uses Data Lab's ``q3c_radial_query`` (its indexed cone search, written as
    ``'t' = q3c_radial_query(...)`` as Data Lab's ADQL examples do); ``"contains"`` the
    standard ADQL ``1 = CONTAINS(POINT(...), CIRCLE(...))``.
    """
    radius_deg = radius_arcsec / 3600.0
    if cone == "q3c":
        where = (
            f"'t' = q3c_radial_query(t.ra, t.dec, {ra_deg:.7f}, {dec_deg:.7f}, {radius_deg:.7f})"
        )
    elif cone == "contains":
        where = (
            "1 = CONTAINS(POINT('ICRS', t.ra, t.dec), "
            f"CIRCLE('ICRS', {ra_deg:.7f}, {dec_deg:.7f}, {radius_deg:.7f}))"
        )
    else:
        raise ValueError(f"cone must be 'q3c' or 'contains', got {cone!r}")
    columns = ", ".join([f"t.{c}" for c in TRACTOR_COLUMNS] + [f"p.{c}" for c in PHOTO_Z_COLUMNS])
    excluded = ", ".join(f"'{t}'" for t in _NOT_GALAXIES)
    return (
        f"SELECT {columns} FROM ls_{release}.tractor AS t "
        f"LEFT OUTER JOIN ls_{release}.photo_z AS p ON t.ls_id = p.ls_id "
        f"WHERE {where} AND t.type NOT IN ({excluded})"
    )


def tractor_shape_to_ellipse(
    shape_r: Any, shape_e1: Any, shape_e2: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semi-major axis, semi-minor axis (arcsec) and position angle (deg east of north, in
    [0, 180); NaN for round shapes) from Tractor's ``shape_r``, ``shape_e1``, ``shape_e2``
    (conventions in the module docstring)."""
    r = np.asarray(shape_r, dtype=float)
    e1 = np.asarray(shape_e1, dtype=float)
    e2 = np.asarray(shape_e2, dtype=float)
    a = np.where(np.isfinite(r) & (r > 0), r, np.nan)
    e = np.hypot(np.nan_to_num(e1), np.nan_to_num(e2))
    e = np.minimum(e, 0.999999)  # Tractor's own cap: |e| < 1
    b = a * (1.0 - e) / (1.0 + e)
    pa = np.mod(np.degrees(0.5 * np.arctan2(e2, e1)), 180.0)
    pa = np.where((e > 0) & np.isfinite(e1) & np.isfinite(e2), pa, np.nan)
    return a, b, pa


class LegacySurveyCatalogSource:
    """``GalaxyCatalogSource`` for Legacy Surveys DR10 (then DR9) galaxies via Data Lab TAP.

    The request is ``GET {url}?REQUEST=doQuery&LANG=ADQL&FORMAT=csv&MAXREC=<max_rows>
    &QUERY=<legacy_survey_query(...)>``. ``releases`` are tried in order; the next one is asked
    only when the previous one has no galaxy in the cone. HTTP errors (a TAP error answered
    with HTTP 400 raises at once, 5xx are retried), timeouts, TAP error documents
    (``QUERY_STATUS`` "ERROR"), answers that are not the expected CSV and malformed CSV raise
    ``SourceError``; no galaxies is an empty table. Results are sorted nearest first.
    """

    def __init__(
        self,
        url: str = DATALAB_TAP_URL,
        *,
        releases: Sequence[str] = LEGACY_SURVEY_RELEASES,
        cone: ConeFunction = "q3c",
        deredden: bool = False,
        max_rows: int = 5000,
        mag_limit: float = 23.5,
        settings: HttpSettings | None = None,
        http: ServiceHttp | None = None,
    ) -> None:
        releases = tuple(releases)
        bad = [r for r in releases if r not in LEGACY_SURVEY_RELEASES]
        if not releases or bad:
            raise ValueError(
                f"Legacy Survey releases must be among {', '.join(LEGACY_SURVEY_RELEASES)}, "
                f"got {', '.join(map(repr, releases)) or 'none'}"
            )
        if cone not in ("q3c", "contains"):
            raise ValueError(f"cone must be 'q3c' or 'contains', got {cone!r}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.url = url
        self.releases = releases
        self.cone: ConeFunction = cone
        self.deredden = bool(deredden)
        self.max_rows = int(max_rows)
        self.mag_limit = float(mag_limit)
        self._http = http or ServiceHttp(
            "NOIRLab Data Lab TAP", settings or HttpSettings(timeout_s=60.0, pool_size=2)
        )

    def __repr__(self) -> str:
        return f"LegacySurveyCatalogSource({self.url!r}, releases={self.releases!r})"

    def galaxies_near(self, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
        """Legacy Survey galaxies within ``radius_arcsec`` of the position, nearest first."""
        check_cone(ra_deg, dec_deg, radius_arcsec)
        table = None
        for release in self.releases:
            table = self._query_release(release, ra_deg, dec_deg, radius_arcsec)
            if len(table):
                break
            logger.debug(
                'Legacy Survey %s: no galaxies within %g" of (%.5f, %.5f)',
                release,
                radius_arcsec,
                ra_deg,
                dec_deg,
            )
        assert table is not None  # releases is never empty
        if table.meta.get("truncated"):
            logger.warning(
                'Legacy Survey %s: the cone at (%.5f, %.5f) r=%g" hit the %d-row limit',
                table.meta["catalog_release"],
                ra_deg,
                dec_deg,
                radius_arcsec,
                self.max_rows,
            )
        return table

    def _query_release(
        self, release: str, ra_deg: float, dec_deg: float, radius_arcsec: float
    ) -> Table:
        params = {
            "REQUEST": "doQuery",
            "LANG": "ADQL",
            "FORMAT": "csv",
            "MAXREC": str(self.max_rows),
            "QUERY": legacy_survey_query(release, ra_deg, dec_deg, radius_arcsec, self.cone),
        }
        response = self._http.get(self.url, params=params)
        meta = {**LEGACY_SURVEY_META, "catalog_release": release, "mag_limit": self.mag_limit}
        frame = self._parse(response.content, release)
        meta["truncated"] = len(frame) >= self.max_rows
        if frame.empty:
            return empty_galaxy_table(meta)
        table = self._to_galaxies(frame, meta)
        return cone_select(table, ra_deg, dec_deg, radius_arcsec)

    def _parse(self, content: bytes, release: str) -> pd.DataFrame:
        where = f"Data Lab TAP (ls_{release})"
        text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
        stripped = text.lstrip()
        if not stripped:
            return pd.DataFrame(columns=list(_REQUIRED))
        if stripped.startswith("<"):
            raise SourceError(f"{where}: {_votable_problem(content)}")
        try:
            rows = [row for row in csv.reader(io.StringIO(text), strict=True) if row]
        except csv.Error as exc:
            raise SourceError(f"{where}: unreadable CSV answer ({exc})") from exc
        header = [name.strip().lower() for name in rows[0]]
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            first_line = body_snippet(stripped.splitlines()[0])
            raise SourceError(
                f"{where}: answer lacks columns {', '.join(missing)} (it begins {first_line!r})"
            )
        ragged = [i + 2 for i, row in enumerate(rows[1:]) if len(row) != len(header)]
        if ragged:
            raise SourceError(
                f"{where}: unreadable CSV answer (row {ragged[0]} has a wrong number of "
                f"fields; {len(header)} expected)"
            )
        return pd.DataFrame(rows[1:], columns=header, dtype=str)

    def _to_galaxies(self, frame: pd.DataFrame, meta: dict[str, Any]) -> Table:
        def numeric(name: str) -> np.ndarray:
            if name not in frame.columns:
                return np.full(len(frame), np.nan)
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

        kind = frame["type"].fillna("").astype(str).str.strip().str.upper().to_numpy()
        keep = ~np.isin(kind, _NOT_GALAXIES)
        if "brick_primary" in frame.columns:
            flag = frame["brick_primary"].astype(str).str.strip().str.lower()
            keep &= flag.isin(("1", "1.0", "t", "true")).to_numpy()
        ra, dec = numeric("ra"), numeric("dec")
        keep &= np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0)
        ids = frame["ls_id"].fillna("").astype(str).str.strip().to_numpy()
        if np.any(keep & (ids == "")):
            raise SourceError("Data Lab TAP answer has galaxies without ls_id")

        flux, ivar = numeric("flux_r"), numeric("flux_ivar_r")
        if self.deredden:
            transmission = numeric("mw_transmission_r")
            good = np.isfinite(transmission) & (transmission > 0)
            flux = np.where(good, flux / np.where(good, transmission, 1.0), np.nan)
            ivar = np.where(good, ivar * np.where(good, transmission, 1.0) ** 2, np.nan)
        positive = np.isfinite(flux) & (flux > 0)
        safe_flux = np.where(positive, flux, 1.0)
        mag = np.where(positive, 22.5 - 2.5 * np.log10(safe_flux), np.nan)
        has_ivar = positive & np.isfinite(ivar) & (ivar > 0)
        sigma = 1.0 / np.sqrt(np.where(has_ivar, ivar, 1.0))
        mag_err = np.where(has_ivar, _POGSON * sigma / safe_flux, np.nan)

        a, b, pa = tractor_shape_to_ellipse(
            numeric("shape_r"), numeric("shape_e1"), numeric("shape_e2")
        )

        z_spec, z_phot, z_phot_std = (
            numeric("z_spec"),
            numeric("z_phot_median"),
            numeric("z_phot_std"),
        )
        spec = np.isfinite(z_spec) & (z_spec > 0)
        phot = ~spec & np.isfinite(z_phot) & (z_phot >= 0)
        redshift = np.where(spec, z_spec, np.where(phot, z_phot, np.nan))
        phot_err = np.where(np.isfinite(z_phot_std) & (z_phot_std > 0), z_phot_std, np.nan)
        redshift_err = np.where(phot, phot_err, np.nan)
        redshift_type = np.where(spec, "spec", np.where(phot, "phot", ""))

        columns = {
            "object_id": ids,
            "ra_deg": ra,
            "dec_deg": dec,
            "a_arcsec": a,
            "b_arcsec": b,
            "pa_deg": pa,
            "mag": mag,
            "mag_err": mag_err,
            "redshift": redshift,
            "redshift_err": redshift_err,
            "redshift_type": redshift_type,
        }
        return make_galaxy_table({k: v[keep] for k, v in columns.items()}, meta)


def _votable_problem(content: bytes) -> str:
    """What a VOTable answer (to a CSV request) says: the TAP error message, if any."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = votable.parse(io.BytesIO(content), verify="ignore")
    except Exception:  # astropy raises several XML/VOTable error types
        head = body_snippet(content[:4096])
        return f"unreadable answer (expected CSV, it begins {head!r})"
    infos = list(document.infos)
    for resource in document.resources:
        infos.extend(resource.infos)
    for info in infos:
        if (info.name or "").upper() == "QUERY_STATUS" and (info.value or "").upper() == "ERROR":
            text = body_snippet(info.content or "", limit=500) or "no detail"
            return f"query error: {text}"
    return "answered a VOTable instead of CSV"
