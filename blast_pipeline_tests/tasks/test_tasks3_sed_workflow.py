"""The four SED tasks in the workflow: Blast's 17 tasks and prerequisites, the `sed` queue and
pool, progress over 17 tasks, and batch runs giving what per-transient runs give."""

from __future__ import annotations

import dagster as dg
import pytest
from sed_world import GRAPH, NAME, make_sed_world
from sqlalchemy import select

from blast_pipeline.db.models import SEDFittingResult
from blast_pipeline.db.task_register import set_status, task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.definitions import build_definitions
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.batch import process_transient_batch
from blast_pipeline.runners.progress import processing_status_and_progress
from blast_pipeline.tasks import TASK_RUNNERS

SED_TASKS = {
    "Global host SED inference": {"Validate global photometry", "Host MWEBV"},
    "Local host SED inference": {"Validate local photometry"},
    "Generate thumbnail SED global": {"Global host SED inference"},
    "Generate thumbnail SED local": {"Local host SED inference"},
}


def test_seventeen_tasks_with_blasts_prerequisites():
    assert len(GRAPH.task_names) == 17
    for task, upstream in SED_TASKS.items():
        assert set(GRAPH.direct_upstream(task)) == upstream
    # Blast's full set for Generate thumbnail SED global (reference 1.2)
    assert GRAPH.upstream["Generate thumbnail SED global"] == {
        "Cutout download",
        "Transient MWEBV",
        "Host match",
        "Host information",
        "Global aperture construction",
        "Global aperture photometry",
        "Validate global photometry",
        "Host MWEBV",
        "Global host SED inference",
    }


def test_sed_steps_go_to_the_sed_queue_and_pool(tmp_path):
    defs = build_definitions(TASK_RUNNERS, BlastResource(home=str(tmp_path), sky="none"))
    job = defs.resolve_job_def("transient_workflow")
    nodes = {n.name: n.definition for n in job.graph.node_dict.values()}
    for asset in ("global_host_sed_inference", "local_host_sed_inference"):
        assert nodes[asset].tags["dagster-celery/queue"] == "sed"
        assert nodes[asset].pool == "sed"
    for asset in ("generate_thumbnail_sed_global", "generate_thumbnail_sed_local"):
        assert "dagster-celery/queue" not in nodes[asset].tags
        assert nodes[asset].pool is None
    deps = defs.resolve_asset_graph().get(dg.AssetKey("global_host_sed_inference")).parent_keys
    assert {k.to_user_string() for k in deps} == {"validate_global_photometry", "host_mwebv"}


def _all(status: str = "processed") -> dict[str, str]:
    return dict.fromkeys(GRAPH.task_names, status)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, (100, "completed")),
        # z beyond the trained range: both fits end in error, their thumbnails can never run
        (
            {
                "Global host SED inference": "redshift too high",
                "Local host SED inference": "redshift too high",
                "Generate thumbnail SED global": "not processed",
                "Generate thumbnail SED local": "not processed",
            },
            (100, "blocked"),
        ),
        # one SED task still to run: 16 of 17 done
        (
            {
                "Local host SED inference": "not processed",
                "Generate thumbnail SED local": "not processed",
            },
            (88, "processing"),
        ),
    ],
)
def test_progress_counts_seventeen_tasks(changes, expected):
    statuses = {**_all(), **changes}
    assert processing_status_and_progress(statuses, GRAPH.upstream) == expected


def test_a_batch_run_gives_what_per_transient_runs_give(tmp_path, database_url):
    per_task = make_sed_world(tmp_path / "a", database_url)
    for task in SED_TASKS:
        assert per_task.run(task).status == "processed"

    batch = make_sed_world(tmp_path / "b", f"sqlite:///{tmp_path / 'b.sqlite'}")
    with batch.services.database.session() as session:
        transient = get_transient(session, NAME)
        for task in GRAPH.task_names:
            if task not in SED_TASKS:
                set_status(session, transient, task, "processed")
    summary = process_transient_batch([NAME], GRAPH.runners, batch.services, GRAPH)
    assert (summary.processed, summary.errors) == (4, 0)

    def stored(world):
        with world.services.database.session() as session:
            statuses = task_statuses(session, get_transient(session, NAME))
            statuses = {task: statuses[task] for task in SED_TASKS}
            rows = session.scalars(select(SEDFittingResult)).all()
            return statuses, {r.aperture_type: (r.log_mass_50, r.log_sfr_50) for r in rows}

    assert stored(per_task) == stored(batch)
