"""Small runners whose outcome depends on the transient's name, to exercise every path, and the
helpers the runner tests share (adding toy transients, reading their state)."""

from __future__ import annotations

import os
import time

from blast_pipeline.db.task_register import initialise_registers, task_statuses
from blast_pipeline.db.transients import NewTransient, add_transient, get_transient
from blast_pipeline.runners.base import Retry, SystemTaskRunner, TransientTaskRunner
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.statuses import PROCESSED


class ToyDownload(TransientTaskRunner):
    """Pretends to download cutouts."""

    task_name = "Cutout download"
    pool = "toy_service"
    time_limit_seconds = 0.5

    def _run_process(self, transient, context):
        if "slow" in transient.name:
            time.sleep(3)
        context.add_metadata(n_files=3)
        return PROCESSED


class ToyMatch(TransientTaskRunner):
    """Host match that fails, gives up, or succeeds on its second try, depending on the name."""

    task_name = "Host match"
    retry = Retry(max_retries=2, delay_seconds=0.01, exponential=False)

    def _prerequisites(self):
        return {"Host match": "not processed", "Cutout download": "processed"}

    def _run_process(self, transient, context):
        if "boom" in transient.name:
            raise RuntimeError("catalogue exploded")
        if "nohost" in transient.name:
            return "no host match"
        if "flaky" in transient.name:
            marker = context.services.data_root / f"{transient.name}.tried"
            if not marker.exists():
                marker.write_text("1")
                raise ConnectionError("service hiccup")
        transient.redshift = 0.05
        return PROCESSED


class ToyPhotometry(TransientTaskRunner):
    """Downstream of the match, with its own failure status."""

    task_name = "Validate local photometry"
    queue = "sed"

    def _prerequisites(self):
        return {"Host match": "processed"}

    def _failed_status_message(self):
        return "phot valid failed"

    def _run_process(self, transient, context):
        if "badphot" in transient.name:
            raise ValueError("no photometry")
        # which Celery worker ran it (see test_runner_celery)
        context.add_metadata(worker=os.environ.get("BLAST_TEST_WORKER", "in-process"))
        return PROCESSED


class ToyThumbnail(TransientTaskRunner):
    task_name = "Generate thumbnail"

    def _prerequisites(self):
        return {"Cutout download": "processed"}

    def _run_process(self, transient, context):
        return PROCESSED


class ToyCleanup(SystemTaskRunner):
    """Counts transients."""

    task_name = "Garbage collector"
    task_frequency_seconds = 3600
    task_initially_enabled = False

    def run_process(self, context):
        return "cleaned"


class ToyIngest(SystemTaskRunner):
    task_name = "TNS data ingestion"
    task_frequency_seconds = 240

    def run_process(self, context):
        return None


def toy_registry():
    return [ToyDownload(), ToyMatch(), ToyPhotometry(), ToyThumbnail(), ToyCleanup(), ToyIngest()]


TOY_TASKS = WorkflowGraph.from_runners(toy_registry()).task_names


def add_toy_transients(blast, *names: str) -> None:
    """Transients (the name picks each toy runner's outcome) with "not processed" registers."""
    with blast.services().database.session() as session:
        for i, name in enumerate(names):
            transient = add_transient(session, NewTransient(name, 10.0 + i, -5.0))
            initialise_registers(session, transient, TOY_TASKS)


def toy_state(blast, name: str) -> tuple[dict[str, str], int, str]:
    """(task -> status, progress, processing status) of one transient."""
    with blast.services().database.session() as session:
        transient = get_transient(session, name)
        return task_statuses(session, transient), transient.progress, transient.processing_status
