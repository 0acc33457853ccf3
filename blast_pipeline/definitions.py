"""The Dagster code location: ``defs`` built from the task-runner registry."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from blast_pipeline.resources import BlastResource, blast_resource_from_env
from blast_pipeline.runners.compile import compile_runners
from blast_pipeline.sensors import build_new_transients_sensor
from blast_pipeline.tasks import TASK_RUNNERS


def build_definitions(
    runners: Sequence[object], blast: BlastResource | None = None
) -> dg.Definitions:
    """Definitions for a list of task runners (the registry, or a test's own list)."""
    graph, assets, jobs, schedules = compile_runners(runners)
    sensors = [build_new_transients_sensor(graph, jobs[:2])] if assets else []
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={"blast": blast or blast_resource_from_env()},
    )


defs = build_definitions(TASK_RUNNERS)
