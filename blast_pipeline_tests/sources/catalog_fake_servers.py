"""Local HTTP servers on 127.0.0.1 answering like VizieR (VOTable) and MAST (CSV), for the
galaxy-catalogue client tests. Each request is recorded; the answer comes from a handler."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain"
    delay_s: float = 0.0


Handler = Callable[[str, dict[str, str]], Reply]


class FakeCatalogServer:
    """``with FakeCatalogServer(handler) as server: server.url("/viz-bin/votable")``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class _RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                outer.requests.append((parts.path, query))
                reply = outer.handler(parts.path, query)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> FakeCatalogServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- VizieR VOTable answers -------------------------------------------------------------------

_VOTABLE_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns="http://www.ivoa.net/xml/VOTable/v1.3"
  xsi:schemaLocation="http://www.ivoa.net/xml/VOTable/v1.3 http://www.ivoa.net/xml/VOTable/v1.3">
 <DESCRIPTION>
   VizieR Astronomical Server vizier.cds.unistra.fr
    Date: 2026-11-23T08:00:00 [V7.33.3]
   Explanations and Statistics of UCDs:			See LINK below
 </DESCRIPTION>
 <INFO ID="VERSION" name="votable-version" value="1.99+ (14-Oct-2013)"/>
 <INFO ID="Ref" name="-ref" value="VOTx12345"/>
 <INFO name="-out.form" value="mini"/>
 <INFO name="MaxTuples" value="50000" />
"""


def vizier_votable(
    table_name: str,
    fields: Sequence[tuple[str, str, str]],
    rows: Sequence[Sequence[Any]] | None,
    status: str | None = None,
    status_text: str = "",
) -> str:
    """A VizieR-style answer: ``fields`` are (name, datatype, unit); ``rows=None`` gives a
    resource without a table (what VizieR sends when nothing matches); ``status`` adds an
    ``INFO name="QUERY_STATUS"`` inside the resource (e.g. "OVERFLOW")."""
    catalogue = table_name.rsplit("/", 1)[0]
    out = [
        _VOTABLE_HEAD,
        f' <RESOURCE ID="yCat_{catalogue.replace("/", "")}" name="{catalogue}">\n',
    ]
    out.append(f"  <DESCRIPTION>Catalogue {catalogue}</DESCRIPTION>\n")
    out.append('  <COOSYS ID="H_2000.000" system="ICRS"/>\n')
    if rows is not None:
        tid = table_name.replace("/", "_")
        out.append(f'  <TABLE ID="{tid}" name="{table_name}">\n')
        for name, datatype, unit in fields:
            unit_attr = f' unit="{unit}"' if unit else ""
            extra = ' arraysize="*"' if datatype == "char" else ""
            out.append(
                f'   <FIELD name="{escape(name)}" datatype="{datatype}"{extra}{unit_attr}/>\n'
            )
        out.append("<DATA><TABLEDATA>\n")
        for row in rows:
            cells = "".join(f"<TD>{'' if v is None else escape(str(v))}</TD>" for v in row)
            out.append(f"<TR>{cells}</TR>\n")
        out.append("</TABLEDATA></DATA>\n  </TABLE>\n")
    out.append(f'  <INFO name="matches" value="{len(rows or [])}">matching records</INFO>\n')
    if status:
        out.append(f'  <INFO name="QUERY_STATUS" value="{status}">{escape(status_text)}</INFO>\n')
    out.append(" </RESOURCE>\n</VOTABLE>\n")
    return "".join(out)


def vizier_error(text: str) -> str:
    """VizieR's answer to a bad query: HTTP 200 with a QUERY_STATUS ERROR."""
    return (
        _VOTABLE_HEAD
        + f' <INFO name="QUERY_STATUS" value="ERROR">\n{escape(text)}\n </INFO>\n'
        + ' <RESOURCE type="results"/>\n</VOTABLE>\n'
    )


GLADE_FIELDS = (
    ("GLADE+", "int", ""),
    ("PGC", "int", ""),
    ("Type", "char", ""),
    ("RAJ2000", "double", "deg"),
    ("DEJ2000", "double", "deg"),
    ("Bmag", "float", "mag"),
    ("e_Bmag", "float", "mag"),
    ("zhelio", "double", ""),
    ("e_zhelio", "double", ""),
    ("f_dL", "short", ""),
)
HYPERLEDA_FIELDS = (
    ("PGC", "int", ""),
    ("logD25", "float", "[0.1arcmin]"),
    ("logR25", "float", ""),
    ("PA", "float", "deg"),
)
