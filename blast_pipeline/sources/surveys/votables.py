"""VOTable parsing shared by the SIA (NOIRLab, IRSA 2MASS) and NED clients."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from astropy.io.votable import parse
from astropy.io.votable.tree import VOTableFile
from astropy.table import Table

from blast_pipeline.sources.base import SourceError
from blast_pipeline.sources.http import body_snippet, redact_url

if TYPE_CHECKING:
    from blast_pipeline.sources.http import ServiceHttp


def parse_votable(
    content: bytes, *, service: str, url: str, error_class: type[SourceError]
) -> VOTableFile:
    """Parse a VOTable reply; malformed XML (e.g. an HTML error page) gives a clear error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return parse(io.BytesIO(content), verify="ignore")
    except Exception as exc:  # ExpatError, ValueError, VOTable spec errors...
        preview = body_snippet(content[:4096], limit=120)
        raise error_class(
            f"{service}: reply from {redact_url(url)} is not a readable VOTable "
            f"({body_snippet(str(exc))}); starts {preview!r}"
        ) from None


def error_infos(votable: VOTableFile) -> list[str]:
    """Messages of ``INFO QUERY_STATUS=ERROR`` and ``INFO name=Error`` elements, anywhere."""
    infos = list(votable.infos)
    pending = list(votable.resources)
    while pending:
        resource = pending.pop()
        infos.extend(resource.infos)
        pending.extend(resource.resources)
    messages = []
    for info in infos:
        name = (info.name or "").lower()
        value = str(info.value or "")
        if (name == "query_status" and value.upper() == "ERROR") or name == "error":
            text = str(info.content or "").strip() or value
            messages.append(text)
    return messages


def first_table(votable: VOTableFile) -> Table | None:
    """The first table of the VOTable as an astropy Table keyed by field names, if any."""
    tables = list(votable.iter_tables())
    if not tables:
        return None
    return tables[0].to_table(use_names_over_ids=True)


def query_sia(http: ServiceHttp, url: str, params: Mapping[str, object]) -> tuple[VOTableFile, str]:
    """GET a Simple Image Access query and parse the reply; an error INFO raises. Returns the
    VOTable and the query's full URL (for later error messages)."""
    response = http.get(url, params=params)
    votable = parse_votable(
        response.content, service=http.service, url=response.url, error_class=http.error_class
    )
    errors = error_infos(votable)
    if errors:
        raise http.error(f"SIA query failed: {'; '.join(errors)}", response.url)
    return votable, response.url
