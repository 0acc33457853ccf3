"""Host match, host information and the thumbnail, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select
from task_fakes import (
    FailingRedshifts,
    FakeCatalog,
    FakeCutouts,
    FakeRedshifts,
    add,
    graph,
    make_services,
)

from blast_pipeline.db.models import Host, HostAssociation
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.runners.execution import execute_transient_task
from blast_pipeline.sources.base import SourceError
from blast_pipeline.tasks.cutout_download import CutoutDownload
from blast_pipeline.tasks.host_information import HostInformation
from blast_pipeline.tasks.host_match import HostMatch, name_from_coords
from blast_pipeline.tasks.thumbnails import GenerateThumbnail

RA, DEC = 150.0, 2.0
PRE_MATCH = ["Cutout download", "Transient MWEBV"]


def _galaxy(object_id, dra_arcsec, ddec_arcsec, a, mag=16.0, z=0.05, ztype="spec"):
    ra = RA + dra_arcsec / 3600 / math.cos(math.radians(DEC))
    return (object_id, ra, DEC + ddec_arcsec / 3600, a, 0.6 * a, 30.0, mag, 0.05, z, 0.001, ztype)


def test_obvious_host_is_matched_stored_and_reused(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.catalogs = FakeCatalog(
        [_galaxy("G1", 2.0, 1.0, a=8.0), _galaxy("G2", 60.0, -40.0, a=2.0, mag=20.0, z=0.2)]
    )
    add(services, "2024host", RA, DEC, processed=PRE_MATCH)
    outcome = execute_transient_task(HostMatch(), "2024host", services, graph())
    assert outcome.status == "processed"
    assert outcome.metadata["host_object_id"] == "G1"
    with services.database.session() as session:
        transient = get_transient(session, "2024host")
        assert transient.host.object_id == "G1"
        assert transient.host.redshift == 0.05  # the catalogue's spec-z is kept on the host
        assert transient.host.name == name_from_coords(
            transient.host.ra_deg, transient.host.dec_deg
        )
        association = session.scalar(select(HostAssociation))
        assert association.probability > 0.9 and association.runner_up_object_id == "G2"
    # a second transient in the same galaxy reuses the host; re-running adds nothing
    add(services, "2024sib", RA + 1 / 3600, DEC, processed=PRE_MATCH)
    execute_transient_task(HostMatch(), "2024sib", services, graph())
    execute_transient_task(HostMatch(), "2024host", services, graph())
    with services.database.session() as session:
        assert session.scalar(select(func.count(Host.id))) == 1
        assert session.scalar(select(func.count(HostAssociation.id))) == 2


def test_hostless_transient_gives_no_host_match(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.catalogs = FakeCatalog([_galaxy("FAR", 200.0, 150.0, a=3.0, mag=19.0)])
    add(services, "2024lonely", RA, DEC, processed=PRE_MATCH)
    outcome = execute_transient_task(HostMatch(), "2024lonely", services, graph())
    assert outcome.status == "no host match"
    with services.database.session() as session:
        assert get_transient(session, "2024lonely").host is None
        assert session.scalar(select(HostAssociation)).host_id is None


def test_host_information_persists_the_redshift_on_the_host(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.catalogs = FakeCatalog([_galaxy("G1", 1.0, 1.0, a=8.0, z=float("nan"), ztype="")])
    services.redshifts = FakeRedshifts(0.0421)
    add(services, "2024info", RA, DEC, processed=PRE_MATCH)
    execute_transient_task(HostMatch(), "2024info", services, graph())
    outcome = execute_transient_task(HostInformation(), "2024info", services, graph())
    assert outcome.status == "processed"
    with services.database.session() as session:
        assert session.scalar(select(Host)).redshift == 0.0421


def test_no_redshift_anywhere_gives_no_host_redshift(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.catalogs = FakeCatalog([_galaxy("G1", 1.0, 1.0, a=8.0, z=float("nan"), ztype="")])
    services.redshifts = FakeRedshifts(None)
    add(services, "2024noz", RA, DEC, processed=PRE_MATCH)
    execute_transient_task(HostMatch(), "2024noz", services, graph())
    assert execute_transient_task(HostInformation(), "2024noz", services, graph()).status == (
        "no host redshift"
    )
    # the transient's own redshift is enough
    add(services, "2024withz", RA + 0.5, DEC, redshift=0.03, processed=PRE_MATCH)
    services.catalogs = FakeCatalog(
        [_galaxy("G9", 1800.0 + 1.0, 1.0, a=8.0, z=float("nan"), ztype="")]
    )
    execute_transient_task(HostMatch(), "2024withz", services, graph())
    assert execute_transient_task(HostInformation(), "2024withz", services, graph()).status == (
        "processed"
    )


def test_thumbnail_png_and_not_enough_filters(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.cutouts = FakeCutouts(no_image=("GALEX",))
    add(services, "2024thumb", RA, DEC)
    execute_transient_task(CutoutDownload(), "2024thumb", services, graph())
    outcome = execute_transient_task(GenerateThumbnail(), "2024thumb", services, graph())
    assert outcome.status == "processed"
    png = services.data_root / outcome.metadata["thumbnail"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outcome.metadata["filter"] == "PanSTARRS_g"
    assert outcome.metadata["preview"].startswith("![2024thumb cutout](data:image/png;base64,")
    # only surveys outside the thumbnail priority list: nothing to draw
    services.cutouts = FakeCutouts(no_image=("GALEX", "PanSTARRS", "SDSS", "DES", "2MASS"))
    add(services, "2024blank", RA, DEC)
    execute_transient_task(CutoutDownload(), "2024blank", services, graph())
    assert execute_transient_task(GenerateThumbnail(), "2024blank", services, graph()).status == (
        "not enough filters"
    )


def test_host_information_without_a_host_gives_no_host(tmp_path, database_url):
    """Cannot happen through the workflow (Host match "processed" sets a host), but a host can
    be removed by hand between runs; Blast's status for it is "no host"."""
    services = make_services(tmp_path, database_url)
    services.redshifts = FakeRedshifts(0.1)
    add(services, "2024gone", RA, DEC, processed=[*PRE_MATCH, "Host match"])
    outcome = execute_transient_task(HostInformation(), "2024gone", services, graph())
    assert outcome.status == "no host"
    assert services.redshifts.calls == 0


