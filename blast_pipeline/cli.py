"""``blast-pipeline``: add and inspect transients, and run their workflows without the daemon.

Configuration comes from the same ``BLAST_*`` environment variables as the Dagster resource
(see README); Dagster runs go to the instance in ``DAGSTER_HOME``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from blast_pipeline.db.models import Transient
from blast_pipeline.db.task_register import (
    statuses_with_defaults,
    task_statuses,
)
from blast_pipeline.db.transients import get_transient, insert_transient
from blast_pipeline.export.commands import add_wait_arguments, register_commands, wait_if_asked
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.sed_command import register_fit_sed
from blast_pipeline.services import PipelineServices
from blast_pipeline.statuses import PROCESSED, is_error
from blast_pipeline.transient_input import parse_new_transient


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def _services() -> PipelineServices:
    return blast_resource_from_env(resolve=True).services()


def _graph() -> WorkflowGraph:
    from blast_pipeline.tasks import TASK_RUNNERS

    return WorkflowGraph.from_runners(TASK_RUNNERS)


def cmd_add(args: argparse.Namespace) -> int:
    new = parse_new_transient(args.name, args.ra, args.dec, args.redshift, ingest_source="cli")
    services, graph = _services(), _graph()
    with services.database.session() as session:
        insert_transient(session, graph.task_names, new)
    print(f"added {args.name}; the sensor will launch its workflow")
    return wait_if_asked(args, [args.name])


def cmd_import_csv(args: argparse.Namespace) -> int:
    """Every row is checked (transient_input.py, then against the database) before any is
    written; then committed in chunks (db/csv_import.py); a name already stored is skipped."""
    from blast_pipeline.db.csv_import import import_transients
    from blast_pipeline.transient_input import read_transient_csv

    path = Path(args.file)
    rows = read_transient_csv(path)
    services, graph = _services(), _graph()
    summary = import_transients(services.database, graph.task_names, path, rows)
    print(
        f"imported {summary.added} transient(s), skipped {summary.skipped} (already in the "
        f"database); {summary.chunks} transaction(s), {summary.seconds:.1f} s"
    )
    return wait_if_asked(args, [new.name for _, new in rows])


def cmd_list(args: argparse.Namespace) -> int:
    services = _services()
    with services.database.session() as session:
        transients = session.scalars(select(Transient).order_by(Transient.id)).all()
        if not transients:
            print("no transients")
            return 0
        print(f"{'name':<24} {'ra':>10} {'dec':>10} {'z':>7} {'progress':>8}  status")
        for t in transients:
            z = f"{t.redshift:.4f}" if t.redshift is not None else "-"
            print(
                f"{t.name:<24} {t.ra_deg:>10.5f} {t.dec_deg:>10.5f} {z:>7} "
                f"{t.progress:>7}%  {t.processing_status}"
            )
        total = session.scalar(select(func.count(Transient.id)))
        print(f"{total} transient(s)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if not args.name:
        return cmd_list(args)
    services, graph = _services(), _graph()
    with services.database.session() as session:
        transient = get_transient(session, args.name)
        statuses = statuses_with_defaults(task_statuses(session, transient), graph.task_names)
        print(f"{transient.name}: {transient.progress}% {transient.processing_status}")
        for task, status in statuses.items():
            mark = "ok " if status == PROCESSED else ("ERR" if is_error(status) else "   ")
            print(f"  [{mark}] {task:<32} {status}")
    return 0


def refuse_if_run_in_flight(name: str) -> None:
    """Refuse to request a run for a transient whose run is queued or in progress, when a
    Dagster instance is configured (``DAGSTER_HOME``); the sensor would launch a second one."""
    import os

    if not os.environ.get("DAGSTER_HOME"):
        return
    import dagster as dg

    from blast_pipeline.system.runs import runs_in_flight_for

    with dg.DagsterInstance.get() as instance:
        run_ids = runs_in_flight_for(instance, name)
    if run_ids:
        raise CommandError(
            f"{name} has a workflow run queued or in progress ({', '.join(run_ids)}); "
            "try again when it has finished"
        )


def cmd_reprocess(args: argparse.Namespace) -> int:
    refuse_if_run_in_flight(args.name)
    services, graph = _services(), _graph()
    if args.redownload and args.from_task not in (None, "Cutout download"):
        raise CommandError("--redownload re-runs everything: it cannot be combined with --from")
    with services.database.session() as session:
        transient = get_transient(session, args.name)
        if args.from_task is not None and not args.from_task.strip():
            raise CommandError("--from: empty task name; give a Blast task, e.g. 'Host match'")
        removed = 0
        if args.redownload:
            from blast_pipeline.tasks.cutout_download import forget_cutouts

            removed = forget_cutouts(session, transient, services.data_root)
        tasks = reset_and_request(
            session, graph, transient, services.data_root, "all", from_task=args.from_task
        )
    extra = f", {removed} cutout(s) to download again" if args.redownload else ""
    print(f"{args.name}: {len(tasks)} task(s) reset{extra}; the sensor will launch the run")
    return 0


def cmd_retrigger(args: argparse.Namespace) -> int:
    """Re-run what did not finish: error and stalled tasks go back to "not processed"."""
    refuse_if_run_in_flight(args.name)
    services, graph = _services(), _graph()
    with services.database.session() as session:
        transient = get_transient(session, args.name)
        todo = reset_and_request(session, graph, transient, services.data_root, "manual")
    print(f"{args.name}: {len(todo)} task(s) reset; the sensor will launch the run")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Add N transients drawn from the simulated sky; the sensor then processes them."""
    from blast_pipeline.config_check import open_services
    from blast_pipeline.transient_input import NewTransient

    resource = blast_resource_from_env(resolve=True)
    settings = resource.settings()
    if settings.sky != "simulated":
        raise CommandError(f"simulate needs the simulated sky, but BLAST_SKY={settings.sky!r}")
    if args.n < 0:
        raise CommandError(f"N must be >= 0, got {args.n}")
    services, graph = open_services(resource, sky_seed=args.seed), _graph()
    simulated = services.cutouts.generate(args.n)
    with services.database.session() as session:
        for item in simulated:
            new = NewTransient(
                item.name,
                item.ra_deg,
                item.dec_deg,
                redshift=item.redshift,
                ingest_source="simulated",
            )
            insert_transient(session, graph.task_names, new)
    print(
        f"added {len(simulated)} simulated transient(s) (seed {services.cutouts.seed}); "
        "the sensor will launch their workflows"
    )
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    """Do what the daemon does, in this process: evaluate the sensor and execute its runs."""
    from blast_pipeline.orchestration import process_pending

    blast_resource_from_env()  # configuration errors name their variable before any run
    summary = process_pending(max_ticks=args.max_ticks)
    print(summary)
    return 0 if summary.failed_runs == 0 and not summary.failed_tasks else 1


