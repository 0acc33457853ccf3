"""The input rules for a new transient, shared by every way one enters the database.

``blast-pipeline add``, ``import-csv``, TNS ingestion and the web API all build a
``NewTransient`` through ``parse_new_transient`` (raw strings or numbers) or its constructor
(numbers), so the same value is accepted or refused with the same message everywhere:

* name: Blast's rules (``names.py``); no surrounding whitespace is stripped;
* RA/Dec: ICRS degrees, 0 <= RA < 360, -90 <= Dec <= 90; text must be a plain ASCII decimal
  (``150.1``, ``-2.5e-1``; surrounding blanks allowed): ``1_0``, non-ASCII digits, ``nan``,
  ``inf`` and hex are refused, although Python's ``float()`` takes some of them;
* redshift: missing, or a decimal with -0.01 < z < 20 (``nan`` is refused, not "no redshift");
* duplicates (checked against the database by ``db.transients.insert_transient``): a name that
  differs from a stored one only in case, or a position within ``DUPLICATE_RADIUS_ARCSEC`` (1″,
  true angular distance) of a stored transient, is refused.

``read_transient_csv`` reads Blast's batch file (``name,ra,dec[,redshift]``) with the same rules,
every error naming the file, the line and the field. Pure: no database, no Dagster.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from blast_pipeline.names import validate_transient_name

#: Blast refuses a transient this close to a stored one (arcsec). Blast's own box is ±15″ in RA
#: by ±1″ in Dec (reference 1.3, a bug); this is the true angular distance.
DUPLICATE_RADIUS_ARCSEC = 1.0
#: Plausible redshifts, exclusive bounds (a small negative z allows blueshifted nearby objects).
REDSHIFT_RANGE = (-0.01, 20.0)
CSV_COLUMNS = ("name", "ra", "dec", "redshift")
CSV_REQUIRED = ("name", "ra", "dec")

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class TransientInputError(ValueError):
    """A value of a new transient is refused; the message names the field (and file:line)."""


class InvalidCoordinates(TransientInputError):
    pass


def parse_number(value: object, field: str) -> float:
    """``value`` (a number, or text holding a plain ASCII decimal) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TransientInputError(f"{field} must be a number, got {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise TransientInputError(
                f"{field} {value!r} is not a decimal number (digits 0-9, '.', an optional "
                "sign and exponent)"
            )
        return float(text)
    return float(value)


def validate_coordinates(ra_deg: object, dec_deg: object, what: str = "position") -> None:
    """ICRS degrees: 0 <= RA < 360, -90 <= Dec <= 90, both finite numbers."""
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (ra_deg, dec_deg)):
        raise InvalidCoordinates(f"{what}: RA/Dec must be numbers, got {ra_deg!r}, {dec_deg!r}")
    if not (math.isfinite(ra_deg) and 0.0 <= ra_deg < 360.0):
        raise InvalidCoordinates(f"{what}: RA {ra_deg!r} deg is outside [0, 360)")
    if not (math.isfinite(dec_deg) and -90.0 <= dec_deg <= 90.0):
        raise InvalidCoordinates(f"{what}: Dec {dec_deg!r} deg is outside [-90, 90]")


def validate_redshift(redshift: object, what: str) -> None:
    """None, or a finite number inside ``REDSHIFT_RANGE``."""
    if redshift is None:
        return
    low, high = REDSHIFT_RANGE
    if (
        isinstance(redshift, bool)
        or not isinstance(redshift, int | float)
        or not (math.isfinite(redshift) and low < redshift < high)
    ):
        raise TransientInputError(
            f"{what}: redshift {redshift!r} is not plausible (expected {low} < z < {high:g})"
        )


@dataclass(frozen=True)
class NewTransient:
    """The fields needed to add a transient, validated before anything is written."""

    name: str
    ra_deg: float
    dec_deg: float
    redshift: float | None = None
    tns_id: int = 0
    tns_prefix: str | None = None
    public_timestamp: datetime | None = None
    spectroscopic_class: str | None = None
    ingest_source: str = "cli"

    def __post_init__(self) -> None:
        validate_transient_name(self.name)
        what = f"transient {self.name!r}"
        validate_coordinates(self.ra_deg, self.dec_deg, what=what)
        validate_redshift(self.redshift, what)


def parse_new_transient(
    name: object,
    ra: object,
    dec: object,
    redshift: object = None,
    *,
    ingest_source: str,
    **tns_fields: object,
) -> NewTransient:
    """A validated ``NewTransient`` from raw values (command-line or CSV text, JSON numbers).
    ``redshift`` None (or, as text, empty) means "no redshift". Raises ``TransientInputError``
    (``InvalidTransientName`` for the name) naming the field."""
    validate_transient_name(name)
    what = f"transient {name!r}"
    try:
        ra_deg = parse_number(ra, f"{what}: ra")
        dec_deg = parse_number(dec, f"{what}: dec")
    except TransientInputError as exc:
        raise InvalidCoordinates(str(exc)) from None
    z = None
    if redshift is not None and not (isinstance(redshift, str) and not redshift.strip()):
        z = parse_number(redshift, f"{what}: redshift")
    return NewTransient(
        name, ra_deg, dec_deg, redshift=z, ingest_source=ingest_source, **tns_fields
    )  # type: ignore[arg-type]


def separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance between two ICRS positions in degrees, in arcsec (haversine)."""
    phi1, phi2 = math.radians(dec1), math.radians(dec2)
    h = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h)))) * 3600.0


def duplicate_reason(
    new: NewTransient, other_name: str, other_ra: float, other_dec: float, nearby: bool = True
) -> str | None:
    """Why ``new`` may not be added beside the transient ``other_name``, or None. The same
    name is not judged here (callers decide: refuse, or skip as already present); ``nearby``
    applies the 1″ rule (not to TNS objects, whose identity TNS decides)."""
    if other_name != new.name and other_name.lower() == new.name.lower():
        return (
            f"transient {new.name!r} clashes with {other_name!r}: names may not differ only in case"
        )
    if not nearby or other_name == new.name:
        return None
    distance = separation_arcsec(new.ra_deg, new.dec_deg, other_ra, other_dec)
    if distance <= DUPLICATE_RADIUS_ARCSEC:
        return (
            f"transient {new.name!r} at RA {new.ra_deg:g}, Dec {new.dec_deg:g} is "
            f'{distance:.2f}" from {other_name!r}: Blast refuses a transient within '
            f'{DUPLICATE_RADIUS_ARCSEC:g}" of another'
        )
    return None


# --------------------------------------------------------------------------------------------
# Blast's batch CSV


def read_transient_csv(path: Path, ingest_source: str = "csv") -> list[tuple[int, NewTransient]]:
    """Every row of a ``name,ra,dec[,redshift]`` CSV (UTF-8, with or without a BOM) as its line
    number and a ``NewTransient``. All rows are checked before any is returned, also against each other
    (names differing only in case, positions within 1″); ``TransientInputError`` lists every
    bad line as ``file:line: message``."""
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise TransientInputError(f"{path}:1: {_csv_message(exc)}") from None
    columns = _check_header(path, header)
    rows: list[NewTransient] = []
    errors: list[str] = []
    lines: list[int] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"{path}:{reader.line_num}: {_csv_message(exc)}")
            break
        line = reader.line_num
        if not cells or not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            errors.append(
                f"{path}:{line}: {len(cells)} fields where the header has {len(columns)} "
                f"({','.join(columns)})"
            )
            continue
        row = dict(zip(columns, cells, strict=True))
        try:
            new = parse_new_transient(
                row["name"],
                row["ra"],
                row["dec"],
                row.get("redshift"),
                ingest_source=ingest_source,
            )
        except ValueError as exc:
            errors.append(f"{path}:{line}: {exc}")
            continue
        rows.append(new)
        lines.append(line)
    errors.extend(_clashes_within(path, rows, lines))
    if errors:
        raise TransientInputError("nothing imported:\n" + "\n".join(errors))
    return list(zip(lines, rows, strict=True))


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise TransientInputError(f"{path}: is a directory, not a CSV file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TransientInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise TransientInputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TransientInputError(
            f"{path}:{line}: byte 0x{raw[exc.start]:02x} at column {column} is not UTF-8; "
            "save the file as UTF-8"
        ) from None


def _csv_message(exc: csv.Error) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not a valid CSV line ({message})"


def _check_header(path: Path, header: Sequence[str] | None) -> list[str]:
    expected = "expected name,ra,dec[,redshift]"
    if not header:
        raise TransientInputError(f"{path}:1: no header line; {expected}")
    columns = [cell.strip() for cell in header]
    problems: list[str] = []
    for column in dict.fromkeys(columns):
        if columns.count(column) > 1:
            problems.append(f"column {column!r} appears {columns.count(column)} times")
        if column not in CSV_COLUMNS:
            problems.append(f"unknown column {column!r}")
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if problems:
        raise TransientInputError(f"{path}:1: {'; '.join(problems)}; {expected}")
    return columns


def _clashes_within(path: Path, rows: list[NewTransient], lines: list[int]) -> list[str]:
    """Rows of one file that are duplicates of an earlier row (same name in any case, or within
    1″), sorted by Dec so the search is O(n log n)."""
    errors: list[str] = []
    first_line: dict[str, int] = {}
    for new, line in zip(rows, lines, strict=True):
        key = new.name.lower()
        if key in first_line:
            errors.append(
                f"{path}:{line}: transient {new.name!r} repeats the name on line "
                f"{first_line[key]} (names are compared ignoring case)"
            )
        else:
            first_line[key] = line
    radius_deg = DUPLICATE_RADIUS_ARCSEC / 3600.0
    order = sorted(range(len(rows)), key=lambda i: rows[i].dec_deg)
    for position, i in enumerate(order):
        for j in order[position + 1 :]:
            if rows[j].dec_deg - rows[i].dec_deg > radius_deg:
                break
            a, b = (i, j) if lines[i] < lines[j] else (j, i)
            if rows[a].name.lower() == rows[b].name.lower():
                continue  # already reported as a repeated name
            if (
                separation_arcsec(rows[a].ra_deg, rows[a].dec_deg, rows[b].ra_deg, rows[b].dec_deg)
                <= DUPLICATE_RADIUS_ARCSEC
            ):
                reason = duplicate_reason(rows[b], rows[a].name, rows[a].ra_deg, rows[a].dec_deg)
                errors.append(f"{path}:{lines[b]}: {reason} (line {lines[a]})")
    return errors
