"""The Dagster code location: ``defs`` built from the task-runner registry."""

from __future__ import annotations

import os
from collections.abc import Sequence

import dagster as dg

from blast_pipeline.resources import BlastResource, blast_resource_from_env
from blast_pipeline.runners.compile import compile_runners
from blast_pipeline.sed_model_assets import SED_MODEL_ASSETS
from blast_pipeline.sensors import build_new_transients_sensor
from blast_pipeline.tasks import TASK_RUNNERS

#: Seconds an unacknowledged Celery message stays with its worker on Redis before the broker
#: hands it to another worker. Above Blast's hard limit (3800 s): a task still running is never
#: delivered twice. RabbitMQ redelivers as soon as the dead worker's connection drops.
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 4000


def celery_config_source(environ=os.environ) -> dict:
    """Celery settings of the run processes and the workers (``deploy/celery.yaml`` repeats
    them): acknowledge a step only when it has finished, and give it back to the broker when
    its worker process dies (SIGKILL, OOM), so another worker runs it; the step re-claims its
    task (``execution.step_claim_token``)."""
    raw = environ.get("BLAST_CELERY_VISIBILITY_TIMEOUT_SECONDS", "").strip()
    if raw and not raw.isdigit():
        raise ValueError(
            f"BLAST_CELERY_VISIBILITY_TIMEOUT_SECONDS must be whole seconds, got {raw!r}"
        )
    from dagster_celery.defaults import broker_transport_options

    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "broker_transport_options": {
            **broker_transport_options,
            "visibility_timeout": int(raw or DEFAULT_VISIBILITY_TIMEOUT_SECONDS),
            # look for expired unacknowledged messages every 10 s (kombu's default: ~100 s)
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        },
    }


def executor_from_env(environ=os.environ) -> dg.ExecutorDefinition:
    """``BLAST_EXECUTOR``: ``in_process`` (default; every step of a run in one process) or
    ``celery`` (steps on Celery workers, broker ``BLAST_CELERY_BROKER``, result backend
    ``BLAST_CELERY_BACKEND``; steps tagged with a queue go only to workers of that queue)."""
    kind = environ.get("BLAST_EXECUTOR", "in_process")
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "celery":
        from dagster_celery import celery_executor

        config = {
            "include": ["blast_pipeline.definitions"],
            "config_source": celery_config_source(environ),
        }
        for key, variable in (
            ("broker", "BLAST_CELERY_BROKER"),
            ("backend", "BLAST_CELERY_BACKEND"),
        ):
            if environ.get(variable):
                config[key] = {"env": variable}
        return celery_executor.configured(config, name="celery")
    raise ValueError(f"BLAST_EXECUTOR={kind!r}: expected 'in_process' or 'celery'")


def build_definitions(
    runners: Sequence[object],
    blast: BlastResource | None = None,
    executor: dg.ExecutorDefinition | None = None,
    extra_assets: Sequence[dg.AssetsDefinition] = (),
) -> dg.Definitions:
    """Definitions for a list of task runners (the registry, or a test's own list)."""
    executor = executor or executor_from_env()
    graph, assets, jobs, schedules = compile_runners(runners, executor)
    sensors = [build_new_transients_sensor(graph, jobs[:2])] if assets else []
    return dg.Definitions(
        assets=[*assets, *extra_assets],
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={"blast": blast or blast_resource_from_env()},
        # also for `dagster asset materialize` and UI materialisations outside the jobs
        executor=executor,
    )


defs = build_definitions(TASK_RUNNERS, extra_assets=SED_MODEL_ASSETS)
