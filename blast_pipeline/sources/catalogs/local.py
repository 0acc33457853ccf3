"""A galaxy catalogue read from a local file (e.g. a GLADE+ extract), searched by cone."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from astropy.table import Table

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, SourceError
from blast_pipeline.sources.catalogs.index import CatalogIndex
from blast_pipeline.sources.catalogs.table import (
    cone_select,
    glade_plus_to_catalog,
    make_galaxy_table,
)

__all__ = ["LocalCatalogSource"]

logger = logging.getLogger(__name__)

_META_KEYS = ("catalog_name", "catalog_release", "band", "mag_limit")


class LocalCatalogSource:
    """``GalaxyCatalogSource`` over a Parquet (``.parquet``, ``.pq``) or CSV (``.csv``,
    ``.csv.gz``) file.

    The file holds either our columns (``GALAXY_CATALOG_COLUMNS``, units in
    ``sources.catalogs.table``) or Prost's GLADE+ columns (``RAJ2000``, ``DEJ2000``, ``Bmag``,
    ``e_Bmag``, ``logd25Hyp``, ``logr25Hyp``, ``PAHyp``, ``z_best``, ``z_best_std``, ``GLADE+``,
    ``f_dL``), converted with ``glade_plus_to_catalog``. Extra columns are ignored.

    The table metadata comes from, in increasing priority: GLADE+ defaults (for GLADE+ files),
    Parquet key-value metadata with the same keys, and the constructor's ``catalog_name``,
    ``catalog_release``, ``band`` and ``mag_limit``.

    The file is converted once into an on-disk index (`CatalogIndex`: declination-sorted,
    memory-mapped columns) under ``cache_dir`` (default: the file's folder), on the first search
    of the first process; every later process maps it and searches in milliseconds. A changed
    file gets a new index. When ``cache_dir`` is not writable the converted table is kept in
    memory instead (with a warning). A missing or unreadable file raises ``SourceError`` on the
    first search.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        catalog_name: str | None = None,
        catalog_release: str | None = None,
        band: str | None = None,
        mag_limit: float | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.path.parent
        overrides = {
            "catalog_name": catalog_name,
            "catalog_release": catalog_release,
            "band": band,
            "mag_limit": mag_limit,
        }
        self._overrides = {k: v for k, v in overrides.items() if v is not None}
        self._index: CatalogIndex | None = None
        self._table: Table | None = None  # only when the index cannot be written
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalCatalogSource({str(self.path)!r})"

    def _ready(self) -> None:
        if self._index is not None or self._table is not None:
            return
        with self._lock:
            if self._index is not None or self._table is not None:
                return
            if not self.path.is_file():
                raise SourceError(f"galaxy catalogue file {self.path} does not exist")
            loaded: list[Table] = []

            def load() -> Table:
                loaded.append(self._load())
                return loaded[0]

            try:
                self._index = CatalogIndex.open_or_build(self.path, self.cache_dir, load)
            except OSError as exc:
                logger.warning(
                    "cannot write the index of %s under %s (%s): keeping it in memory",
                    self.path,
                    self.cache_dir,
                    exc,
                )
                self._table = loaded[0] if loaded else self._load()
            # the index holds the file's metadata; the overrides are this source's
            (self._index.meta if self._index is not None else self._table.meta).update(
                self._overrides
            )

    @property
    def table(self) -> Table:
        """The whole catalogue (memory-mapped columns of the index)."""
        self._ready()
        return self._index.table() if self._index is not None else self._table

    def galaxies_near(self, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
        """Galaxies within ``radius_arcsec`` (great-circle), nearest first."""
        self._ready()
        if self._index is not None:
            return self._index.cone(ra_deg, dec_deg, radius_arcsec)
        return cone_select(self._table, ra_deg, dec_deg, radius_arcsec)

    def _read(self) -> tuple[pd.DataFrame, dict[str, Any]]:
        name = self.path.name.lower()
        if not self.path.is_file():
            raise SourceError(f"galaxy catalogue file {self.path} does not exist")
        try:
            if name.endswith((".parquet", ".pq")):
                import pyarrow.parquet as pq

                arrow = pq.read_table(self.path)
                raw_meta = arrow.schema.metadata or {}
                meta = {
                    k.decode(): v.decode() for k, v in raw_meta.items() if k.decode() in _META_KEYS
                }
                return arrow.to_pandas(), meta
            if name.endswith((".csv", ".csv.gz")):
                frame = pd.read_csv(
                    self.path, dtype={"object_id": str, "GLADE+": str}, low_memory=False
                )
                return frame, {}
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read galaxy catalogue {self.path}: {exc}") from exc
        raise SourceError(f"galaxy catalogue {self.path} must be .parquet, .pq, .csv or .csv.gz")

    def _load(self) -> Table:
        frame, file_meta = self._read()
        if "mag_limit" in file_meta:
            file_meta["mag_limit"] = float(file_meta["mag_limit"])
        columns: Mapping[str, Any] = {c: frame[c].to_numpy() for c in frame.columns}
        try:
            if "RAJ2000" in columns and "ra_deg" not in columns:
                table = glade_plus_to_catalog(Table(dict(columns)))
            else:
                missing = [c for c in ("object_id", "ra_deg", "dec_deg") if c not in columns]
                if missing:
                    raise ValueError(
                        f"has neither GLADE+ columns nor {', '.join(missing)} "
                        f"(expected {', '.join(GALAXY_CATALOG_COLUMNS)})"
                    )
                table = make_galaxy_table(columns)
        except ValueError as exc:
            raise SourceError(f"galaxy catalogue {self.path}: {exc}") from exc
        table.meta.update(file_meta)
        table.meta.setdefault("catalog_name", self.path.name.split(".")[0])
        table.meta.setdefault("catalog_release", "")
        return table
