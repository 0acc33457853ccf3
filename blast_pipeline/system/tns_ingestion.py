"""TNS data ingestion (Blast's ``TNSDataIngestion``, reference section 6), every 240 s.

Each run asks TNS for the objects made public in the last ``TNS_INGEST_WINDOW_MINUTES`` (200,
so consecutive windows overlap) and, per object (``classify_update``):

* new -> inserted (``db.transients.insert_transient``, ingest_source ``"tns"``, with the input
  rules of ``transient_input.py`` except the 1″ one, TNS deciding which objects are distinct:
  an object that breaks them is skipped with the reason); the
  new-transients sensor then launches its workflow;
* changed (timestamp, position, class, TNS id, prefix) -> fields copied, nothing re-run;
* redshift changed -> fields copied, the tasks from the first one that uses the redshift (Host
  match) and everything downstream are reset to "not processed" and a workflow run is requested;
  earlier tasks keep their results (Blast re-ran everything). While the transient still has a
  run in flight the change is left for a later tick (the windows overlap), so a transient never
  gets two concurrent runs;
* unchanged -> nothing.

One ingestion talks to TNS at a time: the op is in the Dagster concurrency pool ``tns`` (limit 1
in ``runners/pools.py``, applied by ``blast-pipeline configure-instance``), replacing Blast's
database lock and Celery mutex. Waits on "too many requests" happen inside the pool slot.

Credentials come only from the environment: ``TNS_BOT_API_KEY``, ``TNS_BOT_NAME``,
``TNS_BOT_ID``; ``TNS_BASE_URL`` (default the real TNS) points elsewhere, e.g. a test server.
Without credentials the schedule stays RUNNING (Blast's ``initially_enabled=True``) but every
tick is skipped with the reason (``disabled_reason``: which variables are missing), visible in
the schedule's tick history; set the variables and ingestion starts at the next tick. The key is
never logged: the client redacts it from every message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from blast_pipeline.db.models import Transient
from blast_pipeline.db.transients import (
    DuplicateTransient,
    NewTransient,
    find_transient,
)
from blast_pipeline.db.transients import insert_transient as insert_new_transient
from blast_pipeline.runners.base import SystemTaskContext, SystemTaskRunner
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.sources.base import RateLimitedError, SourceError
from blast_pipeline.sources.tns import (
    DEFAULT_TNS_BASE_URL,
    DEFAULT_WINDOW_MINUTES,
    InvalidTNSCredentials,
    TNSClient,
    TNSCredentials,
    TNSObject,
)
from blast_pipeline.system.tns_policy import UpdateKind, classify_update

ENV_BASE_URL = "TNS_BASE_URL"
ENV_WINDOW_MINUTES = "TNS_INGEST_WINDOW_MINUTES"
#: The first task that uses the transient's redshift (Prost's redshift prior); a redshift change
#: re-runs it and everything downstream of it.
FIRST_REDSHIFT_TASK = "Host match"
#: Fields copied from TNS onto a known transient.
COPIED_FIELDS: tuple[str, ...] = (
    "tns_id",
    "ra_deg",
    "dec_deg",
    "tns_prefix",
    "public_timestamp",
    "spectroscopic_class",
    "redshift",
)
#: Names listed in run metadata at most (the counts are always complete).
MAX_LISTED = 50


class TNSTaskUnavailable(RuntimeError):
    """TNS cannot be used now (configuration); the message is safe to show."""


def tns_disabled_reason(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the TNS tasks cannot run (missing/invalid credentials or URL), else None. Names the
    variables only, never their values."""
    try:
        TNSCredentials.from_env(environ)
    except InvalidTNSCredentials as exc:
        return str(exc)
    base_url = tns_base_url(environ)
    if not base_url.startswith(("http://", "https://")):
        return f"{ENV_BASE_URL} must start with http:// or https://"
    return None


def tns_base_url(environ: Mapping[str, str] = os.environ) -> str:
    return (environ.get(ENV_BASE_URL) or "").strip() or DEFAULT_TNS_BASE_URL


def tns_client_from_env(
    sleep: Callable[[float], None] = time.sleep, environ: Mapping[str, str] = os.environ
) -> TNSClient:
    """A client with the environment's credentials and base URL."""
    reason = tns_disabled_reason(environ)
    if reason:
        raise TNSTaskUnavailable(reason)
    return TNSClient(TNSCredentials.from_env(environ), base_url=tns_base_url(environ), sleep=sleep)


def window_minutes_from_env(environ: Mapping[str, str] = os.environ) -> float:
    raw = (environ.get(ENV_WINDOW_MINUTES) or "").strip()
    if not raw:
        return float(DEFAULT_WINDOW_MINUTES)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_WINDOW_MINUTES} must be a number of minutes, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{ENV_WINDOW_MINUTES} must be positive, got {raw!r}")
    return value


def saved_fields(transient: Transient) -> dict[str, Any]:
    """The fields ``classify_update`` compares."""
    return {name: getattr(transient, name) for name in COPIED_FIELDS}


def plan_ingestion(
    saved: Mapping[str, Mapping[str, Any]], objects: Iterable[TNSObject]
) -> list[tuple[TNSObject, UpdateKind]]:
    """What to do with each object given the saved transients' fields, by name (pure)."""
    return [(obj, classify_update(saved.get(obj.name), obj)) for obj in objects]