def cmd_configure_instance(args: argparse.Namespace) -> int:
    """Apply the concurrency pool limits to the Dagster instance in DAGSTER_HOME."""
    from blast_pipeline.orchestration import default_instance
    from blast_pipeline.runners.pools import apply_pool_limits

    limits = apply_pool_limits(default_instance())
    print("pool limits: " + ", ".join(f"{k}={v}" for k, v in limits.items()))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Alembic upgrade head of the configured Blast database (explicit in production; the
    embedded SQLite database is also migrated on open)."""
    from blast_pipeline.config_check import shown_url
    from blast_pipeline.db import BlastDatabase

    url = blast_resource_from_env(resolve=True).settings().database_url
    database = BlastDatabase(url)
    try:
        before, after = database.migrate()
    finally:
        database.dispose()
    shown = shown_url(database.url)
    if before == after:
        print(f"{shown}: already at {after}")
    else:
        print(f"{shown}: migrated from {before or '(empty)'} to {after}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check every part of the deployment; exit 1 naming the parts that are down."""
    import logging

    from blast_pipeline.doctor import as_json, as_table, down_parts, run_checks

    logging.disable(logging.WARNING)  # libraries' retry warnings: the table names the failure
    checks = run_checks()
    print(as_json(checks) if args.json else as_table(checks))
    down = down_parts(checks)
    if down:
        print(f"blast-pipeline doctor: down: {', '.join(down)}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blast-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("add", help="add one transient")
    p.add_argument("name")
    p.add_argument("ra", help="right ascension, degrees (ICRS)")
    p.add_argument("dec", help="declination, degrees (ICRS)")
    p.add_argument("--redshift", default=None)
    add_wait_arguments(p)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("import-csv", help="add transients from a name,ra,dec[,redshift] CSV")
    p.add_argument("file")
    add_wait_arguments(p)
    p.set_defaults(func=cmd_import_csv)

    p = sub.add_parser("status", help="per-task statuses and progress of one transient (or all)")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("simulate", help="add N transients from the simulated sky")
    p.add_argument("n", type=int)
    p.add_argument("--seed", type=int, default=None, help="seed of a new sky (default 42)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("list", help="list transients with progress")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("reprocess", help="re-run a transient's workflow (all, or from a task)")
    p.add_argument("name")
    p.add_argument("--from", dest="from_task", default=None, help="Blast task name")
    p.add_argument(
        "--redownload",
        action="store_true",
        help="download the cutouts again (stored files are otherwise kept)",
    )
    p.set_defaults(func=cmd_reprocess)

    p = sub.add_parser("retrigger", help="re-run the failed and stalled tasks of a transient")
    p.add_argument("name")
    p.set_defaults(func=cmd_retrigger)

    p = sub.add_parser(
        "process", help="launch and execute waiting workflow runs here (no daemon needed)"
    )
    p.add_argument("--max-ticks", type=int, default=1000)
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("configure-instance", help="set concurrency pool limits in DAGSTER_HOME")
    p.set_defaults(func=cmd_configure_instance)

    p = sub.add_parser("migrate", help="bring the Blast database to the newest schema (Alembic)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "doctor", help="check webserver, daemon, databases, broker, workers and files"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)
    register_commands(sub)
    register_fit_sed(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from blast_pipeline.db.transients import DuplicateTransient, TransientNotFound
    from blast_pipeline.names import InvalidTransientName

    try:
        return args.func(args)
    except (
        CommandError,
        InvalidTransientName,
        DuplicateTransient,
        TransientNotFound,
        ValueError,
        KeyError,
    ) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"blast-pipeline: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
