"""A fake Transient Name Server on 127.0.0.1, for client tests and ingestion-job tests.

It answers like TNS: ``POST /api/get/search`` (filters objects by their public timestamp),
``POST /api/get/object``, and ``POST /system/files/tns_public_objects/tns_public_objects_<date>.csv.zip``.
Every request must carry the expected ``tns_marker`` User-Agent and ``api_key``; otherwise it gets
HTTP 401 with ``id_code`` 401. Calls are recorded; failures can be scripted per endpoint.

Usage::

    with FakeTNSServer(api_key="k", bot_name="bot", bot_id=1) as server:
        server.add_object(make_tns_object_reply("2024abc", public_timestamp=...))
        server.script(SEARCH_PATH, ScriptedResponse.rate_limited(reset="3"))
        client = TNSClient(creds, base_url=server.base_url, sleep=lambda s: None)
"""

from __future__ import annotations

import csv
import io
import json
import threading
import zipfile
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

SEARCH_PATH = "/api/get/search"
OBJECT_PATH = "/api/get/object"
DAILY_CSV_PREFIX = "/system/files/tns_public_objects/tns_public_objects_"
DAILY_CSV_SUFFIX = ".csv.zip"

#: The header of the real daily staging CSV (line 2 of the file).
DAILY_CSV_HEADER: tuple[str, ...] = (
    "objid",
    "name_prefix",
    "name",
    "ra",
    "declination",
    "redshift",
    "typeid",
    "type",
    "reporting_groupid",
    "reporting_group",
    "source_groupid",
    "source_group",
    "discoverydate",
    "discoverymag",
    "discmagfilter",
    "filter",
    "reporters",
    "time_received",
    "internal_names",
    "creationdate",
    "lastmodified",
)


def daily_csv_path(day: date) -> str:
    """The URL path of the daily staging CSV zip for ``day``."""
    return f"{DAILY_CSV_PREFIX}{day:%Y%m%d}{DAILY_CSV_SUFFIX}"


def tns_marker(bot_id: int, bot_name: str) -> str:
    """The User-Agent TNS expects from a bot (Blast's exact form)."""
    return f'tns_marker{{"tns_id": "{bot_id}","type": "bot", "name": "{bot_name}"}}'


def make_tns_object_reply(
    name: str,
    *,
    objid: int = 1,
    ra_deg: float = 150.0,
    dec_deg: float = 2.5,
    name_prefix: str | None = "SN",
    discoverydate: str = "2024-01-15 08:24:00.000",
    object_type: str | None = "SN Ia",
    redshift: float | None = 0.05,
    **extra: Any,
) -> dict[str, Any]:
    """A realistic ``data`` of a ``/api/get/object`` reply (the fields Blast reads and a few more)."""
    reply: dict[str, Any] = {
        "objname": name,
        "objid": objid,
        "name_prefix": name_prefix,
        "ra": "10:00:00.000",
        "dec": "+02:30:00.00",
        "radeg": ra_deg,
        "decdeg": dec_deg,
        "redshift": redshift,
        "object_type": {"name": object_type, "id": 1 if object_type else None},
        "discoverydate": discoverydate,
        "discoverymag": 18.5,
        "internal_names": f"ZTF{name}",
    }
    reply.update(extra)
    return reply


def make_daily_csv_zip(
    rows: Iterable[Mapping[str, Any]],
    *,
    timestamp_line: str = '"2024-01-16 00:00:00"',
    header: Iterable[str] = DAILY_CSV_HEADER,
    csv_name: str = "tns_public_objects_20240115.csv",
    raw_lines: Iterable[str] = (),
) -> bytes:
    """A zip holding one CSV in the real layout: a timestamp line, the header, then rows.
    Missing row values are written as empty cells; ``raw_lines`` are appended verbatim."""
    header = list(header)
    buffer = io.StringIO()
    buffer.write(timestamp_line + "\n")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row.get(column) for column in header])
    for line in raw_lines:
        buffer.write(line + "\n")
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(csv_name, buffer.getvalue())
    return archive_bytes.getvalue()


