"""``blast-pipeline fit-sed``: the fast posterior of a simulated transient processed by the
pipeline (the stored result's numbers), and its one-line errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from blast_pipeline.cli import main
from blast_pipeline.db.models import SEDFittingResult, Transient
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.runners.execution import execute_transient_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.tasks import TASK_RUNNERS

GRAPH = WorkflowGraph.from_runners(TASK_RUNNERS)


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("BLAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BLAST_CUTOUT_FOV_ARCSEC", "60")
    monkeypatch.delenv("BLAST_DATABASE_URL", raising=False)
    monkeypatch.delenv("BLAST_SKY", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


def _process_one_simulated(capsys) -> tuple[str, SEDFittingResult]:
    """Simulate transients and run every task on them until one has a global SED fit."""
    assert main(["simulate", "4", "--seed", "11"]) == 0
    capsys.readouterr()
    services = blast_resource_from_env(resolve=True).services()
    with services.database.session() as session:
        names = list(session.scalars(select(Transient.name).order_by(Transient.id)))
    for name in names:
        for runner in GRAPH.runners:
            execute_transient_task(runner, name, services, GRAPH)
        with services.database.session() as session:
            result = session.scalar(
                select(SEDFittingResult)
                .join(Transient)
                .where(Transient.name == name, SEDFittingResult.aperture_type == "global")
            )
            if result is not None:
                session.expunge(result)
                return name, result
    raise AssertionError(f"none of {names} got a global SED fit")


def _row(out: str, label: str) -> list[float]:
    line = next(line for line in out.splitlines() if line.startswith(label))
    return [float(v) for v in re.findall(r"-?\d+\.\d+", line[len(label) :])]


def test_fit_sed_prints_the_stored_posterior_of_a_processed_transient(env, capsys):
    name, stored = _process_one_simulated(capsys)
    assert main(["fit-sed", name, "--aperture", "global"]) == 0
    out = capsys.readouterr().out
    assert f"{name} global aperture, z = " in out
    for label in ("log M* [M_sun]", "log SFR", "log sSFR", "age [Gyr", "log Z/Z_sun", "A_V"):
        assert label in out
    # the task's own sampling: the printed percentiles are the stored row's
    mass = _row(out, "log M* [M_sun]")
    assert mass == pytest.approx(
        [stored.log_mass_16, stored.log_mass_50, stored.log_mass_84], abs=6e-4
    )
    assert _row(out, "log SFR [M_sun/yr, 100 Myr]") == pytest.approx(
        [stored.log_sfr_16, stored.log_sfr_50, stored.log_sfr_84], abs=6e-4
    )
    assert _row(out, "age [Gyr, mass-weighted]") == pytest.approx(
        [stored.age_16, stored.age_50, stored.age_84], abs=6e-4
    )
    assert _row(out, "dust2 = tau_V = A_V/1.086") == pytest.approx(
        [stored.dust2_16, stored.dust2_50, stored.dust2_84], abs=6e-4
    )
    assert mass[0] < mass[1] < mass[2] and 5 < mass[1] < 13


def test_fit_sed_errors_are_one_line(env, capsys):
    assert main(["fit-sed", "2099zzz"]) == 2
    assert capsys.readouterr().err.strip() == (
        "blast-pipeline: error: no transient named '2099zzz' in the Blast database"
    )
    assert main(["add", "2024far", "150.1", "2.2", "--redshift", "0.8"]) == 0
    assert main(["add", "2024noz", "151.1", "2.2"]) == 0
    assert main(["add", "2024near", "152.1", "2.2", "--redshift", "0.05"]) == 0
    capsys.readouterr()
    for argv, message in (
        (["2024far"], "2024far: redshift 0.8 is outside the SED posterior's trained range"),
        (["2024noz"], "2024noz has no redshift"),
        (["2024near"], "2024near has no validated global photometry"),
        (["2024near", "--aperture", "local"], "2024near has no validated local photometry"),
    ):
        assert main(["fit-sed", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
