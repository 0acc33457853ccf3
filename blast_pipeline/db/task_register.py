"""The task register: one row per (transient, task) holding its Blast status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Status, Task, TaskRegister, Transient, utcnow
from blast_pipeline.db.reference_rows import ensure_tasks
from blast_pipeline.statuses import NOT_PROCESSED, PROCESSING, status_type


class ClaimLost(RuntimeError):
    """The task's register row no longer holds this attempt's claim (reset while it ran)."""


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
            row.claim = None
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
    row.claim = None
    row.last_modified = utcnow()
    if processing_seconds is not None:
        row.last_processing_time_seconds = round(processing_seconds, 3)
    session.flush()


def claim_task(session: Session, transient: Transient, task_name: str, token: str) -> bool:
    """Atomically move the task from "not processed" to "processing" under ``token``; False when
    it is not "not processed" (another run claimed it, or it already ran), unless it is
    "processing" under this same ``token`` (the step's own earlier delivery died: see
    ``execution.step_claim_token``). One conditional UPDATE: on PostgreSQL the row lock makes a
    concurrent claim wait and then find the row taken; SQLite serialises writers."""
    task = ensure_tasks(session, [task_name])[task_name]
    result = session.execute(
        update(TaskRegister)
        .where(
            TaskRegister.transient_id == transient.id,
            TaskRegister.task_id == task.id,
            or_(
                TaskRegister.status_id == _status_row(session, NOT_PROCESSED).id,
                and_(
                    TaskRegister.status_id == _status_row(session, PROCESSING).id,
                    TaskRegister.claim == token,
                ),
            ),
        )
        .values(status_id=_status_row(session, PROCESSING).id, claim=token, last_modified=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def held_claim(session: Session, transient: Transient, task_name: str) -> str | None:
    """The claim token the task's register row holds (None when nobody runs it)."""
    task = ensure_tasks(session, [task_name])[task_name]
    return session.scalar(
        select(TaskRegister.claim).where(
            TaskRegister.transient_id == transient.id, TaskRegister.task_id == task.id
        )
    )


def finish_task(
    session: Session,
    transient: Transient,
    task_name: str,
    token: str,
    message: str,
    processing_seconds: float,
) -> None:
    """Record the status of the attempt holding ``token``; raises ``ClaimLost`` when the row was
    reset meanwhile (the caller rolls its work back)."""
    task = ensure_tasks(session, [task_name])[task_name]
    result = session.execute(
        update(TaskRegister)
        .where(
            TaskRegister.transient_id == transient.id,
            TaskRegister.task_id == task.id,
            TaskRegister.claim == token,
        )
        .values(
            status_id=_status_row(session, message).id,
            claim=None,
            last_modified=utcnow(),
            last_processing_time_seconds=round(processing_seconds, 3),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ClaimLost(f"{task_name} on {transient.name}: reset while it ran; result discarded")


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
