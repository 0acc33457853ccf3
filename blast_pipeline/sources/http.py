"""A small HTTP layer for the online services: timeouts, retries, rate limits, concurrency pools.

Every online client talks to its service through a :class:`ServiceHttp`. It retries connection
errors, timeouts and 5xx answers with exponential back-off plus jitter, honours ``429`` answers
with their ``Retry-After`` delay (up to a maximum wait), and holds a per-service
:class:`threading.BoundedSemaphore` while a request is in flight, so that the 24 parallel filter
downloads of one transient never hit one service with more than ``pool_size`` requests at once.
When the budget is spent it raises a ``SourceError`` subclass naming the service and the URL
(secret-looking query values are redacted).
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from blast_pipeline.sources.base import (
    CutoutDownloadError,
    RateLimitedError,
    SourceError,
)

logger = logging.getLogger(__name__)

USER_AGENT = "blast-pipeline/0.1 (+https://github.com/scimma/blast)"

#: Query parameters whose values never appear in error messages or logs.
_SECRET_PARAM = re.compile(r"(key|token|secret|pass|auth|sig|session|cred)", re.IGNORECASE)


class CutoutRateLimitedError(CutoutDownloadError, RateLimitedError):
    """A cutout service kept answering 429: both a cutout download error and a rate limit."""


@dataclass(frozen=True)
class HttpSettings:
    """How hard and how often one service is asked.

    ``timeout_s``: per request (connect and each read); ``max_tries``: attempts per request,
    the first one included; ``backoff_s``/``max_backoff_s``: exponential back-off between tries
    (``backoff_s * 2**(try-1)``, capped, plus up to ``jitter`` of it at random);
    ``max_retry_after_s``: the longest total wait a service may ask for with ``429 Retry-After``
    before we give up; ``pool_size``: concurrent requests per service.
    """

    timeout_s: float = 30.0
    max_tries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    jitter: float = 0.25
    max_retry_after_s: float = 120.0
    pool_size: int = 4

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"HttpSettings.timeout_s must be positive, got {self.timeout_s}")
        if self.max_tries < 1:
            raise ValueError(f"HttpSettings.max_tries must be at least 1, got {self.max_tries}")
        if self.pool_size < 1:
            raise ValueError(f"HttpSettings.pool_size must be at least 1, got {self.pool_size}")
        if min(self.backoff_s, self.max_backoff_s, self.jitter, self.max_retry_after_s) < 0:
            raise ValueError("HttpSettings back-off, jitter and wait limits must be >= 0")

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based), jitter included."""
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return delay + random.uniform(0.0, self.jitter * delay)


