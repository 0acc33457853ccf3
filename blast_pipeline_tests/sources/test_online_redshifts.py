"""Spectroscopic redshifts: SDSS SkyServer then NED, against local fake services."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from astropy.table import MaskedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from online_fake_services import FakeService, Reply, recording_sleep, votable_bytes  # noqa: E402

from blast_pipeline.sources.base import RateLimitedError, RedshiftSource, SourceError  # noqa: E402
from blast_pipeline.sources.http import HttpSettings, ServicePools  # noqa: E402
from blast_pipeline.sources.online import OnlineRedshiftSource  # noqa: E402

RA, DEC = 185.0, 15.5
SQL_PATH = "/dr17/SkyServerWS/SearchTools/SqlSearch"
NED_PATH = "/cgi-bin/objsearch"
SETTINGS = HttpSettings(timeout_s=5, max_tries=3, backoff_s=0.001, max_backoff_s=0.002)
SQL_COLUMNS = "specobjid,z,ra,dec,distance_arcmin"
NO_SDSS = Reply(200, f"#Table1\n{SQL_COLUMNS}\n")


def ned_table(rows: list[tuple[str, float, float, float | None]]) -> bytes:
    """A NED ``of=xml_main`` style VOTable: name, RA, DEC, redshift (None = masked)."""
    redshifts = [np.nan if z is None else z for _, _, _, z in rows]
    return votable_bytes(
        {
            "No.": np.arange(1, len(rows) + 1, dtype=np.int32),
            "Object Name": np.array([r[0] for r in rows], dtype="U30"),
            "RA": np.array([r[1] for r in rows], dtype=float),
            "DEC": np.array([r[2] for r in rows], dtype=float),
            "Type": np.array(["G"] * len(rows), dtype="U6"),
            "Redshift": MaskedColumn(redshifts, mask=[z is None for _, _, _, z in rows]),
            "Redshift Flag": np.array([""] * len(rows), dtype="U4"),
            "Separation": np.array([0.01] * len(rows), dtype=float),
        },
        table_name="NED_MainTable",
    )


NED_TWO_GALAXIES = ned_table(
    [
        ("NGC 4321 knot", RA + 0.00001, DEC, None),  # nearest, but no redshift: dropped
        ("SDSS J122000", RA + 0.0002, DEC, 0.0123),
        ("2MASX J1220", RA - 0.00005, DEC + 0.00002, 0.0052),  # nearest with a redshift
    ]
)
NED_NOTHING = (
    b'<?xml version="1.0"?><VOTABLE version="1.1"><RESOURCE>'
    b'<INFO name="Error" value="No object found.">No object found.</INFO></RESOURCE></VOTABLE>'
)


@pytest.fixture
def fake():
    with FakeService() as service:
        service.route(SQL_PATH, NO_SDSS)
        service.route(NED_PATH, Reply(200, NED_TWO_GALAXIES))
        yield service


def source(fake: FakeService, settings: HttpSettings = SETTINGS, **kwargs) -> OnlineRedshiftSource:
    kwargs.setdefault("sleep", lambda _s: None)
    return OnlineRedshiftSource(
        {"sdss_sql": fake.url(SQL_PATH), "ned_objsearch": fake.url(NED_PATH)},
        settings,
        pools=ServicePools(),
        **kwargs,
    )


def test_is_a_redshift_source(fake):
    assert isinstance(source(fake), RedshiftSource)


def test_sdss_redshift_wins_and_ned_is_not_asked(fake):
    fake.route(SQL_PATH, Reply(200, f"#Table1\n{SQL_COLUMNS}\n299,0.0417,{RA},{DEC},0.001\n"))
    assert source(fake).spectroscopic_redshift(RA, DEC) == pytest.approx(0.0417)
    (sql_request,) = fake.requests_to(SQL_PATH)
    sql = sql_request.query["cmd"]
    assert "SpecObj" in sql and "fGetNearbyObjEq" in sql and "0.016667" in sql  # 1" in arcmin
    assert sql_request.query["format"] == "csv"
    assert fake.requests_to(NED_PATH) == []


def test_sdss_rows_without_a_finite_redshift_are_skipped(fake):
    rows = f"#Table1\n{SQL_COLUMNS}\n1,,{RA},{DEC},0.001\n2,0.25,{RA},{DEC},0.002\n"
    fake.route(SQL_PATH, Reply(200, rows))
    assert source(fake).spectroscopic_redshift(RA, DEC) == pytest.approx(0.25)


def test_ned_nearest_object_with_a_redshift(fake):
    assert source(fake).spectroscopic_redshift(RA, DEC, radius_arcsec=3.0) == pytest.approx(0.0052)
    (ned_request,) = fake.requests_to(NED_PATH)
    assert ned_request.query["search_type"] == "Near Position Search"
    assert ned_request.query["of"] == "xml_main"
    assert ned_request.query["lon"] == f"{RA}d" and ned_request.query["lat"] == f"{DEC}d"
    assert float(ned_request.query["radius"]) == pytest.approx(0.05)  # arcmin


def test_nothing_anywhere_gives_none(fake):
    fake.route(NED_PATH, Reply(200, ned_table([("X", RA, DEC, None)])))
    assert source(fake).spectroscopic_redshift(RA, DEC) is None


def test_ned_no_object_found_gives_none(fake):
    fake.route(NED_PATH, Reply(200, NED_NOTHING))
    assert source(fake).spectroscopic_redshift(RA, DEC) is None


def test_ned_error_info_is_reported(fake):
    fake.route(NED_PATH, Reply(200, NED_NOTHING.replace(b"No object found.", b"Bad lat value")))
    with pytest.raises(SourceError, match="NED: search failed: Bad lat value"):
        source(fake).spectroscopic_redshift(RA, DEC)


def test_sdss_failure_falls_back_to_ned(fake, caplog):
    fake.fail_next(SQL_PATH, *[Reply(500, "SQL server down")] * 3)
    with caplog.at_level("WARNING"):
        assert source(fake).spectroscopic_redshift(RA, DEC) == pytest.approx(0.0052)
    assert "SDSS redshift look-up failed" in caplog.text


def test_malformed_sdss_reply_falls_back_to_ned(fake):
    fake.route(SQL_PATH, Reply(200, "<html>maintenance</html>"))
    assert source(fake).spectroscopic_redshift(RA, DEC) == pytest.approx(0.0052)


def test_ned_html_answer_means_too_many_requests(fake):
    fake.route(NED_PATH, Reply(200, "<html><body>Too many requests<br></body>"))
    with pytest.raises(RateLimitedError, match="NED: answer is not a VOTable"):
        source(fake).spectroscopic_redshift(RA, DEC)


def test_ned_server_errors_are_retried(fake):
    fake.fail_next(NED_PATH, Reply(502), Reply(503))
    assert source(fake).spectroscopic_redshift(RA, DEC) == pytest.approx(0.0052)
    assert len(fake.requests_to(NED_PATH)) == 3


def test_ned_persistent_errors_raise(fake):
    fake.fail_next(NED_PATH, *[Reply(503)] * 3)
    with pytest.raises(SourceError, match=r"^NED: gave up after 3 tries, last: HTTP 503"):
        source(fake).spectroscopic_redshift(RA, DEC)


def test_ned_rate_limit_is_honoured(fake):
    fake.fail_next(NED_PATH, Reply(429, "", {"Retry-After": "4"}))
    delays, sleep = recording_sleep()
    assert source(fake, sleep=sleep).spectroscopic_redshift(RA, DEC) == pytest.approx(0.0052)
    assert delays == [4.0]


def test_ned_timeout_is_an_error(fake):
    settings = HttpSettings(timeout_s=0.2, max_tries=2, backoff_s=0.001, max_backoff_s=0.001)
    fake.fail_next(NED_PATH, *[Reply(200, NED_TWO_GALAXIES, delay_s=1.0)] * 2)
    with pytest.raises(SourceError, match="NED: .*timed out"):
        source(fake, settings).spectroscopic_redshift(RA, DEC)


def test_ned_table_without_redshift_column_is_an_error(fake):
    fake.route(NED_PATH, Reply(200, votable_bytes({"Object Name": np.array(["A"], dtype="U5")})))
    with pytest.raises(SourceError, match="lacks Redshift/RA/DEC columns"):
        source(fake).spectroscopic_redshift(RA, DEC)


def test_one_request_at_a_time_per_service_by_default():
    with FakeService(hold_s=0.03) as fake:
        fake.route(SQL_PATH, NO_SDSS)
        fake.route(NED_PATH, Reply(200, NED_TWO_GALAXIES))
        redshifts = source(fake)
        with ThreadPoolExecutor(max_workers=8) as executor:
            results = list(
                executor.map(lambda _i: redshifts.spectroscopic_redshift(RA, DEC), range(8))
            )
        assert results == [pytest.approx(0.0052)] * 8
        # SDSS and NED each allow one request: at most one of each in flight.
        assert fake.max_in_flight <= 2


def test_bad_input_is_rejected(fake):
    with pytest.raises(ValueError, match="position out of range"):
        source(fake).spectroscopic_redshift(RA, 95.0)
    with pytest.raises(ValueError, match="radius"):
        source(fake).spectroscopic_redshift(RA, DEC, radius_arcsec=0)
