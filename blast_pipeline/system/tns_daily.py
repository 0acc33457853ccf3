"""Ingest missed TNS transients (Blast's ``IngestMissedTNSTransients``), daily, off by default.

Downloads TNS's daily staging CSV ``tns_public_objects_YYYYMMDD.csv.zip`` of yesterday (UTC)
and inserts every object whose **name** is not in the Blast database (Blast keyed this on the
DataFrame index, a bug). Known transients are left alone: the 240 s ingestion keeps them up to
date. The schedule runs at 00:00 UTC, possibly before TNS publishes yesterday's file, so the
job also looks at the day before (``TNS_DAILY_LOOKBACK_DAYS``, default 2); inserting by name
makes that idempotent. A day without a file yet is noted, not an error.

Uses the ``tns`` pool and the same environment credentials as the ingestion; without them the
schedule skips with the reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

from blast_pipeline.db.transients import DuplicateTransient
from blast_pipeline.runners.base import SystemTaskContext, SystemTaskRunner
from blast_pipeline.sources.base import RateLimitedError, SourceError
from blast_pipeline.sources.tns import TNSNotFound, TNSObject, parse_daily_csv
from blast_pipeline.system.tns_ingestion import (
    IngestionReport,
    TNSSearchFailed,
    insert_transient,
    load_saved,
    tns_client_from_env,
    tns_disabled_reason,
)

ENV_LOOKBACK_DAYS = "TNS_DAILY_LOOKBACK_DAYS"
DEFAULT_LOOKBACK_DAYS = 2


def days_to_fetch(today: date, lookback_days: int) -> list[date]:
    """Yesterday first, then the days before it (``lookback_days`` in all)."""
    return [today - timedelta(days=i) for i in range(1, lookback_days + 1)]


def lookback_days_from_env(environ: Mapping[str, str] = os.environ) -> int:
    raw = (environ.get(ENV_LOOKBACK_DAYS) or "").strip()
    if not raw:
        return DEFAULT_LOOKBACK_DAYS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ENV_LOOKBACK_DAYS} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def missing_objects(objects: Iterable[TNSObject], known_names: set[str]) -> list[TNSObject]:
    """Objects whose name is not known, first occurrence of each name (pure)."""
    seen: set[str] = set()
    missing: list[TNSObject] = []
    for obj in objects:
        if obj.name in known_names or obj.name in seen:
            continue
        seen.add(obj.name)
        missing.append(obj)
    return missing


class IngestMissedTNSTransients(SystemTaskRunner):
    """Insert transients from TNS's daily CSV that the regular ingestion missed."""

    task_name = "Ingest missed TNS transients"
    task_frequency_seconds = 86400
    task_initially_enabled = False
    pool = "tns"
    time_limit_seconds = 1800.0

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep

    def disabled_reason(self) -> str | None:
        return tns_disabled_reason()

    def run_process(self, context: SystemTaskContext, today: date | None = None) -> str | None:
        reason = self.disabled_reason()
        if reason:
            context.log.warning(f"{self.task_name} not run: {reason}")
            context.add_metadata(skipped=reason)
            return f"not run: {reason}"
        today = today or datetime.now(UTC).date()
        report = IngestionReport()
        days_done: list[str] = []
        with tns_client_from_env(self.sleep) as client:
            for day in days_to_fetch(today, lookback_days_from_env()):
                try:
                    content = client.download_daily_csv(day)
                except TNSNotFound:
                    context.log.info(f"TNS has no daily CSV for {day:%Y-%m-%d} yet")
                    report.add("no_file", f"{day:%Y-%m-%d}")
                    continue
                except RateLimitedError as exc:
                    context.log.warning(f"TNS rate limit: {exc}; tomorrow's run tries again")
                    report.add("rate_limited", f"{day:%Y-%m-%d}")
                    break
                except SourceError as exc:
                    raise TNSSearchFailed(str(exc)) from None
                parsed = parse_daily_csv(content)
                for skipped in parsed.skipped:
                    report.add("skipped", f"{skipped.name} ({skipped.kind})")
                self._insert_missing(context, parsed.objects, report)
                days_done.append(f"{day:%Y-%m-%d}")
        context.add_metadata(days=", ".join(days_done), **report.metadata())
        inserted = report.counts.get("new", 0)
        return f"{inserted} missed transient(s) inserted from {len(days_done)} daily CSV(s)"

    def _insert_missing(
        self, context: SystemTaskContext, objects: list[TNSObject], report: IngestionReport
    ) -> None:
        graph = context.graph
        database = context.services.database
        with database.session() as session:
            known = set(load_saved(session, [o.name for o in objects]))
        for obj in objects:
            if obj.name in known:
                report.add("known", obj.name)
        for obj in missing_objects(objects, known):
            try:
                with database.session() as session:
                    insert_transient(session, graph, obj, "tns-daily")
            except (ValueError, DuplicateTransient) as exc:
                report.add("skipped", f"{obj.name} (invalid: {exc})")
                continue
            report.add("new", obj.name)
