"""The transient page without a browser: what it shows of a stored SED fit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from blast_pipeline.db.models import SEDFittingResult
from blast_pipeline.db.transients import NewTransient, insert_transient
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline.web.app import create_app
from blast_pipeline_tests.web.conftest import services_for


def test_the_page_shows_the_sed_numbers_with_their_16_84_interval(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # no Dagster instance: statuses only
    url = f"sqlite:///{tmp_path / 'blast.sqlite'}"
    services = services_for(url, tmp_path)
    with services.database.session() as session:
        transient = insert_transient(
            session, [r.task_name for r in TASK_RUNNERS], NewTransient("2024sed", 150.1, 2.2)
        )
        session.add(
            SEDFittingResult(
                transient_id=transient.id,
                aperture_type="global",
                log_mass_16=9.81,
                log_mass_50=10.12,
                log_mass_84=10.37,
                log_sfr_16=-0.52,
                log_sfr_50=0.03,
                log_sfr_84=0.41,
            )
        )
    page = TestClient(create_app(services)).get("/transients/2024sed/")
    assert page.status_code == 200
    table = page.text.split('id="sed-results"', 1)[1].split("</table>", 1)[0]
    assert "log M*" in table and "log SFR" in table
    assert "10.12 <small>[9.81, 10.37]</small>" in table
    assert "0.03 <small>[-0.52, 0.41]</small>" in table
    assert "- <small>[-, -]</small>" in table  # parameters not stored show as missing
    services.database.dispose()
