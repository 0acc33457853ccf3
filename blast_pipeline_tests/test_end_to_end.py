"""The whole registry on the simulated sky: simulate, sensor, runs through a Dagster instance."""

from __future__ import annotations

import dagster as dg
import pytest

from blast_pipeline.cli import main
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.tasks import TASK_RUNNERS


@pytest.mark.slow
def test_simulated_transients_run_end_to_end(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BLAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BLAST_CUTOUT_FOV_ARCSEC", "120")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["simulate", "3", "--seed", "7"]) == 0
    assert "added 3 simulated transient(s) (seed 7)" in capsys.readouterr().out

    blast = blast_resource_from_env(resolve=True)
    defs = build_definitions(TASK_RUNNERS, blast)
    with dg.instance_for_test() as instance:
        summary = process_pending(defs, instance)
        # three waiting transients: one batch run
        assert summary.runs == 1 and summary.failed_runs == 0
        assert sorted(summary.transients) == sorted(instance.get_dynamic_partitions("transients"))
        partitions = instance.get_dynamic_partitions("transients")
        assert len(partitions) == 3
        # a second pass finds nothing to do: exactly one run per transient
        assert process_pending(defs, instance).runs == 0
        cutouts = instance.get_materialized_partitions(dg.AssetKey("cutout_download"))
        assert cutouts == set(partitions)
        # reprocessing one transient from Host match: its own run, only the tasks from there on
        assert main(["reprocess", partitions[0], "--from", "Host match"]) == 0
        again = process_pending(defs, instance)
        assert again.runs == 1 and again.transients == [partitions[0]]
        run = instance.get_runs(limit=1)[0]
        assert run.tags["dagster/partition"] == partitions[0]
        assert dg.AssetKey("cutout_download") not in run.asset_selection
        assert dg.AssetKey("host_match") in run.asset_selection

    services = blast.services()
    with services.database.session() as session:
        for name in partitions:
            transient = get_transient(session, name)
            statuses = task_statuses(session, transient)
            assert statuses["Cutout download"] == "processed"
            assert statuses["Transient MWEBV"] == "processed"
            assert transient.milkyway_dust_reddening > 0
            assert transient.processing_status in ("completed", "blocked")
            assert transient.progress == 100
    # the files are where the cutout task writes real downloads
    assert list((tmp_path / "home" / "data" / "cutouts").glob("*/SDSS/*.fits")) or list(
        (tmp_path / "home" / "data" / "cutouts").glob("*/PanSTARRS/*.fits")
    )
