"""The simulated sky's files: atomic writes and the manifest that pins a root to its sky.

Every file is written through a temporary sibling and a rename, so another process reading
the root never sees half a file. ``manifest.json`` records the seed and field size a root was
generated with, and how many transients it holds.
"""

from __future__ import annotations

import json
from pathlib import Path

from astropy.table import Table

from blast_pipeline.atomic import replace_atomically

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


def write_text_atomically(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` through a temporary file and a rename."""
    replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_ecsv_atomically(path: Path, table: Table) -> None:
    """Write ``table`` as ECSV to ``path`` through a temporary file and a rename."""
    replace_atomically(
        path, lambda temporary: table.write(temporary, format="ascii.ecsv", overwrite=True)
    )


def read_manifest(path: Path) -> dict | None:
    """The manifest at ``path``, ``None`` if there is none yet; ``ValueError`` if unusable."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the sky manifest {path}: {error}") from None
    missing = {"seed", "fov_arcsec", "n_generated"} - set(manifest)
    if missing:
        raise ValueError(f"sky manifest {path} lacks {sorted(missing)}")
    return manifest


def write_manifest(path: Path, seed: int, fov_arcsec: float, n_generated: int) -> None:
    """Record the sky's seed, field size and number of transients generated."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "fov_arcsec": fov_arcsec,
        "n_generated": n_generated,
    }
    write_text_atomically(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def open_manifest(path: Path, seed: int, fov_arcsec: float) -> None:
    """Start the manifest of a new sky, or check that the existing one is this sky's: reopening
    a root with another seed or field size would mix two universes."""
    manifest = read_manifest(path)
    if manifest is None:
        write_manifest(path, seed, fov_arcsec, 0)
        return
    root = path.parent
    if manifest["seed"] != seed:
        raise ValueError(
            f"the simulated sky in {root} was generated with seed {manifest['seed']}, "
            f"but seed {seed} was requested; use another root or seed {manifest['seed']}"
        )
    if manifest["fov_arcsec"] != fov_arcsec:
        raise ValueError(
            f"the simulated sky in {root} was generated with fov_arcsec "
            f"{manifest['fov_arcsec']}, but fov_arcsec {fov_arcsec} was requested"
        )
