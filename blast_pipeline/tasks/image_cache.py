"""A per-process cache of analysed cutouts, shared by the aperture and photometry tasks.

Aperture construction, global photometry and validation all need the same images with their
background and segmentations (`ImageAnalysis`). A transient's run executes those steps in one
process (Dagster's in-process executor), so each image is read and analysed once per run. The
key is (resolved file path, modification time, size, filter): a re-downloaded file is a new
entry, so a cached result is always the one recomputing would give. The cache is a small LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.correlated_noise import EmptyApertureNoise
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.gain import photon_exposure_s
from blast_pipeline.tasks.fits_storage import image_hdu

#: Images kept (a transient has at most 24 cutouts).
MAX_ENTRIES = 30

_Key = tuple[str, int, int, str]


@dataclass(frozen=True)
class AnalysedImage:
    """One cutout file read from disk and analysed; the arrays are read-only."""

    path: Path
    filter_name: str
    header: fits.Header
    wcs: WCS
    analysis: ImageAnalysis

    @property
    def data(self) -> np.ndarray:
        return self.analysis.data

    @cached_property
    def noise_model(self) -> EmptyApertureNoise:
        """The image's correlated noise, measured with random empty apertures (per radius)."""
        return EmptyApertureNoise(self.analysis)


class ImageAnalysisCache:
    """LRU of `AnalysedImage`, keyed by file identity and filter; safe to share across threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, AnalysedImage] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(path: Path, filter_name: str) -> _Key:
        resolved = Path(path).resolve()
        stat = resolved.stat()  # FileNotFoundError for a missing file: a clear error
        return (str(resolved), stat.st_mtime_ns, stat.st_size, filter_name)

    def get(self, path: Path, filter_name: str) -> AnalysedImage:
        """The analysed image at ``path``; read and analysed on a miss.

        Raises `BackgroundEstimationError` when the image has no usable background, and
        `ValueError` when the file has no 2D image.
        """
        key = self._key(path, filter_name)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        image = _analyse(Path(key[0]), filter_name)
        with self._lock:
            self._entries[key] = image
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return image

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def _analyse(path: Path, filter_name: str) -> AnalysedImage:
    with fits.open(path, memmap=False) as hdul:
        hdu = image_hdu(hdul)
        if np.ndim(hdu.data) != 2:
            raise ValueError(f"{path} has no 2D image")
        data = hdu.data  # ImageAnalysis keeps its own float64 copy: no conversion here
        header = hdu.header.copy()
    wcs = WCS(header).celestial
    analysis = ImageAnalysis(
        data,
        wcs=wcs,
        filter_name=filter_name,
        photon_exposure_s=photon_exposure_s(get_filter(filter_name), header),
    )
    return AnalysedImage(path, filter_name, header, wcs, analysis)


#: The process-wide cache used by the tasks.
IMAGE_CACHE = ImageAnalysisCache()


def analysed_image(data_root: Path, relative_path: str, filter_name: str) -> AnalysedImage:
    """The analysed image of a cutout file given relative to the data root."""
    return IMAGE_CACHE.get(Path(data_root) / relative_path, filter_name)
