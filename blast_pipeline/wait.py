"""Waiting for transients to finish (fullctl's ``task.wait(timeout)``), for scripts and the CLI.

```python
from blast_pipeline.wait import wait_for
outcome = wait_for(["2024abc", "2024abd"], timeout=600)
outcome.ok          # all at 100 % and none blocked by an error
outcome.states      # name -> TransientState(progress, processing_status)
```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Transient
from blast_pipeline.db.transients import TransientNotFound
from blast_pipeline.services import PipelineServices

#: How often the database is read while waiting, seconds.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class TransientState:
    progress: int
    processing_status: str

    @property
    def finished(self) -> bool:
        return self.progress >= 100


@dataclass(frozen=True)
class WaitOutcome:
    states: dict[str, TransientState]
    timed_out: bool

    @property
    def blocked(self) -> list[str]:
        return [n for n, s in self.states.items() if s.processing_status == "blocked"]

    @property
    def ok(self) -> bool:
        """Every transient finished, none blocked by an error."""
        return not self.timed_out and not self.blocked

    def report(self) -> str:
        lines = [f"{n}: {s.progress}% {s.processing_status}" for n, s in self.states.items()]
        if self.timed_out:
            waiting = [n for n, s in self.states.items() if not s.finished]
            lines.append(f"timed out waiting for {len(waiting)}: {', '.join(waiting)}")
        return "\n".join(lines)


def current_states(session: Session, names: Iterable[str]) -> dict[str, TransientState]:
    """Progress and status of each name (``TransientNotFound`` for a name not stored)."""
    wanted = list(dict.fromkeys(names))
    rows = {
        name: TransientState(progress, status)
        for name, progress, status in session.execute(
            select(Transient.name, Transient.progress, Transient.processing_status).where(
                Transient.name.in_(wanted)
            )
        )
    }
    missing = [n for n in wanted if n not in rows]
    if missing:
        raise TransientNotFound(f"no transient named {', '.join(map(repr, missing))} is stored")
    return {n: rows[n] for n in wanted}


def wait_for(
    names: Iterable[str],
    timeout: float | None = None,
    *,
    services: PipelineServices | None = None,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Block until every transient reaches 100 % or ``timeout`` seconds pass (None: forever).

    Something else must run the workflows: the daemon (``make dev``) or ``blast-pipeline
    process``. ``services`` defaults to the ``BLAST_*`` environment.
    """
    if services is None:
        from blast_pipeline.resources import blast_resource_from_env

        services = blast_resource_from_env(resolve=True).services()
    names = list(names)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with services.database.session() as session:
            states = current_states(session, names)
        if all(s.finished for s in states.values()):
            return WaitOutcome(states, timed_out=False)
        if deadline is not None and time.monotonic() >= deadline:
            return WaitOutcome(states, timed_out=True)
        pause = poll_seconds
        if deadline is not None:
            pause = max(0.0, min(pause, deadline - time.monotonic()))
        sleep(pause)
