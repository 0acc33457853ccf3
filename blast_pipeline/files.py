"""Where the pipeline's files live under the data root (Blast's layout, local folder)."""

from __future__ import annotations

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


def cropped_cutout_path(data_root: Path, transient_name: str, spec: FilterSpec) -> Path:
    """The crop is its own file; the downloaded original is never overwritten."""
    return transient_dir(data_root, transient_name, "cropped") / spec.survey / f"{spec.name}.fits"


def thumbnail_path(data_root: Path, transient_name: str, label: str) -> Path:
    return transient_dir(data_root, transient_name, "thumbnails") / f"{label}.png"


def relative_to_root(data_root: Path, path: Path) -> str:
    return str(path.resolve().relative_to(data_root.resolve()))
