"""Toy workflow on the Celery executor, importable by a Celery worker (see test_runner_celery)."""

from __future__ import annotations

import os

import dagster as dg
from dagster_celery import celery_executor

from blast_pipeline.definitions import build_definitions
from blast_pipeline.resources import BlastResource
from blast_pipeline_tests.runners.toy_runners import toy_registry


def celery_defs() -> dg.Definitions:
    executor = celery_executor.configured(
        {
            "broker": os.environ["BLAST_TEST_CELERY_BROKER"],
            "backend": os.environ["BLAST_TEST_CELERY_BACKEND"],
        }
    )
    blast = BlastResource(home=os.environ["BLAST_TEST_HOME"], sky="none", workflow_batch_size=1)
    return build_definitions(toy_registry(), blast, executor)


def workflow_job() -> dg.JobDefinition:
    return celery_defs().resolve_job_def("transient_workflow")


if __name__ == "__main__":
    # `python -m blast_pipeline_tests.runners.celery_defs PARTITION`: one workflow run of the toy
    # job on the Celery executor, in its own process (a test can wait on it, or kill it)
    import sys

    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(workflow_job), instance, tags={"dagster/partition": sys.argv[1]}
        )
    sys.exit(0 if result.success else 1)