@dataclass(frozen=True)
class ScriptedResponse:
    """A canned answer served instead of the normal one (failures for tests).
    ``drop_connection`` closes the socket without answering."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    drop_connection: bool = False

    @classmethod
    def rate_limited(cls, reset: str | None = "3", *, http_status: int = 200) -> ScriptedResponse:
        """TNS's "too many requests": ``id_code`` 429 (HTTP 200 as Blast expects, or 429)."""
        headers = {} if reset is None else {"x-rate-limit-reset": reset}
        return cls.json_reply(429, "Too Many Requests", http_status=http_status, headers=headers)

    @classmethod
    def server_error(cls, status: int = 503) -> ScriptedResponse:
        return cls(status=status, body=b"<html>Service Unavailable</html>")

    @classmethod
    def malformed_json(cls) -> ScriptedResponse:
        return cls(
            status=200,
            body=b'{"id_code": 200, "data": [',
            headers={"Content-Type": "application/json"},
        )

    @classmethod
    def json_reply(
        cls,
        id_code: int,
        id_message: str,
        data: Any = None,
        *,
        http_status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ScriptedResponse:
        body = {"id_code": id_code, "id_message": id_message, "data": [] if data is None else data}
        return cls(
            status=http_status if http_status is not None else 200,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def dropped(cls) -> ScriptedResponse:
        return cls(drop_connection=True)


@dataclass(frozen=True)
class RecordedCall:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    form: dict[str, str]  # the form fields (last value of each)
    raw_body: str

    @property
    def data(self) -> dict[str, Any] | None:
        """The decoded ``data`` JSON field, or None."""
        return json.loads(self.form["data"]) if "data" in self.form else None


@dataclass
class _StoredObject:
    reply: dict[str, Any]
    public_timestamp: datetime


class FakeTNSServer:
    """A TNS look-alike in a background thread on 127.0.0.1 (free port). Thread-safe."""

    def __init__(
        self,
        *,
        api_key: str = "fake-tns-api-key",
        bot_name: str = "blast_bot",
        bot_id: int = 12345,
        rate_limit_reset: str = "1",
    ) -> None:
        self.api_key = api_key
        self.bot_name = bot_name
        self.bot_id = bot_id
        #: ``x-rate-limit-reset`` sent with normal answers (TNS sends it on every reply).
        self.rate_limit_reset = rate_limit_reset
        self._lock = threading.Lock()
        self._objects: dict[str, _StoredObject] = {}
        self._daily_csvs: dict[str, bytes] = {}
        self._scripts: dict[str, deque[ScriptedResponse]] = defaultdict(deque)
        self._calls: list[RecordedCall] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeTNSServer:
        if self._httpd is not None:
            return self
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll interval
            name="fake-tns",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeTNSServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeTNSServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def user_agent(self) -> str:
        return tns_marker(self.bot_id, self.bot_name)

    # ---- content ------------------------------------------------------------------------

    def add_object(self, reply: dict[str, Any], public_timestamp: datetime | None = None) -> None:
        """Serve ``reply`` (see ``make_tns_object_reply``) under its ``objname``. Search matches
        it by ``public_timestamp`` (default: its discoverydate, as UTC)."""
        if public_timestamp is None:
            public_timestamp = _as_utc(datetime.fromisoformat(str(reply["discoverydate"])))
        with self._lock:
            self._objects[str(reply["objname"])] = _StoredObject(
                dict(reply), _as_utc(public_timestamp)
            )

    def remove_object(self, name: str) -> None:
        with self._lock:
            self._objects.pop(name, None)

    def set_daily_csv(self, day: date, zip_bytes: bytes) -> None:
        with self._lock:
            self._daily_csvs[f"{day:%Y%m%d}"] = zip_bytes

    def script(self, path: str, *responses: ScriptedResponse) -> None:
        """Queue canned answers for the next requests to ``path`` (then normal answers resume)."""
        with self._lock:
            self._scripts[path].extend(responses)

    # ---- inspection ---------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def call_count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for call in self._calls if path is None or call.path == path)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # ---- request handling (called from the handler thread) --------------------------------

    def _record(self, call: RecordedCall) -> ScriptedResponse | None:
        with self._lock:
            self._calls.append(call)
            queue = self._scripts.get(call.path)
            return queue.popleft() if queue else None

    def _answer(self, call: RecordedCall) -> ScriptedResponse:
        if (
            call.headers.get("user-agent") != self.user_agent
            or call.form.get("api_key") != self.api_key
        ):
            return ScriptedResponse.json_reply(401, "Unauthorized", http_status=401)
        if call.path == SEARCH_PATH:
            return self._answer_search(call)
        if call.path == OBJECT_PATH:
            return self._answer_object(call)
        if call.path.startswith(DAILY_CSV_PREFIX) and call.path.endswith(DAILY_CSV_SUFFIX):
            key = call.path[len(DAILY_CSV_PREFIX) : -len(DAILY_CSV_SUFFIX)]
            with self._lock:
                content = self._daily_csvs.get(key)
            if content is None:
                return ScriptedResponse(status=404, body=b"<html>Page not found</html>")
            return ScriptedResponse(
                status=200, body=content, headers={"Content-Type": "application/zip"}
            )
        return ScriptedResponse(status=404, body=b"<html>Page not found</html>")

    def _query(self, call: RecordedCall) -> dict[str, Any] | None:
        try:
            query = call.data
        except json.JSONDecodeError:
            return None
        return query if isinstance(query, dict) else None

    def _answer_search(self, call: RecordedCall) -> ScriptedResponse:
        query = self._query(call)
        if query is None or "public_timestamp" not in query:
            return ScriptedResponse.json_reply(
                400, "Bad request: data must hold public_timestamp", http_status=400
            )
        try:
            after = _as_utc(datetime.fromisoformat(str(query["public_timestamp"])))
        except ValueError:
            return ScriptedResponse.json_reply(
                400, "Bad request: public_timestamp", http_status=400
            )
        with self._lock:
            matches = sorted(
                (stored for stored in self._objects.values() if stored.public_timestamp >= after),
                key=lambda stored: stored.public_timestamp,
            )
            data = [
                {
                    "objname": stored.reply["objname"],
                    "prefix": stored.reply.get("name_prefix"),
                    "objid": stored.reply.get("objid"),
                }
                for stored in matches
            ]
        return self._ok(data)

    def _answer_object(self, call: RecordedCall) -> ScriptedResponse:
        query = self._query(call)
        if query is None or "objname" not in query:
            return ScriptedResponse.json_reply(
                400, "Bad request: data must hold objname", http_status=400
            )
        with self._lock:
            stored = self._objects.get(str(query["objname"]))
            data = {} if stored is None else dict(stored.reply)
        return self._ok(data)

    def _ok(self, data: Any) -> ScriptedResponse:
        return ScriptedResponse.json_reply(
            200, "OK", data, headers={"x-rate-limit-reset": self.rate_limit_reset}
        )


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _make_handler(server: FakeTNSServer) -> type[BaseHTTPRequestHandler]:
    class FakeTNSHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length).decode("utf-8", errors="replace")
            form = {
                key: values[-1]
                for key, values in parse_qs(raw_body, keep_blank_values=True).items()
            }
            call = RecordedCall(
                path=self.path.split("?", 1)[0],
                headers={key.lower(): value for key, value in self.headers.items()},
                form=form,
                raw_body=raw_body,
            )
            scripted = server._record(call)
            response = scripted if scripted is not None else server._answer(call)
            self._send(response)

        def do_GET(self) -> None:  # noqa: N802
            self._send(ScriptedResponse(status=405, body=b"POST only"))

        def _send(self, response: ScriptedResponse) -> None:
            if response.drop_connection:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:  # silence stderr access logs
            return

    return FakeTNSHandler
