"""The TNS bot API client (reference section 6): ``search``, ``get_object``, ``fetch_recent``
and the daily CSV download, with bounded rate-limit waits and retries. Every message built here
goes through ``TNSClient._redact``, and reply text through ``_snippet``, which removes the API key
before it cuts (a cut key would otherwise leave its first characters in logs and events)."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import requests

from blast_pipeline.names import InvalidTransientName, validate_transient_name
from blast_pipeline.sources.base import RateLimitedError, SourceError
from blast_pipeline.sources.http import REDACTED, body_snippet
from blast_pipeline.sources.tns.credentials import TNSCredentials
from blast_pipeline.sources.tns.model import (
    FetchReport,
    InvalidTNSName,
    InvalidTNSObject,
    SkippedObject,
    TNSMalformedReply,
    TNSNotFound,
    TNSObject,
    TNSReplyError,
)
from blast_pipeline.sources.tns.parsing import tns_object_from_reply

logger = logging.getLogger(__name__)

DEFAULT_TNS_BASE_URL = "https://www.wis-tns.org"
SEARCH_PATH = "/api/get/search"
OBJECT_PATH = "/api/get/object"
DAILY_CSV_DIR = "/system/files/tns_public_objects"

#: Seconds to wait when ``x-rate-limit-reset`` is missing or not an integer (Blast's default).
DEFAULT_RATE_LIMIT_RESET_S = 60
#: Blast's search window: objects made public in the last 200 minutes (run every 240 s).
DEFAULT_WINDOW_MINUTES = 200

_T = TypeVar("_T")


class _RateLimitSignal(Exception):
    """Internal: the reply said "too many requests"; carries the raw reset header."""

    def __init__(self, reset_header: str | None) -> None:
        super().__init__("rate limited")
        self.reset_header = reset_header


def rate_limit_wait_seconds(reset_header: str | None) -> int:
    """Seconds to sleep before resending: ``x-rate-limit-reset`` + 1 (60 + 1 if unparsable)."""
    try:
        reset = int(str(reset_header).strip())
    except ValueError:
        reset = DEFAULT_RATE_LIMIT_RESET_S
    return max(reset, 0) + 1


class TNSClient:
    """The TNS bot API and daily CSV download, with bounded rate-limit waits and retries.

    ``max_rate_limit_wait_s`` bounds the total sleep on "too many requests" for one request;
    ``max_retries`` bounds resends after 5xx / connection errors, with ``retry_backoff_s`` times
    the attempt number between them. ``sleep`` is injectable so tests do not wait.
    """

    def __init__(
        self,
        credentials: TNSCredentials,
        base_url: str = DEFAULT_TNS_BASE_URL,
        timeout_s: float = 30,
        max_rate_limit_wait_s: float = 180,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 2,
        retry_backoff_s: float = 5.0,
    ) -> None:
        if not isinstance(credentials, TNSCredentials):
            raise TypeError("credentials must be a TNSCredentials")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"TNS base_url {base_url!r} must start with http:// or https://")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_rate_limit_wait_s < 0 or max_retries < 0 or retry_backoff_s < 0:
            raise ValueError("max_rate_limit_wait_s, max_retries and retry_backoff_s must be >= 0")
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._session = requests.Session()

    def __repr__(self) -> str:
        return (
            f"TNSClient(base_url={self.base_url!r}, bot_name={self._credentials.bot_name!r}, "
            f"bot_id={self._credentials.bot_id})"
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> TNSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def headers(self) -> dict[str, str]:
        return {"User-Agent": self._credentials.user_agent}

    # ---- API calls ----------------------------------------------------------------------

    def search(self, public_timestamp_after: datetime) -> list[str]:
        """Names of objects whose public timestamp is at or after the given aware datetime."""
        if public_timestamp_after.tzinfo is None:
            raise ValueError("public_timestamp_after must be timezone-aware (UTC)")
        query = {"public_timestamp": public_timestamp_after.astimezone(UTC).isoformat()}
        data = self._api_call(SEARCH_PATH, query)
        if data is None or data == {} or data == []:
            return []
        if not isinstance(data, list):
            raise TNSMalformedReply(
                f"TNS {SEARCH_PATH} returned data of type {type(data).__name__}, expected a list"
            )
        names: list[str] = []
        for entry in data:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("objname"), str):
                raise TNSMalformedReply(
                    self._redact(
                        f"TNS {SEARCH_PATH} returned an entry without a string objname: "
                        f"{self._snippet(repr(entry))}"
                    )
                )
            if entry["objname"] not in names:
                names.append(entry["objname"])
        return names

    def get_object(self, name: str) -> TNSObject:
        """One object by TNS name (without the SN/AT prefix). Raises ``TNSNotFound`` if TNS
        does not know it, ``InvalidTNSObject`` if its reply cannot become a transient."""
        query = {"objname": name, "photometry": "0", "spectra": "0"}
        try:
            data = self._api_call(OBJECT_PATH, query)
        except TNSReplyError as exc:
            if exc.id_code == 404:
                raise TNSNotFound(f"TNS has no object named {name!r}") from None
            raise
        if data is None or data == {} or data == []:
            raise TNSNotFound(f"TNS has no object named {name!r}")
        tns_object = tns_object_from_reply(data)
        if tns_object.name != name:
            raise InvalidTNSObject(
                f"asked TNS for {name!r} but it answered with object {tns_object.name!r}"
            )
        return tns_object

    def fetch_by_names(self, names: list[str]) -> FetchReport:
        """``get_object`` for each name; failures are collected per object, not raised.

        Once the rate-limit budget is exhausted the remaining names are skipped as
        ``rate_limited`` rather than each waiting out its own budget."""
        report = FetchReport()
        for index, name in enumerate(names):
            try:
                validate_transient_name(name)
            except InvalidTransientName as exc:
                report.skipped.append(SkippedObject(str(name), "invalid_name", str(exc)))
                continue
            try:
                report.objects.append(self.get_object(name))
            except InvalidTNSName as exc:
                report.skipped.append(SkippedObject(name, "invalid_name", str(exc)))
            except InvalidTNSObject as exc:
                report.skipped.append(SkippedObject(name, "invalid_object", str(exc)))
            except TNSNotFound as exc:
                report.skipped.append(SkippedObject(name, "not_found", str(exc)))
            except RateLimitedError as exc:
                for remaining in names[index:]:
                    report.skipped.append(SkippedObject(str(remaining), "rate_limited", str(exc)))
                break
            except SourceError as exc:
                report.skipped.append(SkippedObject(name, "service_error", str(exc)))
        for skipped in report.skipped:
            logger.warning(
                "TNS object %s skipped (%s): %s", skipped.name, skipped.kind, skipped.reason
            )
        return report

    def fetch_recent(
        self, window_minutes: float = DEFAULT_WINDOW_MINUTES, now: datetime | None = None
    ) -> FetchReport:
        """Objects made public in the last ``window_minutes`` (search, then one object call
        each). A failing search raises; a failing object is reported in ``skipped``."""
        if window_minutes <= 0:
            raise ValueError(f"window_minutes must be positive, got {window_minutes}")
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        names = self.search(now - timedelta(minutes=window_minutes))
        logger.info(
            "TNS search over the last %s minutes found %d objects", window_minutes, len(names)
        )
        return self.fetch_by_names(names)

    def download_daily_csv(self, day: date) -> bytes:
        """The zipped daily staging CSV ``tns_public_objects_<YYYYMMDD>.csv.zip`` for ``day``.
        Raises ``TNSNotFound`` when TNS has no file for that date (yet)."""
        path = f"{DAILY_CSV_DIR}/tns_public_objects_{day:%Y%m%d}.csv.zip"
        form = {"api_key": self._credentials.api_key}

        def interpret(response: requests.Response) -> bytes:
            content = response.content
            if response.status_code == 200 and zipfile.is_zipfile(io.BytesIO(content)):
                return content
            if response.status_code == 404:
                raise TNSNotFound(f"TNS has no daily CSV for {day:%Y-%m-%d} ({path})")
            reply = _json_or_none(response)
            if isinstance(reply, Mapping) and "id_code" in reply:
                self._check_id_code(path, response, reply)
            if response.status_code != 200:
                raise TNSReplyError(
                    self._redact(
                        f"TNS {path} answered HTTP {response.status_code}: {self._snippet(response.text)}"
                    ),
                    endpoint=path,
                    id_code=response.status_code,
                )
            raise TNSMalformedReply(
                self._redact(
                    f"TNS {path} did not return a zip file: {self._snippet(response.text)}"
                )
            )

        return self._post(path, form, interpret)

    # ---- Transport ----------------------------------------------------------------------

    def _api_call(self, path: str, query: dict[str, str]) -> Any:
        """POST an API query; return the reply's ``data`` when ``id_code`` is 200."""
        form = {"api_key": self._credentials.api_key, "data": json.dumps(query)}

        def interpret(response: requests.Response) -> Any:
            reply = _json_or_none(response)
            if not isinstance(reply, Mapping) or "id_code" not in reply:
                if response.status_code != 200:
                    raise TNSReplyError(
                        self._redact(
                            f"TNS {path} answered HTTP {response.status_code}: "
                            f"{self._snippet(response.text)}"
                        ),
                        endpoint=path,
                        id_code=response.status_code,
                    )
                raise TNSMalformedReply(
                    self._redact(
                        f"TNS {path} returned malformed JSON (expected an object with id_code, "
                        f"id_message, data): {self._snippet(response.text)}"
                    )
                )
            self._check_id_code(path, response, reply)
            return reply.get("data")

        return self._post(path, form, interpret)

    def _check_id_code(
        self, path: str, response: requests.Response, reply: Mapping[str, Any]
    ) -> None:
        """Raise on an ``id_code`` other than 200 (``_RateLimitSignal`` for 429)."""
        raw_code = reply.get("id_code")
        try:
            id_code = int(raw_code)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TNSMalformedReply(
                self._redact(
                    f"TNS {path} returned a non-integer id_code {self._snippet(repr(raw_code))}"
                )
            ) from None
        if id_code == 429:
            raise _RateLimitSignal(response.headers.get("x-rate-limit-reset"))
        if id_code != 200:
            message = reply.get("id_message")
            raise TNSReplyError(
                self._redact(
                    f"TNS {path} answered id_code {id_code}: {self._snippet(str(message))}"
                ),
                endpoint=path,
                id_code=id_code,
            )

    def _post(
        self, path: str, form: dict[str, str], interpret: Callable[[requests.Response], _T]
    ) -> _T:
        """POST with the marker header; resend after rate limiting (bounded total wait) and after
        5xx or connection errors (bounded count)."""
        url = self.base_url + path
        rate_limit_waited = 0.0
        failures = 0
        while True:
            problem: str
            try:
                response = self._session.post(
                    url, data=form, headers=self.headers, timeout=self.timeout_s
                )
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                try:
                    if response.status_code == 429:
                        raise _RateLimitSignal(response.headers.get("x-rate-limit-reset"))
                    if response.status_code >= 500:
                        problem = f"HTTP {response.status_code}: {self._snippet(response.text)}"
                    else:
                        return interpret(response)
                except _RateLimitSignal as signal:
                    wait_s = rate_limit_wait_seconds(signal.reset_header)
                    if rate_limit_waited + wait_s > self.max_rate_limit_wait_s:
                        raise RateLimitedError(
                            f"TNS {path} still rate limited after waiting {rate_limit_waited:g} s "
                            f"(next wait {wait_s} s would exceed the {self.max_rate_limit_wait_s:g} s "
                            "budget)"
                        ) from None
                    logger.warning(
                        "TNS %s rate limited; sleeping %d s before resending", path, wait_s
                    )
                    self._sleep(wait_s)
                    rate_limit_waited += wait_s
                    continue
            failures += 1
            problem = self._redact(problem)
            if failures > self.max_retries:
                raise SourceError(
                    f"TNS {path} failed {failures} times; last error: {problem}"
                ) from None
            backoff_s = self.retry_backoff_s * failures
            logger.warning(
                "TNS %s failed (%s); retry %d/%d in %g s",
                path,
                problem,
                failures,
                self.max_retries,
                backoff_s,
            )
            self._sleep(backoff_s)

    def _redact(self, text: str) -> str:
        """``text`` with the API key replaced, for anything that may reach a message or log."""
        return text.replace(self._credentials.api_key, REDACTED)

    def _snippet(self, text: str) -> str:
        """Reply text for a message: the key (and secret-looking pairs) redacted, then cut."""
        return body_snippet(text, secrets=[self._credentials.api_key])


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
