"""Garbage collector (Blast's ``garbage_collector``), every 3600 s, off by default.

Blast removed local scratch copies (``CUTOUT_ROOT``/``SED_OUTPUT_ROOT``); here results are
written straight to their final place, so the collector removes what the pipeline really
leaves behind:

* **orphans**: ``<data_root>/<kind>/<transient>`` folders (``cutouts``, ``cropped``,
  ``thumbnails``) of transients that are no longer in the database and have no run in flight;
* **leftovers of killed tasks** in the folders of finished, idle transients: temporary files of
  an interrupted atomic write (``.<name>.<pid>.tmp``) and thumbnail previews (``*.preview.png``)
  that a task deletes when it finishes normally.

Results of transients in the database are never touched; a transient is idle when it is
finished ("completed"/"blocked") and not busy (``system.runs``). Symbolic links are unlinked,
never followed; names that are not valid transient names are left alone.
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

#: Per-transient folders under the data root.
TRANSIENT_KINDS: tuple[str, ...] = ("cutouts", "cropped", "thumbnails")
#: File name patterns a task leaves only when it is killed.
LEFTOVER_PATTERNS: tuple[str, ...] = (".*.tmp", "*.preview.png")
FINISHED_STATUSES = frozenset({COMPLETED, BLOCKED})


def _valid(name: str) -> bool:
    try:
        validate_transient_name(name)
    except (InvalidTransientName, ValueError):
        return False
    return True


def classify_folders(
    dir_names: Collection[str],
    transients: Mapping[str, tuple[str, datetime | None]],
    in_flight: Collection[str],
    now: datetime,
) -> tuple[list[str], list[str]]:
    """(orphans to remove, idle transients to sweep for leftovers) among folder names (pure).
    ``transients``: name -> (processing_status, workflow_requested_at) of those in the
    database."""
    orphans, idle = [], []
    for name in sorted(dir_names):
        if not _valid(name) or name in in_flight:
            continue
        if name not in transients:
            orphans.append(name)
            continue
        status, requested_at = transients[name]
        if status in FINISHED_STATUSES and not is_busy(name, requested_at, in_flight, now):
            idle.append(name)
    return orphans, idle


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def remove_entry(path: Path) -> int:
    """Remove a file or folder (a link is unlinked, not followed); returns bytes freed."""
    size = _size(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)
    return size


def leftovers(folder: Path) -> list[Path]:
    """Files in ``folder`` that only a killed task leaves (never followed through links)."""
    if folder.is_symlink():
        return []
    found = []
    for pattern in LEFTOVER_PATTERNS:
        found.extend(p for p in folder.rglob(pattern) if p.is_file() or p.is_symlink())
    return sorted(found)


class GarbageCollector(SystemTaskRunner):
    """Remove folders of transients no longer in the database and files left by killed tasks
    (never the results of a transient in the database, never a running one)."""

    task_name = "Garbage collector"
    task_frequency_seconds = 3600
    task_initially_enabled = False
    time_limit_seconds = 1800.0

    def run_process(self, context: SystemTaskContext) -> str | None:
        in_flight = transients_with_runs_in_flight(context.orchestrator)
        now = utcnow()
        data_root = context.services.data_root
        listed: dict[str, list[str]] = {}
        for kind in TRANSIENT_KINDS:
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
            orphans, idle = classify_folders(dirs, transients, in_flight, now)
            targets = [data_root / kind / n for n in orphans]
            for name in idle:
                targets.extend(leftovers(data_root / kind / name))
            for path in targets:
                try:
                    freed += remove_entry(path)
                except OSError as exc:
                    context.log.warning(f"could not remove {path}: {exc}")
                    continue
                removed.append(str(path.relative_to(data_root)))
        context.add_metadata(removed=len(removed), bytes_freed=freed, paths=", ".join(removed[:50]))
        return f"{len(removed)} orphaned folder(s) or leftover file(s) removed ({freed} bytes)"
