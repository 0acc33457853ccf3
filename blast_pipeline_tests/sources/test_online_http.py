"""The HTTP layer: retries, back-off, 429 handling, error messages and per-service pools."""

from __future__ import annotations

import email.utils
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from online_fake_services import FakeService, Reply, recording_sleep  # noqa: E402

from blast_pipeline.sources.base import RateLimitedError, SourceError  # noqa: E402
from blast_pipeline.sources.http import (  # noqa: E402
    HttpSettings,
    ServiceHttp,
    ServicePools,
    redact_url,
    retry_after_seconds,
)

SETTINGS = HttpSettings(timeout_s=5, max_tries=3, backoff_s=0.001, max_backoff_s=0.002)


@pytest.fixture
def fake():
    with FakeService() as service:
        service.route("/ok", Reply(200, "fine"))
        yield service


def client(settings: HttpSettings = SETTINGS, **kwargs) -> ServiceHttp:
    kwargs.setdefault("pools", ServicePools())
    kwargs.setdefault("sleep", lambda _s: None)
    return ServiceHttp("TestService", settings, **kwargs)


def test_success_returns_the_response(fake):
    assert client().get(fake.url("/ok")).text == "fine"


def test_client_errors_are_not_retried(fake):
    fake.fail_next("/ok", Reply(400, "bad request"))
    with pytest.raises(SourceError, match=r"^TestService: HTTP 400 Bad Request \(http://127"):
        client().get(fake.url("/ok"))
    assert len(fake.requests_to("/ok")) == 1


def test_not_found_can_mean_none(fake):
    assert client().get_if_found(fake.url("/missing")) is None
    with pytest.raises(SourceError, match="HTTP 404"):
        client().get(fake.url("/missing"))


def test_backoff_between_server_errors(fake):
    fake.fail_next("/ok", Reply(500), Reply(503))
    delays, sleep = recording_sleep()
    settings = HttpSettings(max_tries=3, backoff_s=0.5, max_backoff_s=30, jitter=0.0)
    assert client(settings, sleep=sleep).get(fake.url("/ok")).text == "fine"
    assert delays == [0.5, 1.0]


def test_backoff_is_capped_and_jittered():
    settings = HttpSettings(backoff_s=1.0, max_backoff_s=4.0, jitter=0.25)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)):
        delay = settings.backoff_delay(attempt)
        assert base <= delay <= base * 1.25


def test_retry_after_too_long_gives_up_at_once(fake):
    fake.fail_next("/ok", Reply(429, "", {"Retry-After": "3600"}))
    delays, sleep = recording_sleep()
    settings = HttpSettings(max_tries=3, max_retry_after_s=60)
    with pytest.raises(RateLimitedError, match="asked to wait 3600 s"):
        client(settings, sleep=sleep).get(fake.url("/ok"))
    assert delays == []
    assert len(fake.requests_to("/ok")) == 1


def test_rate_limit_without_retry_after_uses_backoff(fake):
    fake.fail_next("/ok", Reply(429, "too many"))
    delays, sleep = recording_sleep()
    settings = HttpSettings(max_tries=2, backoff_s=0.25, jitter=0.0)
    assert client(settings, sleep=sleep).get(fake.url("/ok")).text == "fine"
    assert delays == [0.25]


def test_retry_after_http_date_is_understood():
    assert retry_after_seconds("12") == 12.0
    later = email.utils.formatdate(time.time() + 100, usegmt=True)
    assert 90 < retry_after_seconds(later) <= 100
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_connection_refused_is_reported_after_all_tries():
    with FakeService() as closed:
        url = closed.url("/ok")
    with pytest.raises(SourceError, match="gave up after 3 tries, last: connection failed"):
        client().get(url)


def test_secrets_never_appear_in_errors(fake):
    fake.fail_next("/ok", *[Reply(500)] * 3)
    with pytest.raises(SourceError) as error:
        client().get(fake.url("/ok"), params={"api_key": "SECRET123", "ra": "1.5"})
    assert "SECRET123" not in str(error.value)
    assert "ra=1.5" in str(error.value) and "api_key=%2A%2A%2A" in str(error.value)
    assert "hunter2" not in redact_url("https://user:hunter2@example.org/x?token=abc&b=2")
    assert "abc" not in redact_url("https://user:hunter2@example.org/x?token=abc&b=2")


def test_settings_are_validated():
    with pytest.raises(ValueError, match="max_tries"):
        HttpSettings(max_tries=0)
    with pytest.raises(ValueError, match="pool_size"):
        HttpSettings(pool_size=0)
    with pytest.raises(ValueError, match="timeout_s"):
        HttpSettings(timeout_s=0)


def _hammer(http: ServiceHttp, url: str, calls: int) -> list[str]:
    with ThreadPoolExecutor(max_workers=calls) as executor:
        return list(executor.map(lambda _i: http.get(url).text, range(calls)))


def test_pool_limits_concurrent_requests_per_service():
    with FakeService(hold_s=0.05) as fake:
        fake.route("/ok", Reply(200, "fine"))
        http = client(HttpSettings(pool_size=3))
        assert _hammer(http, fake.url("/ok"), 24) == ["fine"] * 24
        assert 2 <= fake.max_in_flight <= 3


def test_without_a_small_pool_the_requests_do_overlap():
    """Control for the test above: the fake server does see concurrency when allowed."""
    with FakeService(hold_s=0.05) as fake:
        fake.route("/ok", Reply(200, "fine"))
        _hammer(client(HttpSettings(pool_size=24)), fake.url("/ok"), 24)
        assert fake.max_in_flight > 3


def test_clients_of_one_service_share_its_pool():
    pools = ServicePools()
    with FakeService(hold_s=0.05) as fake:
        fake.route("/ok", Reply(200, "fine"))
        first = client(HttpSettings(pool_size=2), pools=pools)
        second = client(HttpSettings(pool_size=2), pools=pools)
        with ThreadPoolExecutor(max_workers=24) as executor:
            list(executor.map(lambda i: (first, second)[i % 2].get(fake.url("/ok")), range(24)))
        assert fake.max_in_flight <= 2
