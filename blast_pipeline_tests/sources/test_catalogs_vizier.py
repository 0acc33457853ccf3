"""VizierGladeSource against a local server answering like VizieR's viz-bin/votable."""

from __future__ import annotations

import numpy as np
import pytest
from catalog_fake_servers import (
    GLADE_FIELDS,
    HYPERLEDA_FIELDS,
    FakeCatalogServer,
    Reply,
    vizier_error,
    vizier_votable,
)

from blast_pipeline.science.host_match import associate_host
from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, GalaxyCatalogSource, SourceError
from blast_pipeline.sources.catalogs import VizierGladeSource
from blast_pipeline.sources.catalogs.vizier import VIZIER_VOTABLE_URL
from blast_pipeline.sources.http import HttpSettings, ServicePools

PATH = "/viz-bin/votable"
FAST = HttpSettings(timeout_s=5.0, max_tries=2, backoff_s=0.0, jitter=0.0)

GLADE_ROWS = [
    # GLADE+, PGC, Type, RA, Dec, Bmag, e_Bmag, zhelio, e_zhelio, f_dL
    [101, 5001, "G", 150.0010, 20.0000, 14.2, 0.05, 0.0301, 0.0002, 2],
    [102, None, "G", 150.0100, 20.0050, 18.9, None, 0.21, 0.03, 1],
    [103, 5003, "Q", 150.0200, 19.9950, 19.5, 0.1, 1.2, 0.001, 2],
    [104, 5004, "G", 150.0050, 20.0100, None, None, None, None, 0],
]
LEDA_ROWS = [[5001, 1.2, 0.3, 45.0], [5004, 0.5, None, None], [7777, 2.0, 0.1, 10.0]]


def vizier_handler(glade_rows=GLADE_ROWS, leda_rows=LEDA_ROWS, status=None):
    def handle(path: str, query: dict[str, str]) -> Reply:
        if path != PATH:
            return Reply(404, "not found")
        if query.get("-source") == "VII/291/gladep":
            body = vizier_votable("VII/291/gladep", GLADE_FIELDS, glade_rows, status, "truncated")
        elif query.get("-source") == "VII/237/pgc":
            body = vizier_votable("VII/237/pgc", HYPERLEDA_FIELDS, leda_rows)
        else:
            body = vizier_error(f"****  Unknown catalogue {query.get('-source')}")
        return Reply(200, body, "application/x-votable+xml")

    return handle


def source(server: FakeCatalogServer, **kwargs) -> VizierGladeSource:
    settings = kwargs.pop("settings", FAST)
    from blast_pipeline.sources.http import ServiceHttp

    http = ServiceHttp("VizieR-test", settings, pools=ServicePools(), sleep=lambda s: None)
    return VizierGladeSource(server.url(PATH), http=http, **kwargs)


def test_default_url_is_vizier():
    assert (
        VizierGladeSource().base_url
        == VIZIER_VOTABLE_URL
        == ("https://vizier.cds.unistra.fr/viz-bin/votable")
    )
    assert isinstance(VizierGladeSource(), GalaxyCatalogSource)


def test_cone_search_converts_glade_and_joins_hyperleda_sizes():
    with FakeCatalogServer(vizier_handler()) as server:
        table = source(server).galaxies_near(150.0, 20.0, 60.0)
    assert table.colnames == list(GALAXY_CATALOG_COLUMNS)
    assert list(table["object_id"]) == ["101", "102", "104"]  # the quasar is dropped
    first = table[0]
    assert first["a_arcsec"] == pytest.approx(1.5 * 10**1.2)
    assert first["b_arcsec"] == pytest.approx(1.5 * 10**1.2 / 10**0.3)
    assert first["pa_deg"] == pytest.approx(45.0)
    assert first["mag"] == pytest.approx(14.2) and first["redshift_type"] == "spec"
    assert first["redshift"] == pytest.approx(0.0301) and first["redshift_err"] == pytest.approx(
        2e-4
    )
    no_pgc = table[1]
    assert np.isnan(no_pgc["a_arcsec"]) and no_pgc["redshift_type"] == "phot"
    partial = table[2]  # HyperLEDA has a diameter but no axis ratio: round
    assert partial["a_arcsec"] == pytest.approx(partial["b_arcsec"])
    assert np.isnan(partial["mag"]) and partial["redshift_type"] == ""
    assert table.meta["catalog_name"] == "glade" and table.meta["catalog_release"] == "latest"
    assert table.meta["mag_limit"] == 17.0 and table.meta["truncated"] is False

    (path, glade_query), (_, leda_query) = server.requests
    assert path == PATH
    assert glade_query["-source"] == "VII/291/gladep"
    assert glade_query["-c"] == "150.0000000 +20.0000000"
    assert float(glade_query["-c.rs"]) == 60.0
    assert glade_query["-out"].split(",")[:4] == ["GLADE+", "PGC", "Type", "RAJ2000"]
    assert glade_query["-out.max"] == "2000"
    assert leda_query["-source"] == "VII/237/pgc"