def test_redshift_service_outage_degrades_to_the_best_remaining_redshift(tmp_path, database_url):
    """A NED outage is recorded and the photometric or the transient's own redshift is used;
    only with no redshift at all does the task fail (and its retries ask again)."""
    services = make_services(tmp_path, database_url)
    services.redshifts = FailingRedshifts("NED answered 503 Service Unavailable")
    services.catalogs = FakeCatalog([_galaxy("GP", 1.0, 1.0, a=8.0, z=0.071, ztype="phot")])
    add(services, "2024photz", RA, DEC, processed=PRE_MATCH)
    execute_transient_task(HostMatch(), "2024photz", services, graph())
    outcome = execute_transient_task(HostInformation(), "2024photz", services, graph())
    assert outcome.status == "processed"
    assert "503" in outcome.metadata["redshift_service_error"]
    assert outcome.metadata["best_redshift"] == 0.071
    # the transient's own redshift
    services.catalogs = FakeCatalog(
        [_galaxy("GT", 1800.0 + 1.0, 1.0, a=8.0, z=float("nan"), ztype="")]
    )
    add(services, "2024ownz", RA + 0.5, DEC, redshift=0.045, processed=PRE_MATCH)
    execute_transient_task(HostMatch(), "2024ownz", services, graph())
    outcome = execute_transient_task(HostInformation(), "2024ownz", services, graph())
    assert outcome.status == "processed" and outcome.metadata["best_redshift"] == 0.045
    # nothing known: the outage cannot be decided away
    services.catalogs = FakeCatalog(
        [_galaxy("GN", -1800.0 + 1.0, 1.0, a=8.0, z=float("nan"), ztype="")]
    )
    add(services, "2024nothing", RA - 0.5, DEC, processed=PRE_MATCH)
    execute_transient_task(HostMatch(), "2024nothing", services, graph())
    with pytest.raises(SourceError, match="503"):
        execute_transient_task(HostInformation(), "2024nothing", services, graph())
    with services.database.session() as session:
        assert (
            task_statuses(session, get_transient(session, "2024nothing"))["Host information"]
            == "failed"
        )
