"""TNSClient against the fake TNS server: requests, rate limiting, retries, error replies."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fake_tns import (
    OBJECT_PATH,
    SEARCH_PATH,
    FakeTNSServer,
    ScriptedResponse,
    make_tns_object_reply,
)

from blast_pipeline.sources.base import RateLimitedError, SourceError
from blast_pipeline.sources.tns import (
    InvalidTNSName,
    TNSClient,
    TNSCredentials,
    TNSMalformedReply,
    TNSNotFound,
    TNSObject,
    TNSReplyError,
)

API_KEY = "s3cr3t-TNS-key-0123456789abcdef"
BOT_NAME = "blast_bot"
BOT_ID = 98765
NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FakeTNSServer]:
    with FakeTNSServer(api_key=API_KEY, bot_name=BOT_NAME, bot_id=BOT_ID) as fake:
        yield fake


@pytest.fixture
def credentials() -> TNSCredentials:
    return TNSCredentials(api_key=API_KEY, bot_name=BOT_NAME, bot_id=BOT_ID)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(
    server: FakeTNSServer, credentials: TNSCredentials, sleeps: list[float]
) -> Iterator[TNSClient]:
    with TNSClient(
        credentials,
        base_url=server.base_url,
        timeout_s=5,
        max_rate_limit_wait_s=20,
        sleep=sleeps.append,
        max_retries=2,
        retry_backoff_s=0.5,
    ) as tns:
        yield tns


def _add(server: FakeTNSServer, name: str, minutes_ago: float, **fields: object) -> None:
    public = NOW - timedelta(minutes=minutes_ago)
    reply = make_tns_object_reply(name, discoverydate="2024-01-14 03:04:05.500", **fields)
    server.add_object(reply, public_timestamp=public)


def _assert_no_key(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc)
    assert API_KEY not in text


# ---- happy path and request format -------------------------------------------------------


def test_fetch_recent_searches_the_window_then_gets_each_object(
    server: FakeTNSServer, client: TNSClient
) -> None:
    _add(server, "2024abc", 10, objid=111, ra_deg=10.5, dec_deg=-20.25, redshift=0.031)
    _add(server, "2024abd", 150, objid=112, object_type=None, redshift=None, name_prefix="AT")
    _add(server, "2023zzz", 201)  # outside the 200-minute window

    report = client.fetch_recent(window_minutes=200, now=NOW)

    assert report.skipped == []
    assert [obj.name for obj in report.objects] == ["2024abd", "2024abc"]
    assert report.objects[1] == TNSObject(
        name="2024abc",
        tns_id=111,
        ra_deg=10.5,
        dec_deg=-20.25,
        tns_prefix="SN",
        public_timestamp=datetime(2024, 1, 14, 3, 4, 5, 500000, tzinfo=UTC),
        spectroscopic_class="SN Ia",
        redshift=0.031,
    )
    assert report.objects[0].spectroscopic_class is None
    assert report.objects[0].redshift is None
    assert report.objects[0].tns_prefix == "AT"
    assert server.call_count(SEARCH_PATH) == 1
    assert server.call_count(OBJECT_PATH) == 2


def test_requests_carry_exact_marker_header_and_form_fields(
    server: FakeTNSServer, client: TNSClient
) -> None:
    _add(server, "2024abc", 10)

    client.fetch_recent(window_minutes=200, now=NOW)

    search_call, object_call = server.calls
    expected_marker = f'tns_marker{{"tns_id": "{BOT_ID}","type": "bot", "name": "{BOT_NAME}"}}'
    for call in (search_call, object_call):
        assert call.headers["user-agent"] == expected_marker
        assert call.headers["content-type"] == "application/x-www-form-urlencoded"
        assert set(call.form) == {"api_key", "data"}
        assert call.form["api_key"] == API_KEY
    assert search_call.path == "/api/get/search"
    assert search_call.form["data"] == json.dumps(
        {"public_timestamp": (NOW - timedelta(minutes=200)).isoformat()}
    )
    assert search_call.form["data"] == '{"public_timestamp": "2024-01-15T08:40:00+00:00"}'
    assert object_call.path == "/api/get/object"
    assert object_call.form["data"] == '{"objname": "2024abc", "photometry": "0", "spectra": "0"}'


def test_search_rejects_naive_datetime(client: TNSClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        client.search(datetime(2024, 1, 1))


def test_empty_search_gives_empty_results(server: FakeTNSServer, client: TNSClient) -> None:
    assert client.search(NOW) == []
    report = client.fetch_recent(now=NOW)
    assert report.objects == [] and report.skipped == []
    server.script(SEARCH_PATH, ScriptedResponse.json_reply(200, "OK", {}))
    assert client.search(NOW) == []
    assert server.call_count(OBJECT_PATH) == 0


def test_unknown_object_is_not_found(server: FakeTNSServer, client: TNSClient) -> None:
    with pytest.raises(TNSNotFound, match="2099xyz"):
        client.get_object("2099xyz")
    server.script(OBJECT_PATH, ScriptedResponse.json_reply(404, "Not found", http_status=404))
    with pytest.raises(TNSNotFound):
        client.get_object("2099xyz")


# ---- rate limiting -----------------------------------------------------------------------


@pytest.mark.parametrize("http_status", [200, 429])
def test_rate_limit_sleeps_reset_plus_one_then_resends(
    server: FakeTNSServer, client: TNSClient, sleeps: list[float], http_status: int
) -> None:
    _add(server, "2024abc", 10)
    server.script(SEARCH_PATH, ScriptedResponse.rate_limited(reset="3", http_status=http_status))

    assert client.search(NOW - timedelta(hours=1)) == ["2024abc"]

    assert sleeps == [4]
    assert server.call_count(SEARCH_PATH) == 2


def test_unparsable_reset_header_waits_sixty_one_seconds(
    server: FakeTNSServer, credentials: TNSCredentials, sleeps: list[float]
) -> None:
    server.script(
        SEARCH_PATH,
        ScriptedResponse.rate_limited(reset="soon"),
        ScriptedResponse.rate_limited(reset=None),
    )
    client = TNSClient(
        credentials, base_url=server.base_url, max_rate_limit_wait_s=200, sleep=sleeps.append
    )
    assert client.search(NOW) == []
    assert sleeps == [61, 61]


def test_rate_limit_budget_exhausted_raises(
    server: FakeTNSServer, client: TNSClient, sleeps: list[float]
) -> None:
    # Budget 20 s: waits of 6 + 6 + 6 fit, the fourth (6 more) would not.
    server.script(SEARCH_PATH, *[ScriptedResponse.rate_limited(reset="5")] * 10)

    with pytest.raises(RateLimitedError, match="/api/get/search") as caught:
        client.search(NOW)

    assert sleeps == [6, 6, 6]
    assert server.call_count(SEARCH_PATH) == 4
    _assert_no_key(caught.value)


def test_rate_limited_object_fetch_skips_the_rest(server: FakeTNSServer, client: TNSClient) -> None:
    _add(server, "2024aaa", 30)
    _add(server, "2024bbb", 20)
    _add(server, "2024ccc", 10)
    server.script(
        OBJECT_PATH, ScriptedResponse.json_reply(200, "OK", make_tns_object_reply("2024aaa"))
    )
    server.script(OBJECT_PATH, *[ScriptedResponse.rate_limited(reset="30")] * 3)

    report = client.fetch_recent(now=NOW)

    assert [obj.name for obj in report.objects] == ["2024aaa"]
    assert [(s.name, s.kind) for s in report.skipped] == [
        ("2024bbb", "rate_limited"),
        ("2024ccc", "rate_limited"),
    ]
    assert server.call_count(OBJECT_PATH) == 2  # no attempt for 2024ccc


# ---- server errors, connection errors, malformed replies ---------------------------------


def test_server_error_then_success(
    server: FakeTNSServer, client: TNSClient, sleeps: list[float]
) -> None:
    _add(server, "2024abc", 10)
    server.script(SEARCH_PATH, ScriptedResponse.server_error(502), ScriptedResponse.dropped())

    assert client.search(NOW - timedelta(hours=1)) == ["2024abc"]

    assert sleeps == [0.5, 1.0]
    assert server.call_count(SEARCH_PATH) == 3


def test_persistent_server_error_raises_source_error(
    server: FakeTNSServer, client: TNSClient
) -> None:
    server.script(SEARCH_PATH, *[ScriptedResponse.server_error(503)] * 5)

    with pytest.raises(SourceError, match=r"/api/get/search failed 3 times.*HTTP 503") as caught:
        client.search(NOW)

    assert not isinstance(caught.value, RateLimitedError)
    assert server.call_count(SEARCH_PATH) == 3
    _assert_no_key(caught.value)


def test_connection_refused_raises_source_error(
    credentials: TNSCredentials, sleeps: list[float]
) -> None:
    with FakeTNSServer() as stopped:
        url = stopped.base_url
    client = TNSClient(credentials, base_url=url, sleep=sleeps.append, max_retries=1)
    with pytest.raises(SourceError, match="ConnectionError") as caught:
        client.search(NOW)
    assert len(sleeps) == 1
    _assert_no_key(caught.value)


def test_malformed_json_names_the_endpoint(server: FakeTNSServer, client: TNSClient) -> None:
    server.script(SEARCH_PATH, ScriptedResponse.malformed_json())
    with pytest.raises(TNSMalformedReply, match=r"/api/get/search returned malformed JSON"):
        client.search(NOW)

    server.script(OBJECT_PATH, ScriptedResponse(status=200, body=b"<html>maintenance</html>"))
    with pytest.raises(TNSMalformedReply, match=r"/api/get/object.*maintenance"):
        client.get_object("2024abc")


def test_search_data_of_wrong_shape_is_malformed(server: FakeTNSServer, client: TNSClient) -> None:
    server.script(SEARCH_PATH, ScriptedResponse.json_reply(200, "OK", [{"name": "2024abc"}]))
    with pytest.raises(TNSMalformedReply, match="objname"):
        client.search(NOW)


def test_error_id_code_raises_with_message(server: FakeTNSServer, client: TNSClient) -> None:
    server.script(SEARCH_PATH, ScriptedResponse.json_reply(400, "Bad request: wrong timestamp"))
    with pytest.raises(TNSReplyError, match="id_code 400: Bad request: wrong timestamp") as caught:
        client.search(NOW)
    assert caught.value.id_code == 400
    assert caught.value.endpoint == SEARCH_PATH


def test_wrong_credentials_are_refused_without_leaking_the_key(
    server: FakeTNSServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = "wrong-key-abcdef-123456"
    client = TNSClient(
        TNSCredentials(api_key=wrong_key, bot_name=BOT_NAME, bot_id=BOT_ID),
        base_url=server.base_url,
        sleep=lambda _: None,
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TNSReplyError, match="id_code 401: Unauthorized") as caught:
        client.search(NOW)
    assert caught.value.id_code == 401
    assert wrong_key not in "".join(traceback.format_exception(caught.value))
    assert all(wrong_key not in record.getMessage() for record in caplog.records)

    other_bot = TNSClient(
        TNSCredentials(api_key=API_KEY, bot_name="someone_else", bot_id=BOT_ID),
        base_url=server.base_url,
    )
    with pytest.raises(TNSReplyError, match="401"):
        other_bot.search(NOW)


def test_key_echoed_by_the_server_is_redacted(
    server: FakeTNSServer, client: TNSClient, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"bad api_key={API_KEY}".encode()
    server.script(SEARCH_PATH, *[ScriptedResponse(status=500, body=echo)] * 3)
    server.script(OBJECT_PATH, ScriptedResponse(status=403, body=echo))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SourceError) as search_error:
        client.search(NOW)
    with pytest.raises(TNSReplyError) as object_error:
        client.get_object("2024abc")

    for exc in (search_error.value, object_error.value):
        _assert_no_key(exc)
        assert "<redacted>" in str(exc)
    assert caplog.records, "retries should have been logged"
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


def test_key_across_the_snippet_cut_is_redacted(server: FakeTNSServer, client: TNSClient) -> None:
    # 195 characters, then the key: a 200-character cut before redaction leaves its start
    echo = ("e" * 195 + API_KEY).encode()
    server.script(OBJECT_PATH, ScriptedResponse(status=403, body=echo))
    with pytest.raises(TNSReplyError) as error:
        client.get_object("2024abc")
    assert API_KEY[:5] not in str(error.value)


def test_key_never_in_logs_or_errors_of_a_troubled_fetch(
    server: FakeTNSServer, client: TNSClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _add(server, "2024abc", 10)
    _add(server, "2024abd", 20)
    server.script(SEARCH_PATH, ScriptedResponse.rate_limited("1"), ScriptedResponse.server_error())
    server.script(OBJECT_PATH, *[ScriptedResponse.server_error()] * 3)

    report = client.fetch_recent(now=NOW)

    assert [s.kind for s in report.skipped] == ["service_error"]
    assert [obj.name for obj in report.objects] == ["2024abc"]
    assert len(caplog.records) >= 4
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in str(record.args)
    assert all(API_KEY not in s.reason for s in report.skipped)
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(report)


# ---- invalid objects ---------------------------------------------------------------------


def test_invalid_names_and_objects_are_reported_not_lost(
    server: FakeTNSServer, client: TNSClient
) -> None:
    _add(server, "2024good", 5)
    _add(server, "SN2024bad", 6)  # the prefix must not be part of the name
    _add(server, "2024noradec", 7, radeg=None)
    _add(server, "2024baddec", 8, dec_deg=123.0)

    report = client.fetch_recent(now=NOW)

    assert [obj.name for obj in report.objects] == ["2024good"]
    skipped = {s.name: s for s in report.skipped}
    assert set(skipped) == {"SN2024bad", "2024noradec", "2024baddec"}
    assert skipped["SN2024bad"].kind == "invalid_name"
    assert "SN/AT prefix" in skipped["SN2024bad"].reason
    assert skipped["2024noradec"].kind == "invalid_object"
    assert "radeg" in skipped["2024noradec"].reason
    assert "decdeg 123.0 is outside" in skipped["2024baddec"].reason
    # The invalid name was skipped without spending an object call on it.
    assert [call.data["objname"] for call in server.calls[1:]] == [
        "2024baddec",
        "2024noradec",
        "2024good",
    ]


def test_get_object_with_invalid_name_in_reply(server: FakeTNSServer, client: TNSClient) -> None:
    server.script(
        OBJECT_PATH, ScriptedResponse.json_reply(200, "OK", make_tns_object_reply("bad name"))
    )
    with pytest.raises(InvalidTNSName):
        client.get_object("2024abc")


def test_fetch_recent_requires_aware_now(client: TNSClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        client.fetch_recent(now=datetime(2024, 1, 1))
