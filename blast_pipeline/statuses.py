"""Blast's 15 task status messages and their types (reference section 3.1)."""

from __future__ import annotations

from enum import StrEnum


class StatusType(StrEnum):
    BLANK = "blank"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


NOT_PROCESSED = "not processed"
PROCESSED = "processed"
PROCESSING = "processing"
FAILED = "failed"
TIME_LIMIT_EXCEEDED = "time limit exceeded"

#: message -> type, in Blast's order. ``message`` is at most 20 characters, as in Blast.
STATUSES: dict[str, StatusType] = {
    NOT_PROCESSED: StatusType.BLANK,
    PROCESSED: StatusType.SUCCESS,
    PROCESSING: StatusType.WARNING,
    "no host match": StatusType.ERROR,
    FAILED: StatusType.ERROR,
    "no host redshift": StatusType.ERROR,
    "no transient MWEBV": StatusType.ERROR,
    "no host MWEBV": StatusType.ERROR,
    "phot valid failed": StatusType.ERROR,
    "not enough filters": StatusType.ERROR,
    TIME_LIMIT_EXCEEDED: StatusType.ERROR,
    "blocked": StatusType.ERROR,
    "redshift too high": StatusType.ERROR,
    "no valid phot": StatusType.ERROR,
    "no host": StatusType.ERROR,
}


def status_type(message: str) -> StatusType:
    """The type of a status message; a clear error for a message Blast does not know."""
    try:
        return STATUSES[message]
    except KeyError:
        raise ValueError(
            f"unknown status message {message!r}; known messages: {', '.join(STATUSES)}"
        ) from None


def is_error(message: str) -> bool:
    return status_type(message) is StatusType.ERROR
