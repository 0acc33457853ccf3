"""The daily staging CSV of TNS (``tns_public_objects_YYYYMMDD.csv.zip``) -> ``TNSObject``s."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

from blast_pipeline.sources.http import body_snippet
from blast_pipeline.sources.tns.model import (
    FetchReport,
    InvalidTNSName,
    InvalidTNSObject,
    SkippedObject,
    TNSMalformedReply,
)
from blast_pipeline.sources.tns.parsing import build_object

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
            f"{body_snippet(','.join(header))})"
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
                build_object(
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
