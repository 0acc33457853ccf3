"""The TaskRunner API, in the words of Blast's guide (seed 001), with the options of the two
other task frameworks (Triggers' retries, fullctl's limits and qualifiers) as plain attributes.

A transient task subclasses ``TransientTaskRunner``; a periodic job subclasses
``SystemTaskRunner``; both are registered by adding an instance to ``blast_pipeline.tasks.TASK_RUNNERS``.
``blast_pipeline.runners.compile`` turns them into Dagster assets, jobs and schedules.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blast_pipeline.runners.jobs import WORKFLOW_GROUP
from blast_pipeline.statuses import FAILED

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session

    from blast_pipeline.db.models import Transient
    from blast_pipeline.runners.graph import WorkflowGraph
    from blast_pipeline.services import PipelineServices


#: A task's hard limit is its soft limit plus this (Blast: 3600 s soft, 3800 s hard).
HARD_LIMIT_MARGIN_SECONDS = 200.0


@dataclass(frozen=True)
class Retry:
    """Retry a failed run of the task (Triggers' ``retry(cooldown)`` / ``max_retries``).

    ``delay_seconds`` is the cooldown before the first retry; with ``exponential`` it doubles at
    each further attempt.
    """

    max_retries: int = 2
    delay_seconds: float = 5.0
    exponential: bool = True


class MarkdownText(str):
    """A metadata value to show as markdown in the Dagster UI (e.g. an embedded PNG)."""


@dataclass(frozen=True)
class MetadataTable:
    """A metadata value to show as a table in the Dagster UI: column names and rows of plain
    values (str, int, float, bool or None), e.g. the photometry of every filter."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass
class TaskContext:
    """What a running transient task may use: the open database session, the configured data
    sources and file store, a logger, and a place to put metadata shown in the Dagster UI."""

    session: Session
    services: PipelineServices
    log: logging.Logger
    metadata: dict[str, Any] = field(default_factory=dict)

    def add_metadata(self, **values: Any) -> None:
        """Attach values to this task's materialisation (or observation) in the Dagster UI."""
        self.metadata.update(values)


@dataclass
class SystemTaskContext:
    """What a running system task may use: database, data sources, logger, and the Dagster
    instance (run records, partitions) through ``orchestrator``."""

    services: PipelineServices
    log: logging.Logger
    orchestrator: Any
    #: The compiled workflow graph of the registered transient tasks.
    graph: WorkflowGraph | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def add_metadata(self, **values: Any) -> None:
        self.metadata.update(values)


def asset_name_for(task_name: str) -> str:
    """Blast task name -> Dagster asset name: ``"Host match"`` -> ``"host_match"``."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", task_name.strip()).strip("_").lower()
    return name


class _RunnerOptions:
    """Execution options shared by both runner kinds, expressed with Dagster means at compile
    time. Override as class attributes."""

    #: Retry policy for exceptions (None: no retry).
    retry: Retry | None = None
    #: Instance-wide concurrency pool (Blast's TaskLocks, fullctl's limits), e.g. ``"sdss"``.
    pool: str | None = None
    #: Soft time limit in seconds: past it the task stops with "time limit exceeded".
    time_limit_seconds: float | None = 3600.0
    #: True for tasks that write large files (cutouts): they wait for free disk space first.
    writes_files: bool = False
    #: Worker queue (Blast's ``sed`` queue, fullctl's qualifiers): only workers that consume this
    #: queue run the task (the ``dagster-celery/queue`` tag); None = the default queue.
    queue: str | None = None

    @property
    def task_name(self) -> str:  # pragma: no cover - always overridden
        raise NotImplementedError(f"{type(self).__name__} must define task_name")

    @property
    def asset_name(self) -> str:
        return asset_name_for(self.task_name)

    @property
    def hard_limit_seconds(self) -> float | None:
        """Past this the worker is considered hung (Blast: 3600 s soft, 3800 s hard)."""
        if not self.time_limit_seconds:
            return None
        return self.time_limit_seconds + HARD_LIMIT_MARGIN_SECONDS

    @property
    def description(self) -> str:
        doc = (type(self).__doc__ or "").strip()
        return doc or self.task_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task_name={self.task_name!r})"


class TransientTaskRunner(_RunnerOptions, ABC):
    """A task run on one transient; compiled to one asset partitioned by transient."""

    #: The asset group in the Dagster UI (one branch of Blast's workflow: ``transient_images``,
    #: ``transient_host``, ``transient_global``, ``transient_local``), so that the graph's
    #: truncated labels stay apart. It groups the display only; the jobs select every task.
    group: str = WORKFLOW_GROUP

    def _prerequisites(self) -> dict[str, str]:
        """Task name -> the status it must have before this task runs (usually "processed").

        "processed" prerequisites become asset dependencies. As in Blast, an entry for the task
        itself ("not processed") may be present and is ignored.
        """
        return {}

    @abstractmethod
    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        """Do the work for one transient and return a status message (e.g. "processed")."""

    def _failed_status_message(self) -> str:
        """The status recorded when ``_run_process`` raises."""
        return FAILED

    # Public wrappers (Blast's names are "protected"; the compiler uses these).
    def prerequisites(self) -> dict[str, str]:
        return {k: v for k, v in self._prerequisites().items() if k != self.task_name}

    def failed_status_message(self) -> str:
        return self._failed_status_message()

    def _clean(self, session: Session, transient: Transient, data_root: Path) -> None:
        """Remove the rows and files this task owns for the transient (called when the task is
        reset or re-run, so no result outlives its status). Default: nothing."""

    def clean(self, session: Session, transient: Transient, data_root: Path) -> None:
        self._clean(session, transient, data_root)

    def run_process(self, transient: Transient, context: TaskContext) -> str:
        return self._run_process(transient, context)


class SystemTaskRunner(_RunnerOptions, ABC):
    """A periodic housekeeping task; compiled to a job plus a schedule."""

    #: Interval between runs, in seconds (a whole number of minutes that a cron can express).
    task_frequency_seconds: int = 60
    #: Whether the schedule starts enabled.
    task_initially_enabled: bool = True
    time_limit_seconds: float | None = 3600.0

    @abstractmethod
    def run_process(self, context: SystemTaskContext) -> str | None:
        """Do the work; return an optional one-line summary shown in the run's metadata."""

    def disabled_reason(self) -> str | None:
        """Why the schedule must not run now (e.g. missing credentials), or None."""
        return None


TaskRunner = TransientTaskRunner | SystemTaskRunner
