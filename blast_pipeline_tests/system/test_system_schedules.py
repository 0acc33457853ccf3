"""Each system task's schedule (interval, default status), and the ``tns`` pool that keeps two
ingestions from talking to TNS at once, shown on two real processes sharing one instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from blast_pipeline.runners.pools import POOL_LIMITS, apply_pool_limits
from blast_pipeline_tests.sources.fake_tns import make_tns_object_reply

EXPECTED = {
    # job/schedule prefix: (cron, default status, Blast's seconds)
    "tns_data_ingestion": ("*/4 * * * *", "RUNNING", 240),
    "ingest_missed_tns_transients": ("0 0 * * *", "STOPPED", 86400),
    "retrigger_incomplete_workflows": ("*/2 * * * *", "RUNNING", 120),
    "garbage_collector": ("0 * * * *", "STOPPED", 3600),
    "partition_retention": ("0 0 * * *", "RUNNING", 86400),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schedule_interval_and_default_status(defs, name):
    cron, status, seconds = EXPECTED[name]
    schedule = defs.resolve_schedule_def(f"{name}_schedule")
    assert schedule.cron_schedule == cron
    assert schedule.default_status == dg.DefaultScheduleStatus[status]
    assert schedule.tags["blast/frequency_seconds"] == str(seconds)
    job = defs.resolve_job_def(f"{name}_job")
    assert job.tags["blast/kind"] == "system" and int(job.tags["dagster/max_runtime"]) > 0


def test_tns_jobs_share_the_single_slot_tns_pool(defs):
    assert POOL_LIMITS["tns"] == 1
    for name in ("tns_data_ingestion", "ingest_missed_tns_transients"):
        (node,) = defs.resolve_job_def(f"{name}_job").graph.node_dict.values()
        assert node.definition.pool == "tns"
    (node,) = defs.resolve_job_def("retrigger_incomplete_workflows_job").graph.node_dict.values()
    assert node.definition.pool is None


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import dagster as dg
    from blast_pipeline.definitions import defs
    from blast_pipeline.resources import BlastResource
    from blast_pipeline.system.tns_ingestion import TNSDataIngestion
    from blast_pipeline.tasks import TASK_RUNNERS

    runner = next(r for r in TASK_RUNNERS if isinstance(r, TNSDataIngestion))
    original, seen = runner.run_process, {}

    def timed(context):
        seen["start"] = time.time()
        summary = original(context)
        time.sleep(1.5)  # long enough for the other run to try to start meanwhile
        seen["end"] = time.time()
        return summary

    runner.run_process = timed
    blast = BlastResource(home=sys.argv[1], database_url=sys.argv[2], sky="none")
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("tns_data_ingestion_job").execute_in_process(
            instance=instance, resources={"blast": blast}, raise_on_error=False
        )
    print(json.dumps({"success": result.success, **seen}))
    """
)


def test_two_concurrent_ingestions_never_overlap(tmp_path, tns, blast_sqlite):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        apply_pool_limits(instance)
    blast_sqlite.services()  # migrate once before the two processes start
    tns.add_object(make_tns_object_reply("2024pool"), public_timestamp=_minutes_ago(5))
    repo = Path(__file__).resolve().parents[2]
    args = [sys.executable, "-c", _CHILD, blast_sqlite.home, blast_sqlite.database_url]
    children = [
        subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [json.loads(c.communicate(timeout=120)[0].strip().splitlines()[-1]) for c in children]
    assert all(o["success"] for o in outputs)
    first, second = sorted(outputs, key=lambda o: o["start"])
    assert second["start"] >= first["end"]  # the second waited for the pool slot
    assert tns.call_count("/api/get/object") == 2  # one conversation each, in turn


def _minutes_ago(minutes: float):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(minutes=minutes)


def test_a_system_schedule_skips_while_its_previous_run_is_in_flight(defs, instance, monkeypatch):
    """Blast skips a TNS ingestion while one is active; other system jobs are not held back."""
    from blast_pipeline_tests.system.system_helpers import _origin, make_new_run_id

    monkeypatch.setenv("TNS_BOT_API_KEY", "k" * 20)
    monkeypatch.setenv("TNS_BOT_NAME", "bot")
    monkeypatch.setenv("TNS_BOT_ID", "1")
    schedule = defs.resolve_schedule_def("tns_data_ingestion_schedule")
    context = dg.build_schedule_context(instance=instance)
    assert isinstance(schedule.evaluate_tick(context).run_requests[0], dg.RunRequest)
    run = dg.DagsterRun(
        job_name="tns_data_ingestion_job",
        run_id=make_new_run_id(),
        status=dg.DagsterRunStatus.STARTED,
        remote_job_origin=_origin("tns_data_ingestion_job"),
    )
    instance.add_run(run)
    tick = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert not tick.run_requests and "still in flight" in tick.skip_message
    retrigger = defs.resolve_schedule_def("retrigger_incomplete_workflows_schedule")
    assert retrigger.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests
    # each system job has its own run-queue slot, not one shared by all
    tags = {defs.resolve_job_def(f"{n}_job").tags["blast/system_job"] for n in EXPECTED}
    assert len(tags) == len(EXPECTED)
