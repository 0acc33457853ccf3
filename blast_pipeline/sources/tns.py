"""Client for the Transient Name Server (TNS), the source of new transients (reference section 6).

What it does, as Blast's ``transient_name_server.py``:

* ``TNSClient.search`` / ``get_object`` / ``fetch_recent``: the bot API (form-encoded POST of
  ``api_key`` and a JSON ``data`` string, identified by the ``tns_marker`` User-Agent);
* ``TNSClient.download_daily_csv`` and ``parse_daily_csv``: the daily staging CSV (zip);
* ``classify_update``: what the ingestion should do with an object it already knows.

Deliberate differences from Blast: the wait on "too many requests" is bounded
(``RateLimitedError``), 5xx and connection errors are retried a few times, malformed replies and
non-200 ``id_code`` raise errors naming the endpoint instead of crashing on a ``KeyError``, an
object that fails to fetch or parse is reported (``FetchReport.skipped``) instead of aborting the
whole batch, and the daily CSV is keyed on the ``name`` column (not the DataFrame index).

The API key is sent only in request bodies; it never appears in reprs, logs or exception messages
(every message built here is passed through ``TNSClient._redact``).

Pure: no Dagster import; the ingestion job wraps this in a resource.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import requests

from blast_pipeline.names import InvalidTransientName, validate_transient_name
from blast_pipeline.sources.base import RateLimitedError, SourceError

logger = logging.getLogger(__name__)

DEFAULT_TNS_BASE_URL = "https://www.wis-tns.org"
SEARCH_PATH = "/api/get/search"
OBJECT_PATH = "/api/get/object"
DAILY_CSV_DIR = "/system/files/tns_public_objects"

#: Environment variables holding the bot credentials, as in Blast.
ENV_API_KEY = "TNS_BOT_API_KEY"
ENV_BOT_NAME = "TNS_BOT_NAME"
ENV_BOT_ID = "TNS_BOT_ID"

#: Seconds to wait when ``x-rate-limit-reset`` is missing or not an integer (Blast's default).
DEFAULT_RATE_LIMIT_RESET_S = 60
#: Blast's search window: objects made public in the last 200 minutes (run every 240 s).
DEFAULT_WINDOW_MINUTES = 200

#: Columns of the daily staging CSV that the ingestion uses.
DAILY_CSV_COLUMNS: tuple[str, ...] = (
    "name",
    "objid",
    "ra",
    "declination",
    "name_prefix",
    "discoverydate",
    "type",
    "redshift",
)
#: Cell values of the daily CSV that mean "no value" (pandas writes NaN for missing floats).
_MISSING_CELL_VALUES = frozenset({"", "nan", "none", "null", "n/a", "na"})
_REDACTED = "<redacted>"
_SNIPPET_CHARS = 200

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Errors


class InvalidTNSCredentials(ValueError):
    """The TNS bot credentials are unusable (empty values, non-integer bot id...)."""


class MissingTNSCredentials(InvalidTNSCredentials):
    """Some of ``TNS_BOT_API_KEY``, ``TNS_BOT_NAME``, ``TNS_BOT_ID`` are unset or empty."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            "TNS credentials missing from the environment: "
            f"{', '.join(self.missing)} (all of {ENV_API_KEY}, {ENV_BOT_NAME}, {ENV_BOT_ID} "
            "must be set and non-empty)"
        )


