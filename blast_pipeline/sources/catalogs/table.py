"""The galaxy-catalogue table (``GALAXY_CATALOG_COLUMNS``): construction, checks, cone cut, GLADE+.

Columns and units (one row per galaxy):

==================  ======  ==========================================================
``object_id``       str     catalogue identifier (e.g. the GLADE+ number)
``ra_deg``          deg     right ascension (ICRS/J2000)
``dec_deg``         deg     declination
``a_arcsec``        arcsec  semi-major axis of the light ellipse (NaN: unknown)
``b_arcsec``        arcsec  semi-minor axis (NaN: unknown)
``pa_deg``          deg     major-axis position angle, east of north (NaN: unknown)
``mag``             mag     apparent magnitude in ``meta["band"]`` (NaN: unknown)
``mag_err``         mag     its 1-sigma error
``redshift``        --      NaN when unknown
``redshift_err``    --      1-sigma error (NaN: unknown)
``redshift_type``   str     "spec", "phot" or ""
==================  ======  ==========================================================

``table.meta``: ``catalog_name``, ``catalog_release``, ``band`` and ``mag_limit`` (the
catalogue's completeness limit in ``band``, used by the host association's missing-host
hypothesis; absent when unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy.table import Table

from blast_pipeline.science.dlr import separation_arcsec
from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS

__all__ = [
    "GLADE_PLUS_COLUMNS",
    "cone_select",
    "empty_galaxy_table",
    "glade_plus_to_catalog",
    "make_galaxy_table",
]

_STRING_COLUMNS = ("object_id", "redshift_type")

#: GLADE+ / Prost column names that ``glade_plus_to_catalog`` reads.
GLADE_PLUS_COLUMNS: tuple[str, ...] = (
    "GLADE+",
    "RAJ2000",
    "DEJ2000",
    "Bmag",
    "e_Bmag",
    "logd25Hyp",
    "logr25Hyp",
    "PAHyp",
    "z_best",
    "z_best_std",
    "f_dL",
)

#: Metadata of GLADE+ tables, as Prost names the catalogue (Blast stores these in the Host).
GLADE_META: dict[str, Any] = {
    "catalog_name": "glade",
    "catalog_release": "latest",
    "band": "B",
    "mag_limit": 17.0,  # Prost's DEFAULT_LIMITING_MAG["glade"]
}


def _float_column(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    if hasattr(values, "mask"):  # masked columns (e.g. VOTable integers): masked cells -> NaN
        values = np.ma.masked_array(values).astype(float).filled(np.nan)
    array = np.asarray(values)
    if array.dtype.kind in "US":  # text numbers, as in CSV files with blanks
        array = np.array([float(v) if str(v).strip() else np.nan for v in array])
    return array.astype(float)


def _string_column(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, "", dtype=str)
    if hasattr(values, "mask"):  # masked (e.g. VOTable) columns: masked cells become ""
        mask = np.ma.getmaskarray(values)
        values = [None if m else v for v, m in zip(np.asarray(values.data), mask, strict=True)]
    out = []
    for v in np.asarray(values, dtype=object):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        elif isinstance(v, bytes):
            out.append(v.decode().strip())
        else:
            out.append(str(v).strip())
    return np.array(out, dtype=str) if out else np.array([], dtype=str)


def make_galaxy_table(columns: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Table:
    """A table with exactly ``GALAXY_CATALOG_COLUMNS`` (floats, text ids) from column arrays.

    Missing optional columns become NaN / ""; ``object_id``, ``ra_deg`` and ``dec_deg`` are
    required. Raises ``ValueError`` naming missing columns or invalid positions.
    """
    missing = [c for c in ("object_id", "ra_deg", "dec_deg") if c not in columns]
    if missing:
        raise ValueError(f"galaxy table lacks required columns: {', '.join(missing)}")
    n = len(np.asarray(columns["ra_deg"]))
    data: dict[str, np.ndarray] = {}
    for name in GALAXY_CATALOG_COLUMNS:
        values = columns.get(name)
        if name in _STRING_COLUMNS:
            data[name] = _string_column(values, n)
        else:
            data[name] = _float_column(values, n)
        if len(data[name]) != n:
            raise ValueError(f"galaxy table column {name} has {len(data[name])} rows, not {n}")
    ra, dec = data["ra_deg"], data["dec_deg"]
    bad = np.flatnonzero(~(np.isfinite(ra) & np.isfinite(dec)) | (np.abs(dec) > 90))
    if bad.size:
        raise ValueError(f"galaxy table rows {bad.tolist()[:10]} have invalid positions")
    data["ra_deg"] = np.mod(ra, 360.0)
    return Table(data, meta=dict(meta or {}))


def empty_galaxy_table(meta: Mapping[str, Any] | None = None) -> Table:
    """An empty table with ``GALAXY_CATALOG_COLUMNS``."""
    return make_galaxy_table({"object_id": [], "ra_deg": [], "dec_deg": []}, meta)


def cone_select(table: Table, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
    """Rows within ``radius_arcsec`` (great-circle separation) of a position, nearest first."""
    check_cone(ra_deg, dec_deg, radius_arcsec)
    if len(table) == 0:
        return table.copy()
    dec = np.asarray(table["dec_deg"], dtype=float)
    near = np.flatnonzero(np.abs(dec - dec_deg) <= radius_arcsec / 3600.0)  # cheap pre-cut
    sep = separation_arcsec(ra_deg, dec_deg, np.asarray(table["ra_deg"])[near], dec[near])
    keep = near[sep <= radius_arcsec]
    order = np.argsort(sep[sep <= radius_arcsec], kind="stable")
    return table[keep[order]]


def check_cone(ra_deg: float, dec_deg: float, radius_arcsec: float) -> None:
    """Raise ``ValueError`` for a cone that makes no sense."""
    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg) and -90.0 <= dec_deg <= 90.0):
        raise ValueError(f"invalid cone centre ({ra_deg}, {dec_deg})")
    if not (np.isfinite(radius_arcsec) and radius_arcsec > 0):
        raise ValueError(f"cone radius must be positive, got {radius_arcsec} arcsec")


def glade_plus_to_catalog(table: Table, meta: Mapping[str, Any] | None = None) -> Table:
    """Convert a GLADE+ table with Prost's columns (``GLADE_PLUS_COLUMNS``) to ours.

    Sizes follow Prost (``calc_shape_props_glade``): ``logd25Hyp`` is log10 of the HyperLEDA
    B-band 25 mag/arcsec2 isophotal diameter in units of 0.1 arcmin, so the isophotal semi-major
    axis is ``3 * 10**logd25Hyp`` arcsec, and Prost takes half of it as the light radius:
    ``a = 0.5 * 3 * 10**logd25Hyp``. ``logr25Hyp`` is log10(a/b), so ``b = a / 10**logr25Hyp``
    (``b = a`` when unknown). ``mag`` is ``Bmag`` (B band, Vega, as Prost uses it).
    ``f_dL`` (GLADE+ distance flag) 2 or 3 marks a spectroscopic redshift ("spec"; Prost:
    ``f_dL > 1``), 1 a photometric one, 0 none. Missing ``GLADE+`` numbers are an error.
    """
    missing = [c for c in ("GLADE+", "RAJ2000", "DEJ2000") if c not in table.colnames]
    if missing:
        raise ValueError(f"GLADE+ table lacks columns: {', '.join(missing)}")
    n = len(table)

    def col(name: str) -> np.ndarray:
        return _float_column(table[name] if name in table.colnames else None, n)

    ids = _string_column(table["GLADE+"], n)
    ids = np.array([i[:-2] if i.endswith(".0") else i for i in ids], dtype=str)
    if np.any(ids == ""):
        raise ValueError("GLADE+ table has rows without a GLADE+ number")
    a = 0.5 * 3.0 * 10.0 ** col("logd25Hyp")
    axis_ratio = 10.0 ** col("logr25Hyp")
    b = np.where(np.isfinite(axis_ratio) & (axis_ratio > 0), a / axis_ratio, a)
    z, flag = col("z_best"), col("f_dL")
    z_type = np.where(flag > 1, "spec", np.where(flag == 1, "phot", ""))
    z_type = np.where(np.isfinite(z), z_type, "")
    return make_galaxy_table(
        {
            "object_id": ids,
            "ra_deg": col("RAJ2000"),
            "dec_deg": col("DEJ2000"),
            "a_arcsec": a,
            "b_arcsec": b,
            "pa_deg": col("PAHyp"),
            "mag": col("Bmag"),
            "mag_err": col("e_Bmag"),
            "redshift": z,
            "redshift_err": col("z_best_std"),
            "redshift_type": z_type,
        },
        {**GLADE_META, **dict(meta or {})},
    )
