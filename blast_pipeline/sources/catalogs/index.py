"""A galaxy catalogue indexed once on disk: declination-sorted, memory-mapped ``.npy`` columns.

Reading and converting a large catalogue file (GLADE+: ~790k galaxies) costs seconds and
gigabytes in every process that searches it. `CatalogIndex.build` converts it once into a
folder of one ``.npy`` file per column of ``GALAXY_CATALOG_COLUMNS``, rows sorted by
declination, plus ``meta.json``; `CatalogIndex.open` maps those files (no read), and a cone
search reads only the rows of the declination band ``dec +- radius`` (a binary search, then the
great-circle cut), so a fresh process answers in milliseconds and touches a few pages.

The folder is named after the file's resolved path, size and modification time
(`index_folder`): a changed file gets a new index, and concurrent builders each write a
private temporary folder and rename it into place (the first one wins, the others use it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from blast_pipeline.science.dlr import separation_arcsec
from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS
from blast_pipeline.sources.catalogs.table import check_cone

__all__ = ["CatalogIndex", "index_folder"]

#: Bump when the folder layout changes: old folders are then ignored.
INDEX_VERSION = 1


def index_folder(source: Path, cache_dir: Path) -> Path:
    """The index folder of ``source`` under ``cache_dir`` (changes when the file changes)."""
    resolved = Path(source).resolve()
    stat = resolved.stat()
    key = f"{INDEX_VERSION}|{resolved}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(cache_dir) / f".{resolved.name}.index-{digest}"


class CatalogIndex:
    """The memory-mapped columns of an indexed catalogue (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        meta = json.loads((self.folder / "meta.json").read_text())
        self.meta: dict[str, Any] = meta["table_meta"]
        self.n_rows = int(meta["n_rows"])
        self.columns = {
            name: np.load(self.folder / f"{name}.npy", mmap_mode="r")
            for name in GALAXY_CATALOG_COLUMNS
        }

    @classmethod
    def open_or_build(
        cls, source: Path, cache_dir: Path, load: Callable[[], Table]
    ) -> CatalogIndex:
        """The index of ``source``, built from ``load()`` (the converted table) if absent."""
        folder = index_folder(source, cache_dir)
        if not (folder / "meta.json").is_file():
            cls.build(load(), folder)
        return cls(folder)

    @staticmethod
    def build(table: Table, folder: Path) -> None:
        """Write ``table`` (``GALAXY_CATALOG_COLUMNS``) sorted by declination into ``folder``."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        order = np.argsort(np.asarray(table["dec_deg"], dtype=float), kind="stable")
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
        try:
            for name in GALAXY_CATALOG_COLUMNS:
                values = np.asarray(table[name])[order]
                if values.dtype.kind in "US":
                    values = values.astype(f"U{max(1, values.dtype.itemsize // 4)}")
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(values))
            meta = {"n_rows": len(table), "table_meta": _plain(dict(table.meta))}
            (tmp / "meta.json").write_text(json.dumps(meta))
            try:
                os.rename(tmp, folder)
            except OSError:  # another process finished first: its index is the same
                if not (folder / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def cone(self, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
        """Rows within ``radius_arcsec`` (great-circle), nearest first, with the metadata."""
        check_cone(ra_deg, dec_deg, radius_arcsec)
        dec = self.columns["dec_deg"]
        radius_deg = radius_arcsec / 3600.0
        lo = int(np.searchsorted(dec, dec_deg - radius_deg, side="left"))
        hi = int(np.searchsorted(dec, dec_deg + radius_deg, side="right"))
        ra_band = np.asarray(self.columns["ra_deg"][lo:hi], dtype=float)
        sep = separation_arcsec(ra_deg, dec_deg, ra_band, np.asarray(dec[lo:hi], dtype=float))
        inside = np.flatnonzero(sep <= radius_arcsec)
        rows = lo + inside[np.argsort(sep[inside], kind="stable")]
        return Table(
            {name: np.asarray(column[rows]) for name, column in self.columns.items()},
            meta=dict(self.meta),
        )

    def table(self) -> Table:
        """The whole catalogue (memory-mapped columns, declination order)."""
        return Table(dict(self.columns), meta=dict(self.meta), copy=False)


def _plain(meta: dict[str, Any]) -> dict[str, Any]:
    """Table metadata as JSON values (numpy scalars to Python ones)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in meta.items()}
