"""LegacySurveyCatalogSource against a local server answering like NOIRLab Data Lab's TAP sync
endpoint (CSV answers, VOTable error documents). Nothing leaves 127.0.0.1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from catalog_fake_servers import FakeCatalogServer, Reply

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, GalaxyCatalogSource, SourceError
from blast_pipeline.sources.catalogs import LegacySurveyCatalogSource
from blast_pipeline.sources.catalogs.legacy_survey import (
    legacy_survey_query,
    tractor_shape_to_ellipse,
)
from blast_pipeline.sources.http import HttpSettings, ServiceHttp, ServicePools

PATH = "/tap/sync"
HEADER = (
    "ls_id,ra,dec,type,brick_primary,flux_r,flux_ivar_r,mw_transmission_r,shape_r,shape_e1,"
    "shape_e2,z_phot_median,z_phot_std,z_spec"
)
ROWS = [
    # a bright exponential galaxy with a photo-z, 3.6" from the centre
    "10995116277760001,150.0010,20.0000,EXP,1,100.0,4.0,0.9,2.5,0.0,0.2,0.21,0.03,-99",
    # a round REX galaxy with a spectroscopic redshift, nearest (1.8")
    "10995116277760002,150.0000,20.0005,REX,1,10.0,1.0,0.9,0.8,0.0,0.0,0.12,0.02,0.118",
    # a star and a Gaia duplicate (the query excludes them; we check again)
    "10995116277760003,150.0001,20.0001,PSF,1,500.0,1.0,0.9,0.0,0.0,0.0,-99,-99,-99",
    "10995116277760004,150.0002,20.0002,DUP,1,500.0,1.0,0.9,0.0,0.0,0.0,-99,-99,-99",
    # a galaxy from the overlap of two bricks (not primary)
    "10995116277760005,150.0003,20.0003,DEV,0,50.0,1.0,0.9,1.0,0.1,0.0,0.3,0.05,-99",
    # a faint Sersic galaxy: negative flux, no photo-z row (LEFT JOIN: blanks), 7.2" away
    "10995116277760006,150.0000,20.0020,SER,1,-0.5,2.0,0.9,0.6,-0.3,0.0,,,",
]


def datalab(*bodies: str | Reply, by_release: dict[str, str] | None = None):
    """A handler answering ``bodies`` in turn (the last one repeats), or by release."""
    calls = {"n": 0}

    def handle(path, query):
        if path != PATH:
            return Reply(404, "not found")
        if by_release is not None:
            release = "dr10" if "ls_dr10." in query.get("QUERY", "") else "dr9"
            return Reply(200, by_release[release], "text/csv")
        body = bodies[min(calls["n"], len(bodies) - 1)]
        calls["n"] += 1
        return body if isinstance(body, Reply) else Reply(200, body, "text/csv")

    return handle


def csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def tap_error(message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3" version="1.3">\n'
        ' <RESOURCE type="results">\n'
        f'  <INFO name="QUERY_STATUS" value="ERROR">{message}</INFO>\n'
        " </RESOURCE>\n</VOTABLE>\n"
    )


def source(server, max_tries: int = 2, **kwargs) -> LegacySurveyCatalogSource:
    settings = HttpSettings(timeout_s=5.0, max_tries=max_tries, backoff_s=0.0, jitter=0.0)
    http = ServiceHttp("DataLab-test", settings, pools=ServicePools(), sleep=lambda s: None)
    return LegacySurveyCatalogSource(server.url(PATH), http=http, **kwargs)


def test_default_url_is_datalab_tap():
    default = LegacySurveyCatalogSource()
    assert default.url == "https://datalab.noirlab.edu/tap/sync"
    assert default.releases == ("dr10", "dr9")
    assert isinstance(default, GalaxyCatalogSource)


def test_galaxies_are_selected_and_converted():
    with FakeCatalogServer(datalab(csv(*ROWS))) as server:
        table = source(server).galaxies_near(150.0, 20.0, 30.0)
    assert table.colnames == list(GALAXY_CATALOG_COLUMNS)
    # nearest first; the star, the duplicate and the non-primary object are gone
    assert list(table["object_id"]) == [
        "10995116277760002",
        "10995116277760001",
        "10995116277760006",
    ]
    rex, exp, ser = table
    assert exp["mag"] == pytest.approx(22.5 - 5.0)
    assert exp["mag_err"] == pytest.approx(2.5 / math.log(10) * 0.5 / 100.0)
    assert exp["a_arcsec"] == pytest.approx(2.5)
    assert exp["b_arcsec"] == pytest.approx(2.5 * 0.8 / 1.2)  # e = 0.2: b/a = (1-e)/(1+e)
    assert exp["pa_deg"] == pytest.approx(45.0)  # e1 = 0, e2 > 0: 0.5 * atan2(e2, e1)
    assert exp["redshift"] == pytest.approx(0.21) and exp["redshift_err"] == pytest.approx(0.03)
    assert exp["redshift_type"] == "phot"
    assert rex["a_arcsec"] == rex["b_arcsec"] == pytest.approx(0.8) and np.isnan(rex["pa_deg"])
    assert rex["redshift"] == pytest.approx(0.118) and rex["redshift_type"] == "spec"
    assert np.isnan(rex["redshift_err"])
    assert np.isnan(ser["mag"]) and np.isnan(ser["mag_err"])  # flux <= 0
    assert np.isnan(ser["redshift"]) and ser["redshift_type"] == ""
    assert ser["pa_deg"] == pytest.approx(90.0)  # e1 < 0, e2 = 0: major axis east-west
    assert table.meta == {
        "catalog_name": "legacy_survey",
        "catalog_release": "dr10",
        "band": "r",
        "mag_limit": 23.5,
        "truncated": False,
    }
    ((path, query),) = server.requests  # DR10 had galaxies: no DR9 query
    assert path == PATH
    assert query["REQUEST"] == "doQuery" and query["LANG"] == "ADQL"
    assert query["FORMAT"] == "csv" and query["MAXREC"] == "5000"
    adql = query["QUERY"]
    assert "FROM ls_dr10.tractor AS t" in adql
    assert "LEFT OUTER JOIN ls_dr10.photo_z AS p ON t.ls_id = p.ls_id" in adql
    assert "'t' = q3c_radial_query(t.ra, t.dec, 150.0000000, 20.0000000, 0.0083333)" in adql
    assert "t.type NOT IN ('PSF', 'DUP')" in adql
    assert "p.z_phot_median" in adql and "t.shape_e2" in adql


def test_position_angle_follows_tractor_convention():
    """legacypipe builds Tractor shapes from a catalogue PA (east of north) with
    ``EllipseE.fromRAbPhi(r, ba, 180 - pa)``, which sets e1 + i e2 = e exp(-2i (180 - pa)),
    i.e. e exp(2i pa): the conversion must give that PA back."""
    for pa_true in (0.0, 20.0, 45.0, 90.0, 135.0, 170.0):
        ba = 0.4
        e = (1.0 / ba - 1.0) / (1.0 / ba + 1.0)
        angle = math.radians(2.0 * -(180.0 - pa_true))  # Tractor's fromRAbPhi
        e1, e2 = e * math.cos(angle), e * math.sin(angle)
        a, b, pa = tractor_shape_to_ellipse([3.0], [e1], [e2])
        assert a[0] == pytest.approx(3.0) and b[0] / a[0] == pytest.approx(ba)
        assert pa[0] == pytest.approx(pa_true, abs=1e-9)


def test_dr10_without_galaxies_falls_back_to_dr9():
    replies = {"dr10": HEADER + "\n", "dr9": csv(ROWS[0])}
    with FakeCatalogServer(datalab(by_release=replies)) as server:
        table = source(server).galaxies_near(150.0, 20.0, 30.0)
    assert table.meta["catalog_release"] == "dr9"
    assert list(table["object_id"]) == ["10995116277760001"]
    queries = [q["QUERY"] for _, q in server.requests]
    assert "ls_dr10.tractor" in queries[0] and "ls_dr9.tractor" in queries[1]
    assert "ls_dr9.photo_z" in queries[1]


@pytest.mark.parametrize("body", ["", HEADER + "\n"], ids=["empty-body", "header-only"])
def test_empty_answers_give_empty_tables(body):
    with FakeCatalogServer(datalab(body)) as server:
        table = source(server).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 2  # DR10, then DR9
    assert len(table) == 0 and table.colnames == list(GALAXY_CATALOG_COLUMNS)
    assert table.meta["catalog_name"] == "legacy_survey"
    assert table.meta["catalog_release"] == "dr9"


def test_single_release_does_not_fall_back():
    with FakeCatalogServer(datalab(HEADER + "\n")) as server:
        table = source(server, releases=("dr10",)).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 1
    assert len(table) == 0 and table.meta["catalog_release"] == "dr10"


def test_only_stars_is_an_empty_table():
    with FakeCatalogServer(datalab(csv(ROWS[2], ROWS[3]))) as server:
        table = source(server, releases=("dr10",)).galaxies_near(150.0, 20.0, 30.0)
    assert len(table) == 0


def test_tap_error_document_raises_source_error():
    message = 'relation "ls_dr10.photo_zz" does not exist'
    with FakeCatalogServer(datalab(Reply(200, tap_error(message), "text/xml"))) as server:
        with pytest.raises(SourceError, match=r"query error: relation .*does not exist"):
            source(server).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 1


def test_tap_error_with_http_400_raises_at_once():
    reply = Reply(400, tap_error("syntax error at or near 'SELEC'"), "application/x-votable+xml")
    with FakeCatalogServer(datalab(reply)) as server:
        with pytest.raises(SourceError, match="HTTP 400"):
            source(server).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 1


def test_server_error_then_success_is_retried():
    replies = [Reply(503, "Service Unavailable"), csv(ROWS[0])]
    with FakeCatalogServer(datalab(*replies)) as server:
        table = source(server).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 2
    assert list(table["object_id"]) == ["10995116277760001"]


def test_persistent_server_errors_raise_source_error():
    with FakeCatalogServer(datalab(Reply(500, "Internal Server Error"))) as server:
        with pytest.raises(SourceError, match="gave up after 3 tries, last: HTTP 500"):
            source(server, max_tries=3).galaxies_near(150.0, 20.0, 30.0)
        assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (HEADER + '\n1,150.0,20.0,EXP,1,"unterminated\n', "unreadable CSV"),
        (HEADER + "\n1,150.0,20.0,EXP,1,10,1,0.9,1,0,0,0.1,0.01,-99,7,8,9\n", "unreadable CSV"),
        (HEADER + "\n1,150.0,20.0,EXP\n", "unreadable CSV"),
        ("<html><body>Data Lab is down for maintenance</body></html>", "unreadable answer"),
        ("Error: query timed out\n", "lacks columns"),
        ("ls_id,ra\n1,150.0\n", "lacks columns"),
        (
            '<?xml version="1.0"?><VOTABLE version="1.3"><RESOURCE/></VOTABLE>',
            "VOTable instead of CSV",
        ),
    ],
    ids=[
        "unterminated-quote",
        "long-row",
        "short-row",
        "html",
        "plain-text-error",
        "few-columns",
        "votable",
    ],
)
def test_malformed_answers_raise_source_error(body, problem):
    with FakeCatalogServer(datalab(body)) as server, pytest.raises(SourceError, match=problem):
        source(server).galaxies_near(150.0, 20.0, 30.0)


def test_row_limit_marks_the_table_truncated():
    with FakeCatalogServer(datalab(csv(ROWS[0], ROWS[1]))) as server:
        table = source(server, max_rows=2).galaxies_near(150.0, 20.0, 30.0)
        assert server.requests[0][1]["MAXREC"] == "2"
    assert table.meta["truncated"] is True


def test_contains_cone_and_dereddening():
    with FakeCatalogServer(datalab(csv(ROWS[0]))) as server:
        table = source(server, cone="contains", deredden=True).galaxies_near(150.0, 20.0, 30.0)
        adql = server.requests[0][1]["QUERY"]
    assert "1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', 150.0000000" in adql
    assert "q3c" not in adql
    assert table[0]["mag"] == pytest.approx(22.5 - 2.5 * math.log10(100.0 / 0.9))
    assert table[0]["mag_err"] == pytest.approx(2.5 / math.log(10) * 0.5 / 100.0)


def test_query_text():
    adql = legacy_survey_query("dr9", 10.5, -5.25, 36.0)
    assert adql.startswith("SELECT t.ls_id, t.ra, t.dec, t.type,")
    assert "q3c_radial_query(t.ra, t.dec, 10.5000000, -5.2500000, 0.0100000)" in adql


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="dr10, dr9"):
        LegacySurveyCatalogSource(releases=("dr8",))
    with pytest.raises(ValueError, match="dr10, dr9"):
        LegacySurveyCatalogSource(releases=())
    with pytest.raises(ValueError, match="cone"):
        LegacySurveyCatalogSource(cone="box")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cone radius"):
        LegacySurveyCatalogSource().galaxies_near(150.0, 20.0, 0.0)
