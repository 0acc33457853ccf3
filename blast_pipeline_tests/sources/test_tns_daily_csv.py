"""Daily staging CSV: download through the client and parsing of the real file layout."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fake_tns import (
    FakeTNSServer,
    ScriptedResponse,
    daily_csv_path,
    make_daily_csv_zip,
)

from blast_pipeline.sources.base import RateLimitedError
from blast_pipeline.sources.tns import (
    TNSClient,
    TNSCredentials,
    TNSMalformedReply,
    TNSNotFound,
    TNSObject,
    TNSReplyError,
    parse_daily_csv,
)

API_KEY = "daily-csv-secret-key-xyz"
DAY = date(2024, 1, 15)

ROW_SN = {
    "objid": "140001",
    "name_prefix": "SN",
    "name": "2024abc",
    "ra": "150.123456",
    "declination": "-2.5",
    "redshift": "0.0421",
    "type": "SN Ia",
    "discoverydate": "2024-01-14 03:04:05.500",
    "internal_names": "ZTF24aaaaaaa, ATLAS24abc",
}
ROW_AT = {
    "objid": "140002",
    "name_prefix": "AT",
    "name": "2024abd",
    "ra": "10",
    "declination": "20",
    "redshift": "NaN",
    "type": "",
    "discoverydate": "2024-01-15 00:00:00.000",
}


@pytest.fixture
def server() -> Iterator[FakeTNSServer]:
    with FakeTNSServer(api_key=API_KEY, bot_name="blast_bot", bot_id=7) as fake:
        yield fake


@pytest.fixture
def client(server: FakeTNSServer) -> TNSClient:
    credentials = TNSCredentials(api_key=API_KEY, bot_name="blast_bot", bot_id=7)
    return TNSClient(
        credentials, base_url=server.base_url, max_rate_limit_wait_s=10, sleep=lambda _: None
    )


def test_parse_real_layout_with_nan_redshift() -> None:
    report = parse_daily_csv(make_daily_csv_zip([ROW_SN, ROW_AT]))

    assert report.skipped == []
    assert report.objects == [
        TNSObject(
            name="2024abc",
            tns_id=140001,
            ra_deg=150.123456,
            dec_deg=-2.5,
            tns_prefix="SN",
            public_timestamp=datetime(2024, 1, 14, 3, 4, 5, 500000, tzinfo=UTC),
            spectroscopic_class="SN Ia",
            redshift=0.0421,
        ),
        TNSObject(
            name="2024abd",
            tns_id=140002,
            ra_deg=10.0,
            dec_deg=20.0,
            tns_prefix="AT",
            public_timestamp=datetime(2024, 1, 15, tzinfo=UTC),
            spectroscopic_class=None,
            redshift=None,
        ),
    ]


def test_parse_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "tns_public_objects_20240115.csv.zip"
    path.write_bytes(make_daily_csv_zip([ROW_SN]))
    assert [obj.name for obj in parse_daily_csv(path).objects] == ["2024abc"]
    assert [obj.name for obj in parse_daily_csv(str(path)).objects] == ["2024abc"]


def test_bad_rows_are_reported_with_their_line_and_reason() -> None:
    rows = [
        ROW_SN,
        {**ROW_AT, "name": "AT2024bad"},
        {**ROW_AT, "name": "2024noid", "objid": ""},
        {**ROW_AT, "name": "2024date", "discoverydate": "yesterday"},
        {**ROW_AT, "name": "2024z", "redshift": "high"},
    ]
    zip_bytes = make_daily_csv_zip(rows, raw_lines=['"1","SN","2024short"'])

    report = parse_daily_csv(zip_bytes)

    assert [obj.name for obj in report.objects] == ["2024abc"]
    reasons = {s.name: (s.kind, s.reason) for s in report.skipped}
    assert reasons["AT2024bad"][0] == "invalid_name"
    assert reasons["AT2024bad"][1].startswith("line 4: ")
    assert "objid" in reasons["2024noid"][1]
    assert "discoverydate 'yesterday'" in reasons["2024date"][1]
    assert "redshift 'high' is not a decimal number" in reasons["2024z"][1]
    assert reasons["line 8"] == ("invalid_object", "line 8: 3 fields where the header has 21")
    assert len(report.skipped) == 5


def test_header_on_first_line_is_rejected() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.csv", "objid,name,ra\n1,2024abc,1\n")
    with pytest.raises(TNSMalformedReply, match="header on line 1"):
        parse_daily_csv(buffer.getvalue())


def test_missing_columns_are_named() -> None:
    header = ["objid", "name", "ra", "declination", "name_prefix"]
    with pytest.raises(
        TNSMalformedReply, match=r"lacks columns \['discoverydate', 'type', 'redshift'\]"
    ):
        parse_daily_csv(make_daily_csv_zip([], header=header))


def test_not_a_zip_or_several_csvs() -> None:
    with pytest.raises(TNSMalformedReply, match="not a valid zip"):
        parse_daily_csv(b"objid,name\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(TNSMalformedReply, match="exactly one .csv"):
        parse_daily_csv(buffer.getvalue())


def test_download_posts_marker_and_key(server: FakeTNSServer, client: TNSClient) -> None:
    content = make_daily_csv_zip([ROW_SN])
    server.set_daily_csv(DAY, content)

    assert client.download_daily_csv(DAY) == content

    (call,) = server.calls
    assert call.path == "/system/files/tns_public_objects/tns_public_objects_20240115.csv.zip"
    assert (
        call.headers["user-agent"] == 'tns_marker{"tns_id": "7","type": "bot", "name": "blast_bot"}'
    )
    assert call.form == {"api_key": API_KEY}


def test_download_missing_day_is_not_found(client: TNSClient) -> None:
    with pytest.raises(TNSNotFound, match="2024-01-15"):
        client.download_daily_csv(DAY)


def test_download_rate_limited_then_ok(server: FakeTNSServer, client: TNSClient) -> None:
    server.set_daily_csv(DAY, make_daily_csv_zip([ROW_SN]))
    server.script(daily_csv_path(DAY), ScriptedResponse.rate_limited("2", http_status=429))
    assert parse_daily_csv(client.download_daily_csv(DAY)).objects[0].name == "2024abc"

    server.script(daily_csv_path(DAY), *[ScriptedResponse.rate_limited("9")] * 3)
    with pytest.raises(RateLimitedError):
        client.download_daily_csv(DAY)


def test_download_error_replies(server: FakeTNSServer, client: TNSClient) -> None:
    server.script(daily_csv_path(DAY), ScriptedResponse(status=200, body=b"<html>login</html>"))
    with pytest.raises(TNSMalformedReply, match="did not return a zip"):
        client.download_daily_csv(DAY)

    wrong = TNSClient(
        TNSCredentials(api_key="not-the-key", bot_name="blast_bot", bot_id=7),
        base_url=server.base_url,
    )
    with pytest.raises(TNSReplyError, match="401") as caught:
        wrong.download_daily_csv(DAY)
    assert "not-the-key" not in str(caught.value)
