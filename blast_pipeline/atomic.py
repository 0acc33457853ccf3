"""Atomic file replacement: write a temporary sibling, then rename it over the target.

A reader in another process never sees half a file, and a write that fails leaves the
previous file (if any) in place and no temporary behind. The temporary is private to the
process and thread, and keeps the target's suffix, so writers that choose a format by suffix
(``numpy.savez``, astropy) write the same format.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["replace_atomically", "temporary_sibling"]


def temporary_sibling(path: Path) -> Path:
    """A hidden sibling of ``path`` for this process and thread, with ``path``'s suffix."""
    tag = f"{os.getpid()}.{threading.get_ident()}"
    return path.with_name(f".{path.stem}.{tag}.tmp{path.suffix}")


def replace_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary sibling of ``path`` (its folder created), then rename it
    over ``path``; the temporary is removed if ``write`` fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
