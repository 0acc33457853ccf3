"""Transients added by hand (a form, a CSV, TNS) at positions the sky did not draw.

Such a transient gets a field of its own, seeded by the sky's seed and its position
(``population.build_field_at``). Its position is kept in ``<folder>/<J-name>.json`` so every
process sharing the sky's root sees the field; the field itself is rebuilt on demand.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from blast_pipeline.sources.sky.population import Field, build_field_at, transient_name
from blast_pipeline.sources.sky.positions import angular_separation_deg
from blast_pipeline.sources.sky.storage import write_text_atomically

#: A transient registered within this distance (arcsec) of a field's transient is that field's.
SAME_POSITION_ARCSEC = 1.0


def own_field_at(
    seed: int, ra_deg: float, dec_deg: float, centres: tuple[np.ndarray, np.ndarray]
) -> str | None:
    """Name of the sky's own transient within ``SAME_POSITION_ARCSEC``, if any.

    ``centres`` are the (RA, Dec) arrays of the sky's transients, in index order.
    """
    ra, dec = centres
    if len(ra):
        separation = 3600.0 * angular_separation_deg(ra_deg, dec_deg, ra, dec)
        nearest = int(np.argmin(separation))
        if separation[nearest] <= SAME_POSITION_ARCSEC:
            return transient_name(seed, nearest)
    return None


class RegisteredFields:
    """The position-seeded fields of one sky: their folder, its cache and an LRU of fields."""

    def __init__(self, folder: Path, seed: int, fov_arcsec: float, max_cached: int) -> None:
        self.folder = folder
        self._seed = seed
        self._fov_arcsec = fov_arcsec
        self._max_cached = max_cached
        self._lock = threading.RLock()
        self._positions: dict[str, tuple[float, float]] = {}
        self._positions_stamp: int | None = None
        self._fields: OrderedDict[str, Field] = OrderedDict()

    def add(self, field: Field, ra_deg: float, dec_deg: float) -> None:
        """Record ``field``, built at this position, on disk and in memory."""
        label = field.transient.name
        self.folder.mkdir(exist_ok=True)
        record = {"ra_deg": float(ra_deg), "dec_deg": float(dec_deg)}
        write_text_atomically(self.folder / f"{label}.json", json.dumps(record) + "\n")
        with self._lock:
            self._positions[label] = (float(ra_deg), float(dec_deg))
            self._remember(label, field)

    def fields_near(self, ra_deg: float, dec_deg: float, reach_deg: float) -> list[Field]:
        """The fields whose transient lies within ``reach_deg``, in J-name order."""
        positions = self._registered_positions()
        if not positions:
            return []
        labels = sorted(positions)
        ra = np.array([positions[k][0] for k in labels])
        dec = np.array([positions[k][1] for k in labels])
        separation = angular_separation_deg(ra_deg, dec_deg, ra, dec)
        return [
            self._field(labels[i], ra[i], dec[i]) for i in np.flatnonzero(separation <= reach_deg)
        ]

    def _registered_positions(self) -> dict[str, tuple[float, float]]:
        """J-name -> position of every field (re-read when the folder changes: other processes
        register transients too)."""
        try:
            stamp = self.folder.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            if stamp != self._positions_stamp:
                for path in self.folder.glob("*.json"):
                    if path.stem not in self._positions:
                        record = json.loads(path.read_text(encoding="utf-8"))
                        self._positions[path.stem] = (record["ra_deg"], record["dec_deg"])
                self._positions_stamp = stamp
            return dict(self._positions)

    def _field(self, label: str, ra_deg: float, dec_deg: float) -> Field:
        with self._lock:
            if label in self._fields:
                self._fields.move_to_end(label)
                return self._fields[label]
        field = build_field_at(self._seed, ra_deg, dec_deg, self._fov_arcsec)
        with self._lock:
            self._remember(label, field)
        return field

    def _remember(self, label: str, field: Field) -> None:
        self._fields[label] = field
        while len(self._fields) > self._max_cached:
            self._fields.popitem(last=False)
