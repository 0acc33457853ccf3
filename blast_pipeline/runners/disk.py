"""Disk as a resource: free space under the data root, checked before new work writes files.

Blast waits for ``JOB_SCRATCH_FREE_SPACE`` (5 GiB) before it downloads (reference section 2);
here the sensor skips its tick with a reason naming the free space, and a task that writes
large files (``writes_files``, the cutout download) waits for space before it starts, so the
pipeline pauses instead of filling the disk and resumes by itself when space returns.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ENV_MIN_FREE_GB = "BLAST_MIN_FREE_DISK_GB"
DEFAULT_MIN_FREE_GB = 5.0
#: How long a task waits for space before it fails (the sensor stops new work meanwhile).
WAIT_SECONDS = 600.0
POLL_SECONDS = 10.0


class InsufficientDiskSpace(RuntimeError):
    """Too little free space under the data root to start writing."""


def min_free_bytes(environ: Mapping[str, str] = os.environ) -> int:
    raw = (environ.get(ENV_MIN_FREE_GB) or "").strip()
    if not raw:
        return int(DEFAULT_MIN_FREE_GB * 2**30)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_MIN_FREE_GB} must be a number of GiB, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_MIN_FREE_GB} must be >= 0, got {raw!r}")
    return int(value * 2**30)


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def low_space_reason(data_root: Path, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why new work must wait (free space below the threshold), else None."""
    free, needed = free_bytes(data_root), min_free_bytes(environ)
    if free >= needed:
        return None
    return (
        f"only {free / 2**30:.2f} GiB free under {data_root} (below {ENV_MIN_FREE_GB}="
        f"{needed / 2**30:.2f} GiB); new work waits until space returns"
    )


def wait_for_free_space(
    data_root: Path,
    wait_seconds: float = WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] | None = None,
) -> None:
    """Return once there is enough space; ``InsufficientDiskSpace`` after ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    while True:
        reason = low_space_reason(data_root)
        if reason is None:
            return
        if time.monotonic() >= deadline:
            raise InsufficientDiskSpace(reason)
        if log is not None:
            log(reason)
        sleep(POLL_SECONDS)
