"""Pan-STARRS1 DR2 galaxies from the MAST catalogs API (stack detections, cone search).

Prost's "panstarrs" catalogue conditions on offsets only; its candidates come from the
``stack`` table with Kron radii as sizes. We do the same: objects with a primary stack detection
whose PSF-minus-Kron magnitude in r exceeds ``psf_minus_kron_cut`` (0.05 mag: extended, i.e.
galaxies), sizes ``a = b = rKronRad`` (round: PS1 moments are not used), magnitude ``rKronMag``.
There are no redshifts. MAST writes -999 for missing values; they become NaN.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from astropy.table import Table

from blast_pipeline.sources.base import SourceError
from blast_pipeline.sources.catalogs.table import (
    check_cone,
    empty_galaxy_table,
    make_galaxy_table,
)
from blast_pipeline.sources.http import HttpSettings, ServiceHttp

__all__ = ["MAST_PANSTARRS_URL", "PanSTARRSCatalogSource"]

MAST_PANSTARRS_URL = "https://catalogs.mast.stsci.edu/api/v0.1/panstarrs"
PANSTARRS_COLUMNS = (
    "objID",
    "raMean",
    "decMean",
    "primaryDetection",
    "rPSFMag",
    "rKronMag",
    "rKronMagErr",
    "rKronRad",
)
PANSTARRS_META: dict[str, Any] = {
    "catalog_name": "panstarrs",
    "catalog_release": "dr2",
    "band": "r",
    "mag_limit": 22.0,  # Prost's DEFAULT_LIMITING_MAG["panstarrs"]
}
_FILL = -999.0


class PanSTARRSCatalogSource:
    """``GalaxyCatalogSource`` for Pan-STARRS1 DR2 galaxies (MAST ``<base>/dr2/stack.csv``).

    The request is ``GET {base_url}/{release}/{table}.csv?ra=&dec=&radius=<deg>&columns=[...]
    &pagesize=<max_rows>``. HTTP errors, timeouts and malformed CSV raise ``SourceError``; an
    empty answer (no body, or a header only) is an empty table.
    """

    def __init__(
        self,
        base_url: str = MAST_PANSTARRS_URL,
        *,
        release: str = "dr2",
        table: str = "stack",
        psf_minus_kron_cut: float = 0.05,
        max_rows: int = 5000,
        settings: HttpSettings | None = None,
        http: ServiceHttp | None = None,
    ) -> None:
        if release not in ("dr1", "dr2"):
            raise ValueError(f"Pan-STARRS release must be 'dr1' or 'dr2', got {release!r}")
        self.url = f"{base_url.rstrip('/')}/{release}/{table}.csv"
        self.release = release
        self.psf_minus_kron_cut = float(psf_minus_kron_cut)
        self.max_rows = int(max_rows)
        self._http = http or ServiceHttp("MAST Pan-STARRS", settings)

    def galaxies_near(self, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
        """Extended Pan-STARRS objects within ``radius_arcsec`` of the position."""
        check_cone(ra_deg, dec_deg, radius_arcsec)
        params = {
            "ra": f"{ra_deg:.7f}",
            "dec": f"{dec_deg:.7f}",
            "radius": f"{radius_arcsec / 3600.0:.7f}",
            "columns": "[" + ",".join(PANSTARRS_COLUMNS) + "]",
            "pagesize": str(self.max_rows),
        }
        text = self._http.get(self.url, params=params).text
        meta = {**PANSTARRS_META, "catalog_release": self.release}
        if not text.strip():
            return empty_galaxy_table(meta)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype={"objID": str})
        except (ValueError, pd.errors.ParserError) as exc:
            raise SourceError(f"MAST Pan-STARRS: unreadable CSV answer ({exc})") from exc
        missing = [c for c in PANSTARRS_COLUMNS if c not in frame.columns]
        if missing:
            raise SourceError(f"MAST Pan-STARRS answer lacks columns: {', '.join(missing)}")
        if frame.empty:
            return empty_galaxy_table(meta)
        numeric = frame[list(PANSTARRS_COLUMNS[1:])].apply(pd.to_numeric, errors="coerce")
        numeric = numeric.mask(numeric == _FILL)
        extended = (numeric["rPSFMag"] - numeric["rKronMag"]) > self.psf_minus_kron_cut
        keep = (
            (numeric["primaryDetection"] == 1)
            & extended
            & np.isfinite(numeric["raMean"])
            & np.isfinite(numeric["decMean"])
        )
        frame, numeric = frame[keep.to_numpy()], numeric[keep.to_numpy()]
        size = numeric["rKronRad"].to_numpy(dtype=float)
        n = len(frame)
        return make_galaxy_table(
            {
                "object_id": frame["objID"].to_numpy(),
                "ra_deg": numeric["raMean"].to_numpy(dtype=float),
                "dec_deg": numeric["decMean"].to_numpy(dtype=float),
                "a_arcsec": size,
                "b_arcsec": size,
                "pa_deg": np.full(n, np.nan),
                "mag": numeric["rKronMag"].to_numpy(dtype=float),
                "mag_err": numeric["rKronMagErr"].to_numpy(dtype=float),
                "redshift": np.full(n, np.nan),
                "redshift_err": np.full(n, np.nan),
                "redshift_type": np.full(n, "", dtype=str),
            },
            meta,
        )
