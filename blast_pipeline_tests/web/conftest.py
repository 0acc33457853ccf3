"""Fixtures for the web API tests: a Blast database (SQLite, PostgreSQL) holding a simulated
transient processed by the real workflow, with an SED result row added (the SED tasks are built
elsewhere; the payload must carry any row that exists)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import delete

from blast_pipeline.db import BlastDatabase
from blast_pipeline.db.models import SEDFittingResult, StarFormationHistoryResult
from blast_pipeline.export.serializers import SED_VALUE_COLUMNS
from blast_pipeline.services import PipelineServices, PipelineSettings, build_services
from blast_pipeline_tests.conftest import POSTGRES_DSN, _postgres_admin

NAME = "sim7x00000"


@dataclass
class Processed:
    home: Path
    url: str
    services: PipelineServices
    name: str = NAME


def fresh_database_url(kind: str, folder: Path, template: str | None) -> tuple[str, str | None]:
    """A migrated empty database: (url, PostgreSQL database name to drop or None)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'blast-{uuid.uuid4().hex[:6]}.sqlite'}"
        BlastDatabase(url).migrate()
        return url, None
    name = f"blast_web_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    admin.close()
    return POSTGRES_DSN.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(name: str | None) -> None:
    if name is None:
        return
    admin = _postgres_admin()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def services_for(url: str, data_root: Path) -> PipelineServices:
    return build_services(PipelineSettings(database_url=url, data_root=data_root, sky="none"))


def add_sed_result(services: PipelineServices, name: str) -> None:
    """A global SED result with two SFH bins, as the SED task would store it."""
    from blast_pipeline.db.transients import get_transient
    from blast_pipeline.tasks.apertures import primary_global_aperture

    with services.database.session() as session:
        transient = get_transient(session, name)
        aperture = primary_global_aperture(session, transient.id)
        # replace what the SED task stored, with known values
        session.execute(
            delete(StarFormationHistoryResult).where(
                StarFormationHistoryResult.transient_id == transient.id
            )
        )
        session.execute(
            delete(SEDFittingResult).where(SEDFittingResult.transient_id == transient.id)
        )
        values = {c: 0.5 + i / 10 for i, c in enumerate(SED_VALUE_COLUMNS)}
        result = SEDFittingResult(
            transient_id=transient.id,
            aperture_id=aperture.id,
            aperture_type="global",
            chains_file=f"sed_output/{name}/{name}_global_chain.npz",
            percentiles_file=f"sed_output/{name}/{name}_global_perc.npz",
            model_file=f"sed_output/{name}/{name}_global_modeldata.npz",
            **values,
        )
        session.add(result)
        session.flush()
        for i in range(2):
            session.add(
                StarFormationHistoryResult(
                    transient_id=transient.id,
                    sed_fitting_result_id=result.id,
                    logsfr_16=-1.0 + i,
                    logsfr_50=-0.5 + i,
                    logsfr_84=0.0 + i,
                    logsfr_tmin=0.1 * i,
                    logsfr_tmax=0.1 * (i + 1),
                )
            )
    folder = services.data_root / "sed_output" / name
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("chain", "perc", "modeldata"):
        (folder / f"{name}_global_{suffix}.npz").write_bytes(f"{name}-{suffix}".encode() * 10)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def processed(request, tmp_path_factory) -> Iterator[Processed]:
    """One simulated transient run through the workflow (120" cutouts), on each database."""
    from blast_pipeline.cli import main
    from blast_pipeline.definitions import build_definitions
    from blast_pipeline.orchestration import process_pending
    from blast_pipeline.resources import blast_resource_from_env
    from blast_pipeline.tasks import TASK_RUNNERS

    home = tmp_path_factory.mktemp(f"web-{request.param}")
    template = request.getfixturevalue("postgres_template") if request.param == "postgres" else None
    url, pg_name = fresh_database_url(request.param, home, template)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BLAST_HOME", str(home))
        mp.setenv("BLAST_DATABASE_URL", url)
        mp.setenv("BLAST_CUTOUT_FOV_ARCSEC", "120")
        mp.delenv("DAGSTER_HOME", raising=False)
        assert main(["simulate", "1", "--seed", "7"]) == 0
        blast = blast_resource_from_env(resolve=True)
        with dg.instance_for_test() as instance:
            summary = process_pending(build_definitions(TASK_RUNNERS, blast), instance)
        assert summary.failed_runs == 0
        services = services_for(url, home / "data")
        add_sed_result(services, NAME)
        yield Processed(home, url, services)
        services.database.dispose()
        blast.services().database.dispose()
    drop_database(pg_name)
