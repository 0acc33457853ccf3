"""CLI commands of the web API helper: ``serve``, ``export``, ``import``, ``update`` and the
``--wait [--timeout S]`` option of ``add``, ``import-csv`` and ``update``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from sqlalchemy import select

from blast_pipeline.db.models import Transient
from blast_pipeline.db.transients import get_transient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: The import string uvicorn's worker processes build the app from.
APP_FACTORY = "blast_pipeline.web.app:create_app"
#: How long a worker may take to answer uvicorn's health check (imports included), seconds.
WORKER_STARTUP_SECONDS = 120


def _services():
    from blast_pipeline.resources import blast_resource_from_env

    return blast_resource_from_env(resolve=True).services()


def _graph():
    from blast_pipeline.runners.graph import WorkflowGraph
    from blast_pipeline.tasks import TASK_RUNNERS

    return WorkflowGraph.from_runners(TASK_RUNNERS)


def add_wait_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", action="store_true", help="block until the transients reach 100 %%"
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="with --wait: give up after S seconds"
    )


def wait_if_asked(args: argparse.Namespace, names: list[str]) -> int:
    """With ``--wait``: wait, print the final statuses; 1 on timeout or a blocked transient."""
    if not getattr(args, "wait", False):
        return 0
    from blast_pipeline.wait import wait_for

    if args.timeout is not None and not args.timeout > 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {args.timeout}")
    outcome = wait_for(names, timeout=args.timeout)
    print(outcome.report())
    return 0 if outcome.ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """Blast's web API on uvicorn (``/api/...``, ``/health``, the OpenAPI document at /docs).

    ``--workers N`` (N > 1) runs N server processes on the one port; each builds its own app
    (and database engine) from the ``BLAST_*`` environment through the factory."""
    import uvicorn

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    options = {"host": args.host, "port": args.port, "log_level": args.log_level}
    if args.workers == 1:
        from blast_pipeline.web.app import create_app

        uvicorn.run(create_app(), **options)
    else:
        # A spawned worker re-imports this CLI and the app (10-15 s on a loaded machine)
        # before it answers the supervisor's health check: uvicorn's 5 s default killed and
        # respawned every worker before it could serve.
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            workers=args.workers,
            timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
            **options,
        )
    return 0


def _export_names(args: argparse.Namespace, services) -> list[str]:
    if args.all and args.names:
        raise ValueError("give transient names or --all, not both")
    if args.all:
        with services.database.session() as session:
            return list(session.scalars(select(Transient.name).order_by(Transient.id)))
    if not args.names:
        raise ValueError("give at least one transient name, or --all")
    return list(dict.fromkeys(args.names))


def cmd_export(args: argparse.Namespace) -> int:
    from blast_pipeline.export.dataset import export_dataset
    from blast_pipeline.export.payload import science_payload
    from blast_pipeline.export.transfer import export_archive

    services = _services()
    names = _export_names(args, services)
    if args.archive:
        target = Path(args.archive)
        if len(names) > 1 or target.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            paths = [target / f"{n}.tar.gz" for n in names]
        else:
            paths = [target]
        for name, path in zip(names, paths, strict=True):
            with services.database.session() as session:
                get_transient(session, name)
            n_files = export_archive(services, name, path)
            print(f"{name}: {path} ({n_files} file(s))")
        return 0
    with services.database.session() as session:
        transients = [get_transient(session, n) for n in names]
        if args.format == "dataset":
            records = [export_dataset(session, t) for t in transients]
        else:
            records = [science_payload(session, t) for t in transients]
    out = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "csv":
            write_payload_csv(records, out)
        else:
            json.dump(records[0] if len(records) == 1 else records, out, indent=2)
            out.write("\n")
    finally:
        if args.output:
            out.close()
    return 0


def write_payload_csv(payloads: list[dict], out) -> None:
    """One row per transient, the payload's keys as columns (Blast's batch results CSV);
    nested objects and lists as JSON, null as an empty cell."""
    if not payloads:
        return
    writer = csv.writer(out)
    keys = list(payloads[0])
    writer.writerow(keys)
    for payload in payloads:
        writer.writerow(
            [
                ""
                if payload[k] is None
                else json.dumps(payload[k])
                if isinstance(payload[k], dict | list)
                else payload[k]
                for k in keys
            ]
        )


def cmd_import(args: argparse.Namespace) -> int:
    from blast_pipeline.export.transfer import import_archives

    names = import_archives(_services(), _graph(), [Path(p) for p in args.archives])
    print(f"imported {len(names)} transient(s): {', '.join(names)}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from blast_pipeline.updates import TransientUpdate, update_transient

    update = TransientUpdate(
        comment=args.comment,
        ra_deg=args.ra,
        dec_deg=args.dec,
        redshift=args.redshift,
        host_ra_deg=args.host_ra,
        host_dec_deg=args.host_dec,
        host_redshift=args.host_redshift,
        aperture=tuple(args.aperture) if args.aperture else None,
    )
    result = update_transient(_services(), _graph(), args.name, update)
    print(
        f"{args.name}: updated {', '.join(result.fields)}; {len(result.reset)} task(s) reset"
        + (f" ({', '.join(result.reset)})" if result.reset else "")
        + "; the sensor will launch the run"
    )
    return wait_if_asked(args, [args.name])


def register_commands(sub) -> None:
    """Add this module's subcommands to the ``blast-pipeline`` parser."""
    p = sub.add_parser("serve", help="run Blast's web API (default http://127.0.0.1:8000)")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--workers", type=int, default=1, help="server processes (one per core helps most)"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("export", help="science payload (json/csv), Blast dataset or archive")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every stored transient")
    p.add_argument("--format", choices=("json", "csv", "dataset"), default="json")
    p.add_argument("--archive", metavar="FILE", help=".tar.gz (a folder for several names)")
    p.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import transient archives (all or nothing)")
    p.add_argument("archives", nargs="+", metavar="ARCHIVE")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("update", help="Blast's update form: edit and re-run what depends on it")
    p.add_argument("name")
    p.add_argument("--ra", type=float, help="new right ascension, degrees")
    p.add_argument("--dec", type=float, help="new declination, degrees")
    p.add_argument("--redshift", type=float)
    p.add_argument("--host-ra", type=float, help="a given host's right ascension, degrees")
    p.add_argument("--host-dec", type=float)
    p.add_argument("--host-redshift", type=float)
    p.add_argument(
        "--aperture",
        type=float,
        nargs=3,
        metavar=("A", "B", "THETA"),
        help="global aperture: semi-axes in arcsec, orientation in degrees",
    )
    p.add_argument("--comment", required=True, help="why (recorded as update_comment)")
    add_wait_arguments(p)
    p.set_defaults(func=cmd_update)
