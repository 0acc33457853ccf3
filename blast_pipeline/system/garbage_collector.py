"""Garbage collector (Blast's ``garbage_collector``), every 3600 s, off by default.

Removes per-transient scratch folders ``<data_root>/<kind>/<transient>`` for each ``kind`` in
``SCRATCH_KINDS`` (today only ``scratch``: Blast's local ``CUTOUT_ROOT``/``SED_OUTPUT_ROOT``
copies have no equivalent here, results are written straight to their final place; a task that
writes scratch files elsewhere adds its folder to ``SCRATCH_KINDS``).

A folder is removed only when its transient is finished (``processing_status`` "completed" or
"blocked") or no longer in the database, and is not busy (no unfinished Dagster run with its
partition tag, not waiting for the sensor, not launched in the last few minutes; see
``system.runs``). Results are never touched: ``RESULT_KINDS`` (cutouts, crops, thumbnails)
are not scratch. Symbolic links are unlinked, never followed; names that are not valid
transient names are left alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from blast_pipeline.db.models import Transient, utcnow
from blast_pipeline.names import InvalidTransientName, validate_transient_name
from blast_pipeline.runners.base import SystemTaskContext, SystemTaskRunner
from blast_pipeline.runners.progress import BLOCKED, COMPLETED
from blast_pipeline.system.runs import is_busy, transients_with_runs_in_flight

#: Folders under the data root holding per-transient scratch files (removable when finished).
SCRATCH_KINDS: tuple[str, ...] = ("scratch",)
#: Folders holding results: never removed.
RESULT_KINDS: tuple[str, ...] = ("cutouts", "cropped", "thumbnails")
FINISHED_STATUSES = frozenset({COMPLETED, BLOCKED})

assert not set(SCRATCH_KINDS) & set(RESULT_KINDS)


def removable_scratch(
    dir_names: Collection[str],
    transients: Mapping[str, tuple[str, datetime | None]],
    in_flight: Collection[str],
    now: datetime,
) -> list[str]:
    """Scratch folder names that may go (pure). ``transients``: name -> (processing_status,
    workflow_requested_at) of those in the database."""
    removable: list[str] = []
    for name in sorted(dir_names):
        try:
            validate_transient_name(name)
        except (InvalidTransientName, ValueError):
            continue
        if name in in_flight:
            continue
        if name in transients:
            status, requested_at = transients[name]
            if status not in FINISHED_STATUSES or is_busy(name, requested_at, in_flight, now):
                continue
        removable.append(name)
    return removable


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def remove_entry(path: Path) -> int:
    """Remove a scratch folder (a link is unlinked, not followed); returns bytes freed."""
    size = _size(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)
    return size


class GarbageCollector(SystemTaskRunner):
    """Remove scratch files of finished transients (never results, never a running one)."""

    task_name = "Garbage collector"
    task_frequency_seconds = 3600
    task_initially_enabled = False
    time_limit_seconds = 1800.0

    def run_process(self, context: SystemTaskContext) -> str | None:
        in_flight = transients_with_runs_in_flight(context.orchestrator)
        now = utcnow()
        data_root = context.services.data_root
        listed: dict[str, list[str]] = {}
        for kind in SCRATCH_KINDS:
            root = data_root / kind
            if root.is_dir() and not root.is_symlink():
                listed[kind] = [p.name for p in root.iterdir() if p.is_dir() or p.is_symlink()]
        names = sorted({n for dirs in listed.values() for n in dirs})
        transients: dict[str, tuple[str, datetime | None]] = {}
        with context.services.database.session() as session:
            for start in range(0, len(names), 500):
                rows = session.execute(
                    select(
                        Transient.name, Transient.processing_status, Transient.workflow_requested_at
                    ).where(Transient.name.in_(names[start : start + 500]))
                )
                transients.update({n: (s, r) for n, s, r in rows})
        removed: list[str] = []
        freed = 0
        for kind, dirs in listed.items():
            for name in removable_scratch(dirs, transients, in_flight, now):
                try:
                    freed += remove_entry(data_root / kind / name)
                except OSError as exc:
                    context.log.warning(f"could not remove {kind}/{name}: {exc}")
                    continue
                removed.append(f"{kind}/{name}")
        kept = sum(len(d) for d in listed.values()) - len(removed)
        context.add_metadata(
            removed=len(removed), kept=kept, bytes_freed=freed, folders=", ".join(removed[:50])
        )
        return f"{len(removed)} scratch folder(s) removed ({freed} bytes), {kept} kept"
