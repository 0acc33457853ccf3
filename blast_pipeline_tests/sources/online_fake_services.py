"""Local fake HTTP services (127.0.0.1 only) and FITS builders for the online-source tests.

``FakeService`` answers each path from a handler, can be told to fail the next requests of a
path (5xx, 429 with Retry-After, slow answers, garbage), records every request and counts how
many requests were in flight at once (to check the per-service concurrency pools).
"""

from __future__ import annotations

import bz2
import gzip
import io
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from blast_pipeline.sources.http import HttpSettings, ServiceHttp, ServicePools

#: Settings for tests: short timeouts, tiny back-off.
FAST_SETTINGS = HttpSettings(
    timeout_s=5.0, max_tries=3, backoff_s=0.001, max_backoff_s=0.005, max_retry_after_s=60.0
)


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Handler = Callable[[FakeRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # client hung up (timeout tests)
        pass


class FakeService:
    """A threaded HTTP server on 127.0.0.1 with per-path handlers and scripted failures."""

    def __init__(self, hold_s: float = 0.0) -> None:
        self.routes: dict[str, Handler] = {}
        self.scripted: dict[str, list[Reply]] = {}
        self.requests: list[FakeRequest] = []
        self.hold_s = hold_s  # every request stays "in flight" this long (concurrency tests)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeService:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- configuration ---------------------------------------------------------------------
    def route(self, path: str, handler: Handler | Reply) -> None:
        self.routes[path] = handler if callable(handler) else (lambda _request, r=handler: r)

    def fail_next(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with these replies, then use the route again."""
        self.scripted.setdefault(path, []).extend(replies)

    def requests_to(self, path: str) -> list[FakeRequest]:
        return [r for r in self.requests if r.path == path]

    # -- serving ---------------------------------------------------------------------------
    def _answer(self, request: FakeRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            queue = self.scripted.get(request.path)
            scripted = queue.pop(0) if queue else None
        try:
            if self.hold_s:
                time.sleep(self.hold_s)
            if scripted is not None:
                return scripted
            handler = self.routes.get(request.path)
            if handler is None:
                return Reply(404, f"no route {request.path}")
            return handler(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                reply = service._answer(FakeRequest(self.command, parts.path, query, body))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = reply.payload()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format, *args) -> None:
                pass

        return RequestHandler


def recording_sleep() -> tuple[list[float], Callable[[float], None]]:
    """A sleep that records its delays and returns at once."""
    delays: list[float] = []
    return delays, delays.append


def fake_http(
    service: str,
    settings: HttpSettings = FAST_SETTINGS,
    *,
    sleep: Callable[[float], None] | None = None,
    pools: ServicePools | None = None,
) -> ServiceHttp:
    """A cutout ``ServiceHttp`` with its own pools (tests never share pools)."""
    return ServiceHttp.for_cutouts(
        service,
        settings,
        pools=pools or ServicePools(),
        sleep=sleep or (lambda _s: None),
    )


# -- FITS builders ---------------------------------------------------------------------------


def sky_image(
    ra_deg: float,
    dec_deg: float,
    *,
    pixel_arcsec: float,
    shape: tuple[int, int] = (200, 200),
    keywords: dict | None = None,
    use_cd_matrix: bool = False,
    offset_pixels: tuple[float, float] = (0.0, 0.0),
    fill: float | None = None,
) -> fits.HDUList:
    """A TAN image centred near the position; pixel value = 1000*y + x (0-based), to locate it."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra_deg, dec_deg]
    wcs.wcs.crpix = [nx / 2 + 0.5 + offset_pixels[0], ny / 2 + 0.5 + offset_pixels[1]]
    scale = pixel_arcsec / 3600.0
    if use_cd_matrix:
        wcs.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    else:
        wcs.wcs.cdelt = [-scale, scale]
    yy, xx = np.mgrid[0:ny, 0:nx]
    data = (1000.0 * yy + xx).astype(np.float32) if fill is None else np.full(shape, fill, "f4")
    header = wcs.to_header()
    for key, value in (keywords or {}).items():
        header[key] = value
    return fits.HDUList([fits.PrimaryHDU(data=data, header=header)])


def fits_bytes(hdul: fits.HDUList, compression: str | None = None) -> bytes:
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    raw = buffer.getvalue()
    if compression == "gzip":
        return gzip.compress(raw)
    if compression == "bz2":
        return bz2.compress(raw)
    return raw


def votable_bytes(columns: dict[str, list], *, table_name: str = "results") -> bytes:
    """A VOTable document (as astropy writes it) with one table of these columns."""
    from astropy.io.votable import from_table
    from astropy.table import Table

    table = Table(columns)
    table.meta["name"] = table_name
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IDs generated from names with spaces ("Object Name")
        from_table(table).to_xml(buffer)
    return buffer.getvalue()


def assert_centred_cutout(
    hdul: fits.HDUList, ra_deg: float, dec_deg: float, size_pixels: int
) -> None:
    """The cutout is square, of the expected size, and its WCS puts the position at its centre."""
    assert isinstance(hdul, fits.HDUList)
    data = hdul[0].data
    assert data.shape == (size_pixels, size_pixels)
    wcs = WCS(hdul[0].header)
    x, y = wcs.world_to_pixel_values(ra_deg, dec_deg)
    centre = (size_pixels - 1) / 2
    assert abs(x - centre) <= 1.0 and abs(y - centre) <= 1.0, (x, y, centre)
