"""The TNS object model: objects, skipped objects with their reasons, and the errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from blast_pipeline.sources.base import SourceError


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
