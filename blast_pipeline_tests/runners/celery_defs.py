"""Toy workflows on the Celery executor, importable by a Celery worker (see test_runner_celery):
the toy registry, and one whose "Host match" writes a row and a file, then blocks while a
marker file exists (until its worker is killed)."""

from __future__ import annotations

import os
import time

import dagster as dg
from dagster_celery import celery_executor
from sqlalchemy import delete

from blast_pipeline.db.models import Alias
from blast_pipeline.definitions import build_definitions, celery_config_source
from blast_pipeline.resources import BlastResource
from blast_pipeline_tests.runners.toy_runners import (
    ToyDownload,
    ToyMatch,
    ToyPhotometry,
    ToyThumbnail,
    toy_registry,
)

#: In the data root: while it exists, BlockingMatch blocks (after writing "blocked").
BLOCK_MARKER = "block"


class BlockingMatch(ToyMatch):
    """Writes an alias row (uncommitted) and a file, then blocks while the marker exists."""

    def _clean(self, session, transient, data_root):
        session.execute(delete(Alias).where(Alias.transient_id == transient.id))
        (data_root / "aliases" / f"{transient.name}.txt").unlink(missing_ok=True)

    def _run_process(self, transient, context):
        context.session.add(Alias(alias=f"{transient.name}-alias", transient_id=transient.id))
        context.session.flush()
        root = context.services.data_root
        (root / "aliases").mkdir(exist_ok=True)
        (root / "aliases" / f"{transient.name}.txt").write_text("half")
        if (root / BLOCK_MARKER).exists():
            (root / "blocked").write_text(str(os.getpid()))
            while (root / BLOCK_MARKER).exists():
                time.sleep(0.2)
        (root / "aliases" / f"{transient.name}.txt").write_text("whole")
        return super()._run_process(transient, context)


def celery_defs(runners=None) -> dg.Definitions:
    executor = celery_executor.configured(
        {
            "broker": os.environ["BLAST_TEST_CELERY_BROKER"],
            "backend": os.environ["BLAST_TEST_CELERY_BACKEND"],
            "config_source": celery_config_source(),
        }
    )
    blast = BlastResource(home=os.environ["BLAST_TEST_HOME"], sky="none", workflow_batch_size=1)
    return build_definitions(runners or toy_registry(), blast, executor)


def workflow_job() -> dg.JobDefinition:
    return celery_defs().resolve_job_def("transient_workflow")


def blocking_workflow_job() -> dg.JobDefinition:
    runners = [ToyDownload(), BlockingMatch(), ToyPhotometry(), ToyThumbnail()]
    return celery_defs(runners).resolve_job_def("transient_workflow")


if __name__ == "__main__":
    # `python -m blast_pipeline_tests.runners.celery_defs PARTITION [blocking]`: one workflow run
    # on the Celery executor in its own process (a test can wait on it, or kill it)
    import sys

    job = blocking_workflow_job if sys.argv[2:] == ["blocking"] else workflow_job
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(job), instance, tags={"dagster/partition": sys.argv[1]}
        )
    sys.exit(0 if result.success else 1)
