"""Shared by the benchmarks: a BlastResource home with simulated transients, and the plain loop
that runs the transient tasks on them without Dagster."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from blast_pipeline.db.transients import NewTransient, duplicate_problems, insert_transient
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import TransientTaskRunner
from blast_pipeline.runners.execution import execute_transient_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.filters import FILTERS, cutout_size_pixels
from blast_pipeline.services import PipelineServices
from blast_pipeline.sources.sky import SimulatedTransient
from blast_pipeline.tasks import TASK_RUNNERS


def geometry_line(fov: float) -> str:
    """The cutout geometry a benchmark runs at, one line for its output."""
    sizes = ", ".join(
        f"{f.survey} {cutout_size_pixels(f, fov)}px"
        for f in FILTERS
        if f.band in ("g", "H", "W1", "NUV")
    )
    kind = "Blast's real geometry" if fov == 360.0 else "Blast's real geometry is 360\""
    return f'geometry: {fov:g}" cutouts ({kind}): {sizes}'


def setup_home(home: Path, n: int, seed: int, fov: float) -> BlastResource:
    """A Blast home whose simulated sky has ``n`` new transients, each registered as pending."""
    blast = BlastResource(home=str(home), sky_seed=seed, cutout_fov_arcsec=fov)
    services = blast.services()
    register_transients(services, services.cutouts.generate(n))
    return blast


def register_transients(
    services: PipelineServices, transients: Iterable[SimulatedTransient]
) -> None:
    """Insert simulated transients into the Blast database as new (pending) transients, as TNS
    ingestion would."""
    task_names = WorkflowGraph.from_runners(TASK_RUNNERS).task_names
    rows = [
        NewTransient(t.name, t.ra_deg, t.dec_deg, redshift=t.redshift, ingest_source="simulated")
        for t in transients
    ]
    with services.database.session() as session:
        problems = duplicate_problems(session, rows)  # one batch check, then the one insert path
        if problems:
            raise ValueError("; ".join(problems.values()))
        for new in rows:
            insert_transient(session, task_names, new, check_clashes=False)


def runners_for(graph: WorkflowGraph, targets: Iterable[str] | None) -> list[TransientTaskRunner]:
    """The graph's runners (dependency order) needed for ``targets``; all of them for None."""
    if targets is None:
        return list(graph.runners)
    needed = set(targets)
    for target in list(needed):
        needed |= graph.upstream[target]
    return [r for r in graph.runners if r.task_name in needed]


def run_transient(
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    runners: Iterable[TransientTaskRunner] | None = None,
    report: Callable[[str], None] = print,
) -> None:
    """Run ``runners`` (default: every transient task) on one transient, in dependency order.

    A task that raises is reported and the loop goes on (the register records the failure,
    as a failed step would in Dagster).
    """
    for runner in graph.runners if runners is None else runners:
        try:
            execute_transient_task(runner, name, services, graph)
        except Exception as exc:
            report(f"  {name}: {runner.task_name} raised {exc}")


def pg_admin(host: str, port: int, sql: str) -> None:
    """Run one statement (e.g. CREATE DATABASE) on the server's ``postgres`` database."""
    import psycopg2

    conn = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()
