"""SDSS SkyServer SQL search (``SqlSearch?cmd=<sql>&format=csv``), used for images and redshifts.

The CSV reply starts with a ``#Table1`` line, then a header line, then one line per row.
"""

from __future__ import annotations

import csv
import io

from blast_pipeline.sources.http import ServiceHttp, body_snippet

DEFAULT_SKYSERVER_SQL_URL = "https://skyserver.sdss.org/dr17/SkyServerWS/SearchTools/SqlSearch"


def parse_skyserver_csv(text: str, *, service: str, url: str, http: ServiceHttp) -> list[dict]:
    """Rows of the first table of a SkyServer CSV reply, as dicts of strings."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != "#Table1":
        preview = body_snippet(text)
        raise http.error(f"SQL search reply does not start with '#Table1' (got {preview!r})", url)
    body = []
    for line in lines[1:]:
        if line.startswith("#Table"):
            break
        body.append(line)
    if not body:
        raise http.error("SQL search reply has no header line", url)
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    return rows


def run_sql(http: ServiceHttp, url: str, sql: str) -> list[dict]:
    """Run a SkyServer SQL query and return its rows (possibly none)."""
    response = http.get(url, params={"cmd": sql, "format": "csv"})
    return parse_skyserver_csv(response.text, service=http.service, url=response.url, http=http)


def require_columns(
    rows: list[dict], columns: tuple[str, ...], http: ServiceHttp, url: str
) -> None:
    """Raise a clear error when SkyServer rows lack columns we asked for."""
    if rows:
        missing = [c for c in columns if c not in rows[0]]
        if missing:
            raise http.error(f"SQL search reply lacks columns {missing}", url)
