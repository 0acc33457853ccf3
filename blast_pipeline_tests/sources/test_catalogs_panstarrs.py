"""PanSTARRSCatalogSource against a local server answering like the MAST catalogs API (CSV)."""

from __future__ import annotations

import numpy as np
import pytest
from catalog_fake_servers import FakeCatalogServer, Reply

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, GalaxyCatalogSource, SourceError
from blast_pipeline.sources.catalogs import PanSTARRSCatalogSource
from blast_pipeline.sources.http import HttpSettings, ServiceHttp, ServicePools

PATH = "/api/v0.1/panstarrs/dr2/stack.csv"
HEADER = "objID,raMean,decMean,primaryDetection,rPSFMag,rKronMag,rKronMagErr,rKronRad"
ROWS = [
    "118051500012345678,150.0010,20.0010,1,19.80,19.10,0.03,4.5",  # galaxy
    "118051500012345679,150.0020,20.0000,1,18.00,17.99,0.01,2.0",  # star (PSF ~ Kron)
    "118051500012345680,150.0030,20.0020,0,20.50,19.70,0.05,3.0",  # secondary detection
    "118051500012345681,150.0040,19.9990,1,21.20,20.60,-999,-999",  # galaxy without size
]


def mast(body: str, status: int = 200):
    def handle(path, query):
        if path != PATH:
            return Reply(404, '{"error": "not found"}', "application/json")
        return Reply(status, body, "text/csv")

    return handle


def source(server, max_tries: int = 2) -> PanSTARRSCatalogSource:
    settings = HttpSettings(timeout_s=5.0, max_tries=max_tries, backoff_s=0.0, jitter=0.0)
    http = ServiceHttp("MAST-test", settings, pools=ServicePools(), sleep=lambda s: None)
    return PanSTARRSCatalogSource(server.url("/api/v0.1/panstarrs"), http=http)


def test_default_url_is_mast():
    default = PanSTARRSCatalogSource()
    assert default.url == "https://catalogs.mast.stsci.edu/api/v0.1/panstarrs/dr2/stack.csv"
    assert isinstance(default, GalaxyCatalogSource)


def test_galaxies_are_selected_and_converted():
    with FakeCatalogServer(mast("\n".join([HEADER, *ROWS]) + "\n")) as server:
        table = source(server).galaxies_near(150.0, 20.0, 30.0)
    assert table.colnames == list(GALAXY_CATALOG_COLUMNS)
    assert list(table["object_id"]) == ["118051500012345678", "118051500012345681"]
    first = table[0]
    assert first["a_arcsec"] == first["b_arcsec"] == pytest.approx(4.5)
    assert first["mag"] == pytest.approx(19.1) and np.isnan(first["redshift"])
    assert np.isnan(table[1]["a_arcsec"]) and np.isnan(table[1]["mag_err"])
    assert table.meta == {
        "catalog_name": "panstarrs",
        "catalog_release": "dr2",
        "band": "r",
        "mag_limit": 22.0,
    }
    ((path, query),) = server.requests
    assert path == PATH
    assert float(query["radius"]) == pytest.approx(30.0 / 3600.0, rel=1e-5)
    assert query["ra"] == "150.0000000" and query["dec"] == "20.0000000"
    assert query["columns"].startswith("[objID,raMean,decMean")


@pytest.mark.parametrize("body", ["", HEADER + "\n"], ids=["empty-body", "header-only"])
def test_empty_answers_give_empty_tables(body):
    with FakeCatalogServer(mast(body)) as server:
        table = source(server).galaxies_near(150.0, 20.0, 30.0)
    assert len(table) == 0 and table.meta["catalog_name"] == "panstarrs"


def test_server_errors_raise_source_error():
    with FakeCatalogServer(mast("Internal Server Error", 500)) as server:
        with pytest.raises(SourceError, match="HTTP 500"):
            source(server).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 2


def test_bad_request_raises_at_once():
    body = '{"detail": "radius must be <= 0.5 degrees"}'
    with FakeCatalogServer(mast(body, 400)) as server:
        with pytest.raises(SourceError, match="HTTP 400"):
            source(server).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 1


def test_answer_without_expected_columns_is_an_error():
    server = FakeCatalogServer(mast("objID,ra\n1,2\n"))
    with server, pytest.raises(SourceError, match="lacks columns"):
        source(server).galaxies_near(150.0, 20.0, 30.0)


def test_release_is_checked():
    with pytest.raises(ValueError, match="dr1"):
        PanSTARRSCatalogSource(release="dr3")
