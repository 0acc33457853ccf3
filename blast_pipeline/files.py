"""Where the pipeline's files live under the data root (Blast's layout, local folder)."""

from __future__ import annotations

import re
from pathlib import Path

from blast_pipeline.names import validate_transient_name
from blast_pipeline.science.filters import FilterSpec


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ValueError(f"{path} is outside the data root {root}")
    return resolved


def transient_dir(data_root: Path, transient_name: str, kind: str = "cutouts") -> Path:
    """``<data_root>/<kind>/<transient>``; the name is validated again here, so no path built
    from a transient name can leave the data root."""
    validate_transient_name(transient_name)
    return _inside(data_root, data_root / kind / transient_name)


def cutout_path(data_root: Path, transient_name: str, spec: FilterSpec) -> Path:
    """Blast's canonical ``cutouts/<transient>/<survey>/<filter>.fits``."""
    return transient_dir(data_root, transient_name) / spec.survey / f"{spec.name}.fits"


#: CFITSIO's extended file name for an image section, ``file.fits[hdu][x1:x2,y1:y2]`` (1-based,
#: inclusive, x first): what ``Cutout.cropped_path`` holds for a crop (a view of the cutout).
_IMAGE_SECTION = re.compile(
    r"^(?P<path>.+)\[(?P<hdu>\d+)\]\[(?P<x1>\d+):(?P<x2>\d+),(?P<y1>\d+):(?P<y2>\d+)\]$"
)


def image_section(relative: str, hdu_index: int, box: tuple[slice, slice]) -> str:
    """``relative`` (a FITS file under the data root) with the (rows, columns) ``box`` of HDU
    ``hdu_index`` as a CFITSIO image section: CFITSIO tools (ds9, fitsio, funpack) open it as
    the cropped image."""
    rows, columns = box
    return (
        f"{relative}[{hdu_index}][{columns.start + 1}:{columns.stop},{rows.start + 1}:{rows.stop}]"
    )


def parse_image_section(text: str) -> tuple[str, int, tuple[slice, slice]] | None:
    """(file, HDU index, (rows, columns)) of an ``image_section``; None for a plain path (a
    crop written as its own file by an earlier version, or imported)."""
    match = _IMAGE_SECTION.match(text)
    if match is None:
        return None
    g = {k: int(v) for k, v in match.groupdict().items() if k != "path"}
    box = (slice(g["y1"] - 1, g["y2"]), slice(g["x1"] - 1, g["x2"]))
    return match["path"], g["hdu"], box


def separate_crop_file(cropped_path: str | None) -> str | None:
    """The crop's own file (written by an earlier version, or imported), or None when there
    is no crop or it is a view of the cutout (nothing to delete or archive beside the cutout)."""
    if cropped_path is None or parse_image_section(cropped_path) is not None:
        return None
    return cropped_path


def thumbnail_path(data_root: Path, transient_name: str, label: str) -> Path:
    return transient_dir(data_root, transient_name, "thumbnails") / f"{label}.png"


def relative_to_root(data_root: Path, path: Path) -> str:
    return str(path.resolve().relative_to(data_root.resolve()))
