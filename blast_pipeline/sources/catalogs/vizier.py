"""GLADE+ (Dalya et al. 2022; VizieR VII/291) by cone search through VizieR's VOTable service.

GLADE+ on VizieR has positions, B magnitudes, redshifts and distance flags but no sizes; the
sizes come from HyperLEDA (VizieR VII/237, Paturel et al. 2003: ``logD25``, ``logR25``, ``PA``),
asked for in a second cone search and joined on the PGC number, which is what Prost's
GLADE+/HyperLEDA file holds. Galaxies without a HyperLEDA size get NaN sizes (the host
association then uses its size floor).
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np
from astropy.io import votable
from astropy.table import Table

from blast_pipeline.sources.base import SourceError
from blast_pipeline.sources.catalogs.table import (
    GLADE_META,
    check_cone,
    empty_galaxy_table,
    glade_plus_to_catalog,
)
from blast_pipeline.sources.http import HttpSettings, ServiceHttp

__all__ = ["VIZIER_VOTABLE_URL", "VizierGladeSource", "parse_vizier_votable"]

logger = logging.getLogger(__name__)

VIZIER_VOTABLE_URL = "https://vizier.cds.unistra.fr/viz-bin/votable"
GLADE_TABLE = "VII/291/gladep"
HYPERLEDA_TABLE = "VII/237/pgc"
GLADE_OUT = (
    "GLADE+",
    "PGC",
    "Type",
    "RAJ2000",
    "DEJ2000",
    "Bmag",
    "e_Bmag",
    "zhelio",
    "e_zhelio",
    "f_dL",
)
HYPERLEDA_OUT = ("PGC", "logD25", "logR25", "PA")


def parse_vizier_votable(content: bytes, what: str) -> tuple[Table | None, bool]:
    """The first table of a VizieR VOTable answer (``None`` if it has none) and whether VizieR
    truncated it (``QUERY_STATUS`` "OVERFLOW"). A ``QUERY_STATUS`` "ERROR" or unparsable XML
    raises ``SourceError``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = votable.parse(io.BytesIO(content), verify="ignore")
    except Exception as exc:  # astropy raises several XML/VOTable error types
        raise SourceError(f"VizieR {what}: unreadable VOTable answer ({exc})") from exc
    infos = list(document.infos)
    for resource in document.resources:
        infos.extend(resource.infos)
    truncated = False
    for info in infos:
        if (info.name or "").upper() != "QUERY_STATUS":
            continue
        status = (info.value or "").upper()
        if status == "ERROR":
            text = " ".join((info.content or "").split()) or "no detail"
            raise SourceError(f"VizieR {what}: query error: {text}")
        truncated |= status == "OVERFLOW"
    tables = list(document.iter_tables())
    if not tables:
        return None, truncated
    return tables[0].to_table(use_names_over_ids=True), truncated


