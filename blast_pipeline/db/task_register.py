"""The task register: one row per (transient, task) holding its Blast status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Status, Task, TaskRegister, Transient, utcnow
from blast_pipeline.db.reference_rows import ensure_tasks
from blast_pipeline.statuses import NOT_PROCESSED, status_type


def _status_row(session: Session, message: str) -> Status:
    status_type(message)  # unknown messages fail with a clear error
    row = session.scalar(select(Status).where(Status.message == message))
    if row is None:
        raise LookupError(f"status {message!r} is missing from the database; run the migrations")
    return row


def initialise_registers(
    session: Session, transient: Transient, task_names: Iterable[str], reset: bool = False
) -> None:
    """Make sure every task has a register row; with ``reset``, set them all to "not processed"."""
    names = list(task_names)
    tasks = ensure_tasks(session, names)
    not_processed = _status_row(session, NOT_PROCESSED)
    existing = {
        r.task.name: r
        for r in session.scalars(
            select(TaskRegister).where(TaskRegister.transient_id == transient.id)
        )
    }
    for name in names:
        row = existing.get(name)
        if row is None:
            session.add(
                TaskRegister(transient_id=transient.id, task=tasks[name], status=not_processed)
            )
        elif reset:
            row.status = not_processed
            row.last_modified = utcnow()
    session.flush()


def set_status(
    session: Session,
    transient: Transient,
    task_name: str,
    message: str,
    processing_seconds: float | None = None,
) -> None:
    """Record a task's status (creating its register row if needed)."""
    status = _status_row(session, message)
    task = ensure_tasks(session, [task_name])[task_name]
    row = session.scalar(
        select(TaskRegister).where(
            TaskRegister.transient_id == transient.id, TaskRegister.task_id == task.id
        )
    )
    if row is None:
        row = TaskRegister(transient_id=transient.id, task=task)
        session.add(row)
    row.status = status
    row.last_modified = utcnow()
    if processing_seconds is not None:
        row.last_processing_time_seconds = round(processing_seconds, 3)
    session.flush()


def task_statuses(session: Session, transient: Transient) -> dict[str, str]:
    """Task name -> status message for one transient."""
    rows = session.execute(
        select(Task.name, Status.message)
        .join(TaskRegister, TaskRegister.task_id == Task.id)
        .join(Status, TaskRegister.status_id == Status.id)
        .where(TaskRegister.transient_id == transient.id)
    )
    return {name: message for name, message in rows}


def reset_tasks(session: Session, transient: Transient, task_names: Iterable[str]) -> None:
    """Set the given tasks back to "not processed" (for reprocessing from a task)."""
    for name in task_names:
        set_status(session, transient, name, NOT_PROCESSED)


def statuses_with_defaults(
    statuses: Mapping[str, str], task_names: Iterable[str]
) -> dict[str, str]:
    """Statuses for exactly ``task_names``; tasks without a register row are "not processed"."""
    return {name: statuses.get(name, NOT_PROCESSED) for name in task_names}
