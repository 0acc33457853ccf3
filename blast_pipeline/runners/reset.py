"""Resetting tasks for a re-run: the one place every path goes through (CLI reprocess and
retrigger, the periodic retrigger, TNS redshift changes, manual materialisation).

Blast's rules (reference 3.3): the periodic retrigger resets "processing" tasks only, the
manual retrigger also those that ended in an error status, reprocess resets everything (or one
task and everything downstream of it). A reset task first loses the rows and files it owns
(``TransientTaskRunner.clean``, downstream tasks first), so no result outlives its status, and
the transient's progress is recomputed at once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from blast_pipeline.db.models import Transient
from blast_pipeline.db.task_register import (
    initialise_registers,
    reset_tasks,
    statuses_with_defaults,
    task_statuses,
)
from blast_pipeline.db.workflow_requests import request_workflow
from blast_pipeline.runners.execution import refresh_progress
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.statuses import PROCESSING, is_error

#: "periodic": stalled ("processing") tasks; "manual": also error statuses; "all": everything.
ResetScope = Literal["periodic", "manual", "all"]


def tasks_to_reset(
    graph: WorkflowGraph,
    statuses: Mapping[str, str],
    scope: ResetScope,
    from_task: str | None = None,
) -> list[str]:
    """The tasks a reset of ``scope`` (or from ``from_task`` on) puts back to "not processed",
    in dependency order (pure)."""
    if from_task is not None:
        return list(graph.downstream_of(from_task))
    if scope == "all":
        return list(graph.task_names)
    if scope == "manual":
        return [t for t in graph.task_names if statuses[t] == PROCESSING or is_error(statuses[t])]
    return [t for t in graph.task_names if statuses[t] == PROCESSING]


def reset_and_request(
    session: Session,
    graph: WorkflowGraph,
    transient: Transient,
    data_root: Path,
    scope: ResetScope = "periodic",
    from_task: str | None = None,
    tasks: Collection[str] | None = None,
    request: bool = True,
) -> list[str]:
    """Reset the tasks of ``scope`` (or ``tasks``), remove what they own, recompute progress and
    (with ``request``) ask the sensor for a run. Returns the tasks reset."""
    initialise_registers(session, transient, graph.task_names)
    if tasks is None:
        statuses = statuses_with_defaults(task_statuses(session, transient), graph.task_names)
        tasks = tasks_to_reset(graph, statuses, scope, from_task)
    ordered = [t for t in graph.task_names if t in set(tasks)]
    for task in reversed(ordered):
        graph.runner(task).clean(session, transient, data_root)
    reset_tasks(session, transient, ordered)
    refresh_progress(session, transient, graph)
    if request:
        request_workflow(transient)
    return ordered