def new_transient_from_tns(obj: TNSObject, ingest_source: str) -> NewTransient:
    """Validated insert fields; raises ``ValueError`` when TNS's values are unusable."""
    return NewTransient(
        name=obj.name,
        ra_deg=obj.ra_deg,
        dec_deg=obj.dec_deg,
        redshift=obj.redshift,
        tns_id=obj.tns_id,
        tns_prefix=obj.tns_prefix,
        public_timestamp=obj.public_timestamp,
        spectroscopic_class=obj.spectroscopic_class,
        ingest_source=ingest_source,
    )


def load_saved(session, names: list[str], chunk: int = 500) -> dict[str, dict[str, Any]]:
    """Saved fields of the transients among ``names`` (chunked ``IN`` queries)."""
    saved: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), chunk):
        part = names[start : start + chunk]
        for transient in session.scalars(select(Transient).where(Transient.name.in_(part))):
            saved[transient.name] = saved_fields(transient)
    return saved


def insert_transient(session, graph: WorkflowGraph, obj: TNSObject, ingest_source: str) -> None:
    """Insert one TNS object with its task registers (the sensor launches it)."""
    new = new_transient_from_tns(obj, ingest_source)
    insert_new_transient(session, graph.task_names, new, nearby=False)


@dataclass
class IngestionReport:
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, name: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        listed = self.names.setdefault(kind, [])
        if len(listed) < MAX_LISTED:
            listed.append(name)

    def summary(self) -> str:
        order = ("new", "updated", "redshift_changed", "deferred", "unchanged", "skipped")
        return ", ".join(f"{self.counts.get(k, 0)} {k}" for k in order)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {f"n_{k}": v for k, v in sorted(self.counts.items())}
        for kind, listed in sorted(self.names.items()):
            if kind not in ("unchanged", "known"):
                meta[kind] = ", ".join(listed)
        return meta


class TNSDataIngestion(SystemTaskRunner):
    """Ingest transients made public on TNS recently; update changed ones (redshift change:
    re-run from Host match)."""

    task_name = "TNS data ingestion"
    task_frequency_seconds = 240
    task_initially_enabled = True
    pool = "tns"
    #: Blast aborted an ingestion after 120 s; rate-limit waits (<= 180 s per request) need more.
    time_limit_seconds = 1200.0

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        #: How the client waits on rate limits and retries (tests replace it).
        self.sleep = sleep

    def disabled_reason(self) -> str | None:
        return tns_disabled_reason()

    def run_process(self, context: SystemTaskContext) -> str | None:
        reason = self.disabled_reason()
        if reason:  # launched by hand without credentials: do nothing, say why
            context.log.warning(f"{self.task_name} not run: {reason}")
            context.add_metadata(skipped=reason)
            return f"not run: {reason}"
        window = window_minutes_from_env()
        with tns_client_from_env(self.sleep) as client:
            try:
                fetched = client.fetch_recent(window_minutes=window, now=datetime.now(UTC))
            except RateLimitedError as exc:
                context.log.warning(f"TNS rate limit: {exc}; the next tick tries again")
                context.add_metadata(rate_limited=str(exc))
                return "TNS rate limited; nothing ingested (next tick tries again)"
            except SourceError as exc:
                # 5xx after retries, malformed replies, error id_codes: fail the run visibly.
                raise TNSSearchFailed(str(exc)) from None
        report = self.ingest(context, fetched.objects)
        for skipped in fetched.skipped:
            report.add("skipped", f"{skipped.name} ({skipped.kind})")
        context.add_metadata(window_minutes=window, **report.metadata())
        return report.summary()

    def ingest(self, context: SystemTaskContext, objects: list[TNSObject]) -> IngestionReport:
        """Apply the plan to the Blast database, one transaction per changed object."""
        from blast_pipeline.system.runs import transients_with_runs_in_flight

        report = IngestionReport()
        graph = context.graph
        database = context.services.database
        with database.session() as session:
            saved = load_saved(session, [o.name for o in objects])
        plan = plan_ingestion(saved, objects)
        in_flight: set[str] | None = None
        for obj, kind in plan:
            if kind == "unchanged":
                report.add(kind, obj.name)
                continue
            if kind == "redshift_changed" and saved.get(obj.name) is not None:
                if in_flight is None:
                    in_flight = transients_with_runs_in_flight(context.orchestrator)
                if obj.name in in_flight:
                    context.log.info(f"{obj.name}: redshift change deferred, a run is in flight")
                    report.add("deferred", obj.name)
                    continue
            try:
                with database.session() as session:
                    self._apply(session, graph, obj, kind, context.services.data_root)
            except (ValueError, DuplicateTransient) as exc:
                context.log.warning(f"{obj.name}: not ingested: {exc}")
                report.add("skipped", f"{obj.name} (invalid: {exc})")
                continue
            report.add(kind, obj.name)
        return report

    def _apply(
        self, session, graph: WorkflowGraph, obj: TNSObject, kind: UpdateKind, data_root: Path
    ) -> None:
        if kind == "new":
            insert_transient(session, graph, obj, "tns")
            return
        transient = find_transient(session, obj.name)
        if transient is None:  # deleted meanwhile: insert it again
            insert_transient(session, graph, obj, "tns")
            return
        for name in COPIED_FIELDS:
            value = getattr(obj, name)
            if name == "redshift" and value is None:
                continue  # TNS lost its redshift: keep ours (Blast copies only truthy changes)
            setattr(transient, name, value)
        if kind == "redshift_changed":
            reset_and_request(session, graph, transient, data_root, from_task=FIRST_REDSHIFT_TASK)


class TNSSearchFailed(SourceError):
    """The TNS search failed (after retries); the run fails, the next tick tries again."""