class TNSReplyError(SourceError):
    """TNS answered with an error code (``id_code`` other than 200, or an HTTP 4xx)."""

    def __init__(self, message: str, *, endpoint: str, id_code: int | None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.id_code = id_code


class TNSMalformedReply(SourceError):
    """TNS answered something that is not what its API returns (bad JSON, bad zip, bad CSV)."""


class TNSNotFound(LookupError):
    """TNS has no such object, or no daily CSV for that date (yet). Not a service failure."""


class InvalidTNSObject(ValueError):
    """A TNS object (API reply or CSV row) cannot become a transient; the message says why."""


class InvalidTNSName(InvalidTNSObject):
    """The object's name fails ``validate_transient_name``; the message gives the rule."""


# --------------------------------------------------------------------------------------------
# Credentials


@dataclass(frozen=True)
class TNSCredentials:
    """The TNS bot identity. The key is excluded from ``repr``/``str``."""

    api_key: str = field(repr=False)
    bot_name: str
    bot_id: int

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise InvalidTNSCredentials("TNS api_key must be a non-empty string")
        if not isinstance(self.bot_name, str) or not self.bot_name.strip():
            raise InvalidTNSCredentials("TNS bot_name must be a non-empty string")
        # The name goes inside the quoted User-Agent marker: no quotes, backslashes, controls.
        if any(ch in self.bot_name for ch in '"\\') or not self.bot_name.isprintable():
            raise InvalidTNSCredentials(
                f"TNS bot_name {self.bot_name!r} may not contain quotes, backslashes or "
                "control characters"
            )
        if isinstance(self.bot_id, bool) or not isinstance(self.bot_id, int):
            raise InvalidTNSCredentials(
                f"TNS bot_id must be an integer, got {type(self.bot_id).__name__}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TNSCredentials:
        """Read ``TNS_BOT_API_KEY``, ``TNS_BOT_NAME`` and ``TNS_BOT_ID``; list all missing ones."""
        values = {
            var: (environ.get(var) or "").strip() for var in (ENV_API_KEY, ENV_BOT_NAME, ENV_BOT_ID)
        }
        missing = [var for var, value in values.items() if not value]
        if missing:
            raise MissingTNSCredentials(missing)
        raw_bot_id = values[ENV_BOT_ID]
        try:
            bot_id = int(raw_bot_id)
        except ValueError:
            raise InvalidTNSCredentials(
                f"{ENV_BOT_ID} must be an integer, got {raw_bot_id!r}"
            ) from None
        return cls(api_key=values[ENV_API_KEY], bot_name=values[ENV_BOT_NAME], bot_id=bot_id)

    @property
    def user_agent(self) -> str:
        """The ``tns_marker`` User-Agent TNS identifies bots by, character for character as Blast."""
        return f'tns_marker{{"tns_id": "{self.bot_id}","type": "bot", "name": "{self.bot_name}"}}'


# --------------------------------------------------------------------------------------------
# Objects and reports


@dataclass(frozen=True)
class TNSObject:
    """One TNS object, mapped to the Transient fields (reference section 6)."""

    name: str
    tns_id: int
    ra_deg: float
    dec_deg: float
    tns_prefix: str | None
    public_timestamp: datetime  # TNS ``discoverydate``, aware UTC
    spectroscopic_class: str | None
    redshift: float | None


SkipKind = Literal["invalid_name", "invalid_object", "not_found", "service_error", "rate_limited"]


@dataclass(frozen=True)
class SkippedObject:
    """An object (or CSV row) that was not returned, and why. ``kind`` tells whether retrying
    later can help (``service_error``, ``rate_limited``, ``not_found``) or not (``invalid_*``)."""

    name: str
    kind: SkipKind
    reason: str


@dataclass
class FetchReport:
    """Objects obtained from TNS plus those skipped with their reasons; nothing is lost silently."""

    objects: list[TNSObject] = field(default_factory=list)
    skipped: list[SkippedObject] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Field conversion (shared by the API and the daily CSV)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _MISSING_CELL_VALUES


def _optional_text(value: object) -> str | None:
    return None if _is_missing(value) else str(value).strip()


def _parse_float(value: object, field_name: str, *, optional: bool) -> float | None:
    if _is_missing(value):
        if optional:
            return None
        raise InvalidTNSObject(f"{field_name} is missing")
    if isinstance(value, bool):
        raise InvalidTNSObject(f"{field_name} {value!r} is not a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidTNSObject(f"{field_name} {value!r} is not a number") from None
    if not math.isfinite(number):
        if optional:
            return None
        raise InvalidTNSObject(f"{field_name} {value!r} is not finite")
    return number


def _parse_objid(value: object) -> int:
    if _is_missing(value) or isinstance(value, bool):
        raise InvalidTNSObject(f"objid {value!r} is missing or not an integer")
    try:
        number = float(value) if isinstance(value, float) else int(str(value).strip())
    except ValueError:
        raise InvalidTNSObject(f"objid {value!r} is not an integer") from None
    if isinstance(number, float):
        if not number.is_integer():
            raise InvalidTNSObject(f"objid {value!r} is not an integer")
        number = int(number)
    return number


def parse_tns_timestamp(value: object) -> datetime:
    """A TNS date (``"2024-01-15 08:24:00.000"``, or ISO 8601) as an aware UTC datetime.
    TNS dates carry no zone and are UTC; an explicit offset is honoured."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidTNSObject(f"discoverydate {value!r} is not a date-time") from None
    else:
        raise InvalidTNSObject(f"discoverydate {value!r} is missing or not a date-time")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _build_object(
    *,
    name: object,
    objid: object,
    ra: object,
    dec: object,
    prefix: object,
    discoverydate: object,
    spectroscopic_class: object,
    redshift: object,
    ra_field: str,
    dec_field: str,
) -> TNSObject:
    try:
        valid_name = validate_transient_name(name)
    except InvalidTransientName as exc:
        raise InvalidTNSName(str(exc)) from None
    ra_deg = _parse_float(ra, ra_field, optional=False)
    dec_deg = _parse_float(dec, dec_field, optional=False)
    assert ra_deg is not None and dec_deg is not None
    if not 0.0 <= ra_deg <= 360.0:
        raise InvalidTNSObject(f"{ra_field} {ra_deg} is outside [0, 360] degrees")
    if not -90.0 <= dec_deg <= 90.0:
        raise InvalidTNSObject(f"{dec_field} {dec_deg} is outside [-90, 90] degrees")
    return TNSObject(
        name=valid_name,
        tns_id=_parse_objid(objid),
        ra_deg=ra_deg,
        dec_deg=dec_deg,
        tns_prefix=_optional_text(prefix),
        public_timestamp=parse_tns_timestamp(discoverydate),
        spectroscopic_class=_optional_text(spectroscopic_class),
        redshift=_parse_float(redshift, "redshift", optional=True),
    )


def tns_object_from_reply(reply: Mapping[str, Any]) -> TNSObject:
    """Map the ``data`` of a ``/api/get/object`` reply to a ``TNSObject`` (Blast's
    ``tns_to_blast_transient``). Raises ``InvalidTNSObject`` naming the bad field."""
    if not isinstance(reply, Mapping):
        raise InvalidTNSObject(f"object reply is a {type(reply).__name__}, not a JSON object")
    missing = [
        key for key in ("objname", "objid", "radeg", "decdeg", "discoverydate") if key not in reply
    ]
    if missing:
        raise InvalidTNSObject(f"object reply lacks {', '.join(missing)}")
    object_type = reply.get("object_type")
    if object_type is not None and not isinstance(object_type, Mapping):
        raise InvalidTNSObject(f"object_type {object_type!r} is not a JSON object")
    return _build_object(
        name=reply["objname"],
        objid=reply["objid"],
        ra=reply["radeg"],
        dec=reply["decdeg"],
        prefix=reply.get("name_prefix"),
        discoverydate=reply["discoverydate"],
        spectroscopic_class=(object_type or {}).get("name"),
        redshift=reply.get("redshift"),
        ra_field="radeg",
        dec_field="decdeg",
    )


# --------------------------------------------------------------------------------------------
# Client


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
                        f"{_snippet(repr(entry))}"
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
                        f"TNS {path} answered HTTP {response.status_code}: {_snippet(response.text)}"
                    ),
                    endpoint=path,
                    id_code=response.status_code,
                )
            raise TNSMalformedReply(
                self._redact(f"TNS {path} did not return a zip file: {_snippet(response.text)}")
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
                            f"{_snippet(response.text)}"
                        ),
                        endpoint=path,
                        id_code=response.status_code,
                    )
                raise TNSMalformedReply(
                    self._redact(
                        f"TNS {path} returned malformed JSON (expected an object with id_code, "
                        f"id_message, data): {_snippet(response.text)}"
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
                    f"TNS {path} returned a non-integer id_code {_snippet(repr(raw_code))}"
                )
            ) from None
        if id_code == 429:
            raise _RateLimitSignal(response.headers.get("x-rate-limit-reset"))
        if id_code != 200:
            message = reply.get("id_message")
            raise TNSReplyError(
                self._redact(f"TNS {path} answered id_code {id_code}: {_snippet(str(message))}"),
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
                        problem = f"HTTP {response.status_code}: {_snippet(response.text)}"
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
        return text.replace(self._credentials.api_key, _REDACTED)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "..."


# --------------------------------------------------------------------------------------------
# Daily staging CSV


def parse_daily_csv(source: bytes | str | os.PathLike[str]) -> FetchReport:
    """Objects of a daily staging CSV zip (bytes or a path to the ``.zip``).

    The real format: the zip holds one CSV whose line 1 is a timestamp line and line 2 the
    header (Blast reads it with ``pd.read_csv(header=1)``). Bad rows are reported in
    ``skipped`` with their line number and reason; NaN/empty cells become None."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise TNSMalformedReply("TNS daily CSV is not a valid zip file") from None
    with archive:
        csv_members = [
            info.filename for info in archive.infolist() if info.filename.lower().endswith(".csv")
        ]
        if len(csv_members) != 1:
            raise TNSMalformedReply(
                f"TNS daily CSV zip must hold exactly one .csv file, found {csv_members}"
            )
        try:
            text = archive.read(csv_members[0]).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TNSMalformedReply(f"TNS daily CSV {csv_members[0]} is not UTF-8: {exc}") from None

    reader = csv.reader(io.StringIO(text, newline=""))
    timestamp_line = next(reader, None)
    header = next(reader, None)
    if timestamp_line is None or header is None:
        raise TNSMalformedReply(
            "TNS daily CSV has fewer than 2 lines (expected a timestamp line, then the header)"
        )
    if "objid" in timestamp_line and "name" in timestamp_line:
        raise TNSMalformedReply(
            "TNS daily CSV has its header on line 1; expected a timestamp line first"
        )
    header = [column.strip() for column in header]
    missing_columns = [column for column in DAILY_CSV_COLUMNS if column not in header]
    if missing_columns:
        raise TNSMalformedReply(
            f"TNS daily CSV lacks columns {missing_columns} (header on line 2: "
            f"{_snippet(','.join(header))})"
        )

    report = FetchReport()
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            report.skipped.append(
                SkippedObject(
                    f"line {line}",
                    "invalid_object",
                    f"line {line}: {len(cells)} fields where the header has {len(header)}",
                )
            )
            continue
        row = dict(zip(header, cells, strict=True))
        label = row["name"].strip() or f"line {line}"
        try:
            report.objects.append(
                _build_object(
                    name=row["name"],
                    objid=row["objid"],
                    ra=row["ra"],
                    dec=row["declination"],
                    prefix=row["name_prefix"],
                    discoverydate=row["discoverydate"],
                    spectroscopic_class=row["type"],
                    redshift=row["redshift"],
                    ra_field="ra",
                    dec_field="declination",
                )
            )
        except InvalidTNSName as exc:
            report.skipped.append(SkippedObject(label, "invalid_name", f"line {line}: {exc}"))
        except InvalidTNSObject as exc:
            report.skipped.append(SkippedObject(label, "invalid_object", f"line {line}: {exc}"))
    return report


# --------------------------------------------------------------------------------------------
# Ingestion decision

UpdateKind = Literal["new", "unchanged", "updated", "redshift_changed"]

#: Transient fields copied from TNS on update, besides the timestamp and redshift.
_COMPARED_FIELDS: tuple[str, ...] = (
    "tns_id",
    "ra_deg",
    "dec_deg",
    "tns_prefix",
    "spectroscopic_class",
)


def _as_utc(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_tns_timestamp(value)
    if not isinstance(value, datetime):
        raise TypeError(f"public_timestamp must be a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def classify_update(existing: Mapping[str, Any] | None, incoming: TNSObject) -> UpdateKind:
    """What the ingestion should do with ``incoming`` given the saved transient's fields.

    * ``"new"``: no saved transient -> save and start its workflow;
    * ``"redshift_changed"``: TNS has a redshift and the saved one is missing or different ->
      copy the fields and reprocess fully;
    * ``"updated"``: the public timestamp differs (compared as aware UTC; a naive saved value is
      UTC) -> copy the fields. Also when another copied field present in ``existing`` differs
      (tns_id, position, prefix, class): Blast ignores those, which drops new classifications;
    * ``"unchanged"``: nothing to do.
    """
    if existing is None:
        return "new"
    saved_redshift = existing.get("redshift")
    if incoming.redshift is not None and (
        saved_redshift is None
        or not math.isclose(float(saved_redshift), incoming.redshift, rel_tol=0, abs_tol=1e-12)
    ):
        return "redshift_changed"
    if _as_utc(existing.get("public_timestamp")) != incoming.public_timestamp:
        return "updated"
    for name in _COMPARED_FIELDS:
        if name in existing and existing[name] != getattr(incoming, name):
            return "updated"
    return "unchanged"