class ServicePools:
    """One bounded semaphore per service name, shared by every client of that service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, tuple[int, threading.BoundedSemaphore]] = {}

    def get(self, service: str, size: int) -> threading.BoundedSemaphore:
        """The pool of ``service``; created with ``size`` slots on first use.

        A later request for a different size keeps the existing pool (and logs it): two
        differently sized pools for one service would break the limit."""
        with self._lock:
            existing = self._pools.get(service)
            if existing is None:
                semaphore = threading.BoundedSemaphore(size)
                self._pools[service] = (size, semaphore)
                return semaphore
            existing_size, semaphore = existing
            if existing_size != size:
                logger.warning(
                    "%s: concurrency pool already exists with %d slots; ignoring size %d",
                    service,
                    existing_size,
                    size,
                )
            return semaphore


#: The process-wide pools used when a client is not given its own.
DEFAULT_POOLS = ServicePools()


def redact_url(url: str) -> str:
    """The URL without user info and with secret-looking query values replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (name, "***" if _SECRET_PARAM.search(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


#: ``name=value`` / ``name: value`` pairs in free text whose value is secret-looking.
_SECRET_PAIR = re.compile(
    r"((?:key|token|secret|pass|auth|sig|session|cred)[\w-]*[\"']?\s*[=:]\s*[\"']?)"
    r"([^\s&\"'<>,;]+)",
    re.IGNORECASE,
)
REDACTED = "<redacted>"
SNIPPET_CHARS = 200


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given secret, and the value of every secret-looking ``name=value``
    pair (``api_key=...``, ``"token": "..."``), replaced by ``<redacted>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)


def body_snippet(text: str | bytes, secrets: Iterable[str] = (), limit: int = SNIPPET_CHARS) -> str:
    """A response body (or any service text) fit for a message or log: redacted **first**, so
    that no cut can leave part of a secret, then whitespace-collapsed and cut to ``limit``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = " ".join(redact_text(text, secrets).split())
    return text if len(text) <= limit else text[:limit] + "..."


def retry_after_seconds(value: str | None) -> float | None:
    """The delay asked for by a ``Retry-After`` header (seconds or an HTTP date), if readable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ServiceHttp:
    """HTTP access to one named service with retries, back-off, rate limits and a pool."""

    def __init__(
        self,
        service: str,
        settings: HttpSettings | None = None,
        *,
        pools: ServicePools | None = None,
        error_class: type[SourceError] = SourceError,
        rate_limited_error_class: type[SourceError] = RateLimitedError,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.settings = settings or HttpSettings()
        self.error_class = error_class
        self.rate_limited_error_class = rate_limited_error_class
        self._pool = (pools or DEFAULT_POOLS).get(service, self.settings.pool_size)
        self._sleep = sleep
        self._session = session or self._new_session(self.settings.pool_size)

    @classmethod
    def for_cutouts(
        cls,
        service: str,
        settings: HttpSettings | None = None,
        *,
        pools: ServicePools | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> ServiceHttp:
        """A client whose failures raise ``CutoutDownloadError`` (as ``CutoutSource`` promises)."""
        return cls(
            service,
            settings,
            pools=pools,
            error_class=CutoutDownloadError,
            rate_limited_error_class=CutoutRateLimitedError,
            sleep=sleep,
        )

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, pool_size), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        return session

    def pause(self, seconds: float) -> None:
        """Wait between polls of a slow service (the injectable sleep, so tests stay fast)."""
        self._sleep(seconds)

    def error(self, problem: str, url: str | None = None) -> SourceError:
        """A service error naming the service (and the redacted URL, when given)."""
        where = f" ({redact_url(url)})" if url else ""
        return self.error_class(f"{self.service}: {problem}{where}")

    def get(self, url: str, params: Mapping[str, object] | None = None) -> requests.Response:
        """GET with retries; any final non-2xx answer raises ``error_class``."""
        response = self.request("GET", url, params=params)
        assert response is not None  # only not_found_ok requests return None
        return response

    def get_if_found(
        self, url: str, params: Mapping[str, object] | None = None
    ) -> requests.Response | None:
        """GET with retries; a 404 answer returns ``None`` instead of raising."""
        return self.request("GET", url, params=params, not_found_ok=True)

    def post(self, url: str, data: Mapping[str, object] | str | None = None) -> requests.Response:
        """POST a form with retries; any final non-2xx answer raises ``error_class``."""
        response = self.request("POST", url, data=data)
        assert response is not None
        return response

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | str | None = None,
        headers: Mapping[str, str] | None = None,
        not_found_ok: bool = False,
    ) -> requests.Response | None:
        """Send a request, retrying transient failures; raise ``error_class`` when out of budget.

        Retried: connection errors, timeouts, 5xx, and 429 (after its ``Retry-After``). Other
        4xx answers raise at once (a 404 returns ``None`` when ``not_found_ok``)."""
        settings = self.settings
        shown_url = requests.Request(method, url, params=params).prepare().url or url
        rate_limit_waited = 0.0
        last_problem = "no attempt made"
        for attempt in range(1, settings.max_tries + 1):
            wait: float | None = None
            try:
                with self._pool:
                    response = self._session.request(
                        method,
                        url,
                        params=params,
                        data=data,
                        headers=dict(headers or {}),
                        timeout=settings.timeout_s,
                    )
            except requests.Timeout:
                last_problem = f"timed out after {settings.timeout_s:g} s"
            except requests.ConnectionError as exc:
                last_problem = f"connection failed ({type(exc).__name__})"
            except requests.RequestException as exc:
                detail = redact_text(str(exc), [shown_url, url])  # may quote the URL's secrets
                raise self.error(
                    f"request failed ({type(exc).__name__}: {detail})", shown_url
                ) from None  # the original would carry the URL's secrets into the event log
            else:
                status = response.status_code
                if status == 429:
                    asked = retry_after_seconds(response.headers.get("Retry-After"))
                    wait = asked if asked is not None else settings.backoff_delay(attempt)
                    last_problem = "rate limited (HTTP 429)"
                    if attempt == settings.max_tries:
                        break
                    if rate_limit_waited + wait > settings.max_retry_after_s:
                        raise self.rate_limited_error_class(
                            f"{self.service}: rate limited (HTTP 429), asked to wait "
                            f"{wait:g} s, more than the {settings.max_retry_after_s:g} s allowed "
                            f"({redact_url(shown_url)})"
                        )
                    rate_limit_waited += wait
                elif status >= 500:
                    last_problem = f"HTTP {status} {response.reason or ''}".rstrip()
                elif status == 404 and not_found_ok:
                    return None
                elif status >= 400:
                    raise self.error(f"HTTP {status} {response.reason or ''}".rstrip(), shown_url)
                else:
                    return response
            if attempt < settings.max_tries:
                delay = wait if wait is not None else settings.backoff_delay(attempt)
                logger.info(
                    "%s: %s on try %d/%d, retrying in %.3g s (%s)",
                    self.service,
                    last_problem,
                    attempt,
                    settings.max_tries,
                    delay,
                    redact_url(shown_url),
                )
                self._sleep(delay)
        message = f"gave up after {settings.max_tries} tries, last: {last_problem}"
        if last_problem.startswith("rate limited"):
            raise self.rate_limited_error_class(
                f"{self.service}: {message} ({redact_url(shown_url)})"
            )
        raise self.error(message, shown_url)
