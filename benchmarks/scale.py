"""Scale: 100,000 transients' partitions in one Dagster instance, on SQLite and PostgreSQL.

For each backend and each size (10,000 to show growth, then 100,000) a fresh Blast database and
Dagster instance are filled quickly (bulk inserts of transients and their task registers, one
``add_dynamic_partitions`` call, materialisation events for ``--events`` partitions through
``report_runless_asset_event``, and one finished run per materialised partition plus a few in
flight), then the operations that must stay fast are timed:

* the sensor tick (``new_transients_sensor``) with 50 new transients pending among the others,
  and with none pending;
* one transient's status (``blast-pipeline status``: register + progress) and the Dagster side
  (latest materialisation of one partition of one asset);
* the status of every partition of one asset (``get_status_by_partition``) and
  ``get_materialized_partitions``;
* the retrigger job's query (in-flight runs + unfinished transients, ``system/retrigger.py``);
* the peak RSS of the process (each backend/size runs in its own child process).

PostgreSQL databases ``bench_dagster_<id>`` / ``bench_blast_<id>`` are created on
``--pg-host`` (trust auth, user postgres) and dropped at the end.

    .venv/bin/python benchmarks/scale.py                       # 10k and 100k, sqlite + postgres
    .venv/bin/python benchmarks/scale.py --sizes 10000 --backends sqlite --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import pg_admin

ROOT = Path(__file__).resolve().parent.parent
PENDING = 50
MATERIALISED_ASSET = None  # set from the graph: the first workflow asset


def transient_name(i: int) -> str:
    """Realistic, unique TNS-like names: 2016aaaa ... (10,000 per year)."""
    year, rest = 2016 + i // 10_000, i % 10_000
    letters = ""
    for _ in range(4):
        rest, r = divmod(rest, 26)
        letters = chr(97 + r) + letters
    return f"{year}{letters}"


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- child


def write_instance_yaml(home: Path, backend: str, pg: dict | None) -> None:
    if backend == "sqlite":
        storage = f"storage:\n  sqlite:\n    base_dir: {home / 'storage'}\n"
    else:
        storage = (
            "storage:\n  postgres:\n    postgres_db:\n"
            f"      hostname: {pg['host']}\n      port: {pg['port']}\n"
            "      username: postgres\n      password: ''\n"
            f"      db_name: {pg['dagster_db']}\n      scheme: postgresql+psycopg2\n"
        )
    (home / "dagster.yaml").write_text(
        storage + f"local_artifact_storage:\n  module: dagster._core.storage.root\n"
        f"  class: LocalArtifactStorage\n  config:\n    base_dir: {home / 'artifacts'}\n"
        "telemetry:\n  enabled: false\n"
    )


def bulk_fill(services, graph, n: int) -> list[str]:
    """Insert ``n`` transients and their registers; the last PENDING wait for the sensor."""
    from sqlalchemy import insert, select

    from blast_pipeline.db.models import Status, TaskRegister, Transient
    from blast_pipeline.db.reference_rows import ensure_tasks
    from blast_pipeline.runners.progress import COMPLETED
    from blast_pipeline.statuses import NOT_PROCESSED, PROCESSED, PROCESSING

    rng = random.Random(1)
    names = [transient_name(i) for i in range(n)]
    now = datetime.now(UTC)
    launched = now - timedelta(days=1)
    n_done = n - PENDING
    rows, done = [], []
    for i, name in enumerate(names):
        pending = i >= n_done
        # ~95 % finished, ~5 % stuck part-way (what the retrigger job looks for)
        finished = not pending and rng.random() < 0.95
        done.append(finished)
        rows.append(
            dict(
                name=name,
                display_name=name,
                ra_deg=rng.uniform(0, 360),
                dec_deg=rng.uniform(-90, 90),
                tns_id=0,
                progress=100 if finished else (0 if pending else 50),
                processing_status=COMPLETED if finished else PROCESSING,
                ingest_source="tns",
                added_at=now,
                workflow_requested_at=None if pending else launched,
                workflow_generation=0 if pending else 1,
                partition_archived=False,
                software_version="bench",
            )
        )
    with services.database.session() as session:
        tasks = ensure_tasks(session, graph.task_names)
        status_ids = dict(session.execute(select(Status.message, Status.id)).all())
        for i in range(0, n, 20_000):
            session.execute(insert(Transient), rows[i : i + 20_000])
        ids = dict(session.execute(select(Transient.name, Transient.id)).all())
    task_ids = [tasks[t].id for t in graph.task_names]
    half = len(task_ids) // 2
    with services.database.session() as session:
        batch: list[dict] = []
        for name, finished in zip(names, done, strict=True):
            tid = ids[name]
            for k, task_id in enumerate(task_ids):
                status = PROCESSED if finished or k < half else NOT_PROCESSED
                batch.append(
                    dict(
                        transient_id=tid,
                        task_id=task_id,
                        status_id=status_ids[status],
                        user_warning=False,
                        last_modified=now,
                    )
                )
            if len(batch) >= 50_000:
                session.execute(insert(TaskRegister), batch)
                batch = []
        if batch:
            session.execute(insert(TaskRegister), batch)
    return names


def add_runs(instance, names: list[str], n_runs: int, n_in_flight: int) -> None:
    import dagster as dg

    from blast_pipeline.runners.compile import WORKFLOW_JOB_NAME

    for i, name in enumerate(names[:n_runs]):
        status = dg.DagsterRunStatus.STARTED if i < n_in_flight else dg.DagsterRunStatus.SUCCESS
        instance.add_run(
            dg.DagsterRun(
                job_name=WORKFLOW_JOB_NAME,
                status=status,
                tags={"dagster/partition": name, "blast/transient": name},
            )
        )


def profile_call(fn: Callable[[], object], label: str) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(18)
    log(f"--- cProfile: {label}\n{out.getvalue()}")


def run_child(args: argparse.Namespace) -> dict:
    import dagster as dg
    from sqlalchemy import or_, select

    from blast_pipeline.db import BlastDatabase
    from blast_pipeline.db.models import Transient
    from blast_pipeline.db.task_register import statuses_with_defaults, task_statuses
    from blast_pipeline.db.transients import get_transient
    from blast_pipeline.definitions import build_definitions
    from blast_pipeline.resources import BlastResource
    from blast_pipeline.runners.compile import TRANSIENTS
    from blast_pipeline.runners.graph import WorkflowGraph
    from blast_pipeline.statuses import PROCESSING
    from blast_pipeline.system.retrigger import stalled_transients
    from blast_pipeline.system.runs import transients_with_runs_in_flight
    from blast_pipeline.tasks import TASK_RUNNERS

    n, backend = args.n, args.backend
    pg = json.loads(args.pg) if args.pg else None
    out: dict = {"n": n, "backend": backend}
    graph = WorkflowGraph.from_runners(TASK_RUNNERS)
    asset_key = dg.AssetKey(graph.runners[0].asset_name)
    with tempfile.TemporaryDirectory(prefix="blast-scale-") as tmp:
        home = Path(tmp)
        (home / "dagster").mkdir()
        write_instance_yaml(home / "dagster", backend, pg)
        db_url = (
            f"postgresql://postgres@{pg['host']}:{pg['port']}/{pg['blast_db']}"
            if backend == "postgres"
            else ""
        )
        blast = BlastResource(home=str(home / "blast"), sky="none", database_url=db_url)
        if db_url:  # PostgreSQL is migrated explicitly, as in production
            BlastDatabase(db_url).migrate()
        services = blast.services()  # SQLite: migrated here
        instance = dg.DagsterInstance.from_config(str(home / "dagster"))

        t0 = time.perf_counter()
        names = bulk_fill(services, graph, n)
        out["fill_blast_s"] = time.perf_counter() - t0
        existing = names[: n - PENDING]
        out["add_partitions_s"], _ = timed(
            lambda: instance.add_dynamic_partitions(TRANSIENTS.name, existing)
        )
        n_events = min(args.events, len(existing))
        t0 = time.perf_counter()
        for name in existing[:n_events]:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=asset_key, partition=name)
            )
        out["events"] = n_events
        out["events_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        add_runs(instance, existing, n_events, n_in_flight=20)
        out["runs"] = n_events
        out["runs_s"] = time.perf_counter() - t0
        log(
            f"[{backend} n={n}] filled: blast {out['fill_blast_s']:.1f}s, partitions "
            f"{out['add_partitions_s']:.2f}s, {n_events} events {out['events_s']:.1f}s, "
            f"{n_events} runs {out['runs_s']:.1f}s"
        )

        # ---- sensor tick
        defs = build_definitions(TASK_RUNNERS, blast=blast)
        sensor = defs.resolve_sensor_def("new_transients_sensor")

        def tick():
            return sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))

        if args.profile:
            profile_call(tick, f"sensor tick, {PENDING} pending, n={n}, {backend}")
            with services.database.session() as session:  # pending again
                for t in session.scalars(
                    select(Transient).where(Transient.name.in_(names[-PENDING:]))
                ):
                    t.workflow_requested_at = None
        out["sensor_tick_s"], result = timed(tick)
        assert isinstance(result, dg.SensorResult), result
        assert result.run_requests, result
        out["sensor_run_requests"] = len(result.run_requests)
        new_keys = result.dynamic_partitions_requests[0].partition_keys
        assert len(new_keys) == PENDING, len(new_keys)
        # what the daemon then does with the tick's partitions request
        out["apply_partitions_s"], _ = timed(
            lambda: instance.add_dynamic_partitions(TRANSIENTS.name, new_keys)
        )
        out["sensor_idle_s"], idle = timed(tick, repeat=5)
        assert isinstance(idle, dg.SkipReason), idle

        # ---- the ways a sensor can tell which of 50 names are new partitions
        probe_new = names[-PENDING:]
        out["has_partition_x50_s"], _ = timed(
            lambda: [instance.has_dynamic_partition(TRANSIENTS.name, k) for k in probe_new], 3
        )
        out["get_all_partitions_s"], _ = timed(
            lambda: set(instance.get_dynamic_partitions(TRANSIENTS.name)), 3
        )
        out["existing_partitions_50_s"], _ = timed(
            lambda: instance.get_existing_dynamic_partitions(TRANSIENTS.name, probe_new), 3
        )

        # ---- status of one transient
        probe = random.Random(2).sample(existing[:n_events], 20)
        it = iter(probe * 3)

        def blast_status():
            with services.database.session() as session:
                t = get_transient(session, next(it))
                s = statuses_with_defaults(task_statuses(session, t), graph.task_names)
                return t.progress, t.processing_status, s

        out["status_blast_s"], _ = timed(blast_status, repeat=20)
        it2 = iter(probe * 3)

        def dagster_status():
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[next(it2)]), limit=1
            ).records
            assert records
            return records

        out["status_dagster_s"], _ = timed(dagster_status, repeat=20)
        out["status_one_s"] = out["status_blast_s"] + out["status_dagster_s"]

        # ---- status of every partition of one asset
        def all_status():
            keys = TRANSIENTS.get_partition_keys(dynamic_partitions_store=instance)
            return instance.get_status_by_partition(asset_key, keys, TRANSIENTS)

        if args.profile:
            profile_call(all_status, f"get_status_by_partition, n={n}, {backend}")
        out["status_all_s"], statuses = timed(all_status, repeat=3)
        assert len(statuses) == n, len(statuses)
        out["materialized_partitions_s"], mat = timed(
            lambda: instance.get_materialized_partitions(asset_key), repeat=3
        )
        assert len(mat) == n_events

        # ---- the retrigger job's query
        def retrigger_query():
            in_flight = transients_with_runs_in_flight(instance)
            with services.database.session() as session:
                candidates = session.execute(
                    select(Transient.name, Transient.workflow_requested_at)
                    .where(or_(Transient.progress < 100, Transient.processing_status == PROCESSING))
                    .order_by(Transient.id)
                ).all()
            return (
                in_flight,
                candidates,
                stalled_transients(candidates, in_flight, datetime.now(UTC)),
            )

        if args.profile:
            profile_call(retrigger_query, f"retrigger query, n={n}, {backend}")
        out["retrigger_query_s"], (in_flight, candidates, stalled) = timed(retrigger_query, 3)
        out["in_flight"], out["unfinished"], out["stalled"] = (
            len(in_flight),
            len(candidates),
            len(stalled),
        )
        instance.dispose()
        services.database.engine.dispose()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# ---------------------------------------------------------------------------------- parent


def run_config(args: argparse.Namespace, backend: str, n: int) -> dict:
    pg = None
    if backend == "postgres":
        uid = uuid.uuid4().hex[:10]
        pg = {
            "host": args.pg_host,
            "port": args.pg_port,
            "dagster_db": f"bench_dagster_{uid}",
            "blast_db": f"bench_blast_{uid}",
        }
        for db in (pg["dagster_db"], pg["blast_db"]):
            pg_admin(args.pg_host, args.pg_port, f"CREATE DATABASE {db}")
    try:
        cmd = [sys.executable, __file__, "--child", "--backend", backend, "--n", str(n)]
        cmd += ["--events", str(args.events)] + (["--profile"] if args.profile else [])
        if pg:
            cmd += ["--pg", json.dumps(pg)]
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if pg:
            for db in (pg["dagster_db"], pg["blast_db"]):
                pg_admin(args.pg_host, args.pg_port, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


KEYS = [
    ("sensor_tick_s", "sensor tick, 50 pending"),
    ("apply_partitions_s", "daemon adds the 50 partitions"),
    ("sensor_idle_s", "sensor tick, none pending"),
    ("has_partition_x50_s", "has_dynamic_partition x 50"),
    ("get_all_partitions_s", "set(get_dynamic_partitions()) (all keys)"),
    ("existing_partitions_50_s", "get_existing_dynamic_partitions(50 keys)"),
    ("status_blast_s", "status of one transient (Blast DB)"),
    ("status_dagster_s", "latest materialisation of one partition"),
    ("status_all_s", "status of all partitions of one asset"),
    ("materialized_partitions_s", "get_materialized_partitions"),
    ("retrigger_query_s", "retrigger query (runs + unfinished)"),
    ("peak_rss_mb", "peak RSS (MB)"),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--events", type=int, default=2000, help="materialisation events written")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--profile", action="store_true", help="cProfile the timed calls (stderr)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--pg", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    results: dict[tuple[str, int], dict] = {}
    for backend in backends:
        for n in sizes:
            results[(backend, n)] = r = run_config(args, backend, n)
            print(
                f"{backend:>8} n={n:>6}: fill {r['fill_blast_s']:.1f}s, add_partitions "
                f"{r['add_partitions_s']:.2f}s, {r['events']} events {r['events_s']:.1f}s "
                f"({1000 * r['events_s'] / max(r['events'], 1):.1f} ms each), "
                f"{r['runs']} runs {r['runs_s']:.1f}s; sensor: {r['sensor_run_requests']} run "
                f"request(s) for {PENDING} pending; unfinished {r['unfinished']}, "
                f"in flight {r['in_flight']}, stalled {r['stalled']}",
                flush=True,
            )
    for backend in backends:
        print(f"\n{backend}: " + "  ".join(f"n={n:>7}" for n in sizes) + "   growth")
        for key, label in KEYS:
            vals = [results[(backend, n)][key] for n in sizes]
            growth = f"x{vals[-1] / vals[0]:.1f}" if len(vals) > 1 and vals[0] > 0 else ""
            print(f"  {label:<42}" + "  ".join(f"{v:>9.4f}" for v in vals) + f"   {growth}")
    if len(sizes) > 1:
        print(f"  (size grows x{sizes[-1] / sizes[0]:.0f})")
    for backend in backends:
        r = results[(backend, sizes[-1])]
        print(
            f"RESULT sensor_tick_s={r['sensor_tick_s']:.3f} status_one_s={r['status_one_s']:.4f} "
            f"status_all_s={r['status_all_s']:.3f} peak_rss_mb={r['peak_rss_mb']:.0f} "
            f"n={sizes[-1]} backend={backend}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
