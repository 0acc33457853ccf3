"""Transient name validation, as Blast's ``Transient.validate_name`` (reference section 4.1).

A valid name is safe to use as a path component, a Dagster partition key and a URL segment.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 64
_NAME_RE = re.compile(r"[a-zA-Z0-9]+[a-zA-Z0-9_-]*[a-zA-Z0-9]+\Z")


class InvalidTransientName(ValueError):
    """The name breaks one of Blast's naming rules; the message says which."""


def validate_transient_name(name: object) -> str:
    """Return ``name`` unchanged if it is a valid transient name, else raise with the reason."""
    if not isinstance(name, str):
        raise InvalidTransientName(f"transient name must be a string, got {type(name).__name__}")
    if name == "":
        raise InvalidTransientName("transient name is empty")
    if name != name.strip():
        raise InvalidTransientName(f"transient name {name!r} has leading or trailing whitespace")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidTransientName(
            f"transient name {name[:20]!r}... is {len(name)} characters long; "
            f"the maximum is {MAX_NAME_LENGTH}"
        )
    if name[:2].upper() in ("SN", "AT"):
        raise InvalidTransientName(
            f"transient name {name!r} starts with {name[:2]!r}; give the TNS name without the "
            "SN/AT prefix (e.g. '2024abc')"
        )
    if "--" in name or "__" in name:
        raise InvalidTransientName(f"transient name {name!r} contains '--' or '__'")
    if not _NAME_RE.fullmatch(name):
        raise InvalidTransientName(
            f"transient name {name!r} may contain only letters, digits, '_' and '-', must start "
            "and end with a letter or digit, and be at least 2 characters long"
        )
    return name