class VizierGladeSource:
    """``GalaxyCatalogSource`` for GLADE+ galaxies (``Type == "G"``) from VizieR.

    Parameters follow VizieR's ``viz-bin/votable`` interface: ``-source`` (table), ``-c``
    (centre, decimal degrees), ``-c.rs`` (radius, arcsec), ``-out`` (columns) and ``-out.max``
    (row limit, ``max_rows``). ``base_url`` may point at a mirror or a test server;
    ``with_sizes=False`` skips the HyperLEDA size query. HTTP errors, timeouts, VizieR error
    answers and unreadable replies raise ``SourceError``; no galaxies is an empty table.
    Table metadata: catalog "glade", release "latest", band "B", mag_limit 17 (Prost's values),
    plus ``truncated`` when VizieR cut the answer at ``max_rows``.
    """

    def __init__(
        self,
        base_url: str = VIZIER_VOTABLE_URL,
        *,
        max_rows: int = 2000,
        with_sizes: bool = True,
        settings: HttpSettings | None = None,
        http: ServiceHttp | None = None,
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.base_url = base_url
        self.max_rows = int(max_rows)
        self.with_sizes = with_sizes
        self._http = http or ServiceHttp("VizieR", settings)

    def _query(
        self, table: str, out: tuple[str, ...], ra: float, dec: float, radius: float
    ) -> tuple[Table | None, bool]:
        params: dict[str, Any] = {
            "-source": table,
            "-c": f"{ra:.7f} {dec:+.7f}",
            "-c.eq": "J2000",
            "-c.rs": f"{radius:.3f}",
            "-out": ",".join(out),
            "-out.max": str(self.max_rows),
            "-oc.form": "d",
        }
        response = self._http.get(self.base_url, params=params)
        return parse_vizier_votable(response.content, table)

    def galaxies_near(self, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
        """GLADE+ galaxies within ``radius_arcsec`` of the position."""
        check_cone(ra_deg, dec_deg, radius_arcsec)
        raw, truncated = self._query(GLADE_TABLE, GLADE_OUT, ra_deg, dec_deg, radius_arcsec)
        if truncated:
            logger.warning(
                'VizieR truncated the GLADE+ cone at (%.5f, %.5f) r=%g" to %d rows',
                ra_deg,
                dec_deg,
                radius_arcsec,
                self.max_rows,
            )
        if raw is None or len(raw) == 0:
            return empty_galaxy_table({**GLADE_META, "truncated": truncated})
        missing = [c for c in ("GLADE+", "RAJ2000", "DEJ2000") if c not in raw.colnames]
        if missing:
            raise SourceError(f"VizieR GLADE+ answer lacks columns: {', '.join(missing)}")
        if "Type" in raw.colnames:
            kind = np.char.strip(
                np.asarray(
                    raw["Type"].filled("") if hasattr(raw["Type"], "filled") else raw["Type"]
                ).astype(str)
            )
            raw = raw[kind == "G"]
        prost = Table()
        prost["GLADE+"] = raw["GLADE+"]
        for ours, theirs in (
            ("RAJ2000", "RAJ2000"),
            ("DEJ2000", "DEJ2000"),
            ("Bmag", "Bmag"),
            ("e_Bmag", "e_Bmag"),
            ("z_best", "zhelio"),
            ("z_best_std", "e_zhelio"),
            ("f_dL", "f_dL"),
        ):
            if theirs in raw.colnames:
                prost[ours] = raw[theirs]
        if self.with_sizes and len(raw) and "PGC" in raw.colnames:
            self._add_sizes(prost, raw["PGC"], ra_deg, dec_deg, radius_arcsec)
        try:
            table = glade_plus_to_catalog(prost, {"truncated": truncated})
        except ValueError as exc:
            raise SourceError(f"VizieR GLADE+ answer: {exc}") from exc
        return table

    def _add_sizes(
        self, prost: Table, pgc: Any, ra_deg: float, dec_deg: float, radius_arcsec: float
    ) -> None:
        """Columns logd25Hyp, logr25Hyp, PAHyp from HyperLEDA, matched on PGC (NaN if none)."""
        sizes, _ = self._query(HYPERLEDA_TABLE, HYPERLEDA_OUT, ra_deg, dec_deg, radius_arcsec)
        n = len(prost)
        for name in ("logd25Hyp", "logr25Hyp", "PAHyp"):
            prost[name] = np.full(n, np.nan)
        if sizes is None or len(sizes) == 0 or "PGC" not in sizes.colnames:
            return
        lookup: dict[int, int] = {}
        for row, value in enumerate(_as_float(sizes["PGC"])):
            if np.isfinite(value):
                lookup.setdefault(int(value), row)
        columns = {
            "logd25Hyp": _as_float(sizes["logD25"]) if "logD25" in sizes.colnames else None,
            "logr25Hyp": _as_float(sizes["logR25"]) if "logR25" in sizes.colnames else None,
            "PAHyp": _as_float(sizes["PA"]) if "PA" in sizes.colnames else None,
        }
        for i, value in enumerate(_as_float(pgc)):
            row = lookup.get(int(value)) if np.isfinite(value) else None
            if row is None:
                continue
            for name, values in columns.items():
                if values is not None:
                    prost[name][i] = values[row]


def _as_float(column: Any) -> np.ndarray:
    if hasattr(column, "filled"):
        column = column.astype(float).filled(np.nan)
    return np.asarray(column, dtype=float)