def test_result_feeds_the_host_association():
    with FakeCatalogServer(vizier_handler()) as server:
        table = source(server).galaxies_near(150.0, 20.0, 60.0)
    result = associate_host(150.0012, 20.0002, table, transient_redshift=0.03)
    assert result.best_object_id == "101"


@pytest.mark.parametrize("rows", [None, []], ids=["no-table", "no-rows"])
def test_empty_answer_gives_an_empty_table(rows):
    with FakeCatalogServer(vizier_handler(glade_rows=rows)) as server:
        table = source(server).galaxies_near(10.0, -5.0, 30.0)
        assert len(server.requests) == 1  # no size query for nothing
    assert len(table) == 0 and table.colnames == list(GALAXY_CATALOG_COLUMNS)
    assert table.meta["catalog_name"] == "glade"


def test_overflow_is_flagged():
    with FakeCatalogServer(vizier_handler(status="OVERFLOW")) as server:
        table = source(server, max_rows=4).galaxies_near(150.0, 20.0, 60.0)
    assert table.meta["truncated"] is True
    assert server.requests[0][1]["-out.max"] == "4"


def test_vizier_error_status_raises_source_error():
    def handle(path, query):
        return Reply(200, vizier_error("****  Unknown catalogue VII/291/gladep"), "text/xml")

    with FakeCatalogServer(handle) as server, pytest.raises(SourceError, match="Unknown catalogue"):
        source(server).galaxies_near(150.0, 20.0, 60.0)


def test_http_error_raises_source_error_after_retries():
    with FakeCatalogServer(lambda p, q: Reply(503, "Service Unavailable")) as server:
        with pytest.raises(SourceError, match="HTTP 503"):
            source(server).galaxies_near(150.0, 20.0, 60.0)
        assert len(server.requests) == FAST.max_tries


def test_timeout_raises_source_error():
    slow = HttpSettings(timeout_s=0.2, max_tries=1, backoff_s=0.0)

    def handle(path, query):
        return Reply(200, vizier_votable("VII/291/gladep", GLADE_FIELDS, []), delay_s=1.0)

    with FakeCatalogServer(handle) as server, pytest.raises(SourceError, match="timed out"):
        source(server, settings=slow).galaxies_near(150.0, 20.0, 60.0)


def test_garbage_answer_raises_source_error():
    garbage = FakeCatalogServer(lambda p, q: Reply(200, "<html>maintenance</html"))
    with garbage as server, pytest.raises(SourceError, match="unreadable VOTable"):
        source(server).galaxies_near(150.0, 20.0, 60.0)


def test_sizes_can_be_skipped():
    with FakeCatalogServer(vizier_handler()) as server:
        table = source(server, with_sizes=False).galaxies_near(150.0, 20.0, 60.0)
        assert len(server.requests) == 1
    assert np.all(np.isnan(table["a_arcsec"]))


def test_bad_cone_is_rejected_before_any_request():
    with FakeCatalogServer(vizier_handler()) as server:
        with pytest.raises(ValueError, match="radius"):
            source(server).galaxies_near(150.0, 20.0, 0.0)
        with pytest.raises(ValueError, match="centre"):
            source(server).galaxies_near(150.0, 95.0, 10.0)
        assert server.requests == []
