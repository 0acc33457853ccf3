"""Blast's update form (v1.13, reference 3.3): edit a transient, its host or its global aperture,
record what changed, and reset exactly the tasks Blast resets for that kind of change.

The caller refuses a transient whose run is in flight (``refuse_if_busy``); the sensor then
launches the run of the reset tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import AperturePhotometry, Host, Transient
from blast_pipeline.db.task_register import (
    initialise_registers,
    reset_tasks,
    set_status,
    statuses_with_defaults,
    task_statuses,
)
from blast_pipeline.db.transients import get_transient
from blast_pipeline.db.workflow_requests import request_workflow
from blast_pipeline.runners.execution import refresh_progress
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.services import PipelineServices
from blast_pipeline.statuses import PROCESSED, PROCESSING
from blast_pipeline.transient_input import validate_coordinates

GLOBAL_SED = "Global host SED inference"
LOCAL_SED = "Local host SED inference"
#: Blast's resets per kind of change (views.py, v1.13.0).
POSITION_RESETS = (
    "Transient MWEBV",
    "Host match",
    "Host information",
    "Host MWEBV",
    "Global aperture construction",
    "Global aperture photometry",
    "Validate global photometry",
    GLOBAL_SED,
    "Local aperture photometry",
    "Validate local photometry",
    LOCAL_SED,
)
REDSHIFT_RESETS = (
    GLOBAL_SED,
    "Local aperture photometry",
    "Validate local photometry",
    LOCAL_SED,
)
#: A new host: Blast re-runs Host information and Host MWEBV at once; here the workflow does.
HOST_RESETS = (
    "Host information",
    "Host MWEBV",
    "Global aperture construction",
    "Global aperture photometry",
    "Validate global photometry",
    GLOBAL_SED,
)
HOST_KEEPS = ("Cutout download", "Transient MWEBV", "Host match")
APERTURE_RESETS = ("Global aperture photometry", "Validate global photometry", GLOBAL_SED)
APERTURE_KEEPS = ("Global aperture construction",)
MAX_COMMENT = 500


def _finite(value: float | None, what: str) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class TransientUpdate:
    """One row of Blast's update form; None means unchanged."""

    comment: str
    ra_deg: float | None = None
    dec_deg: float | None = None
    redshift: float | None = None
    host_ra_deg: float | None = None
    host_dec_deg: float | None = None
    host_redshift: float | None = None
    #: (semi-major axis arcsec, semi-minor axis arcsec, orientation deg) of the global aperture.
    aperture: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.comment, str) or not self.comment.strip():
            raise ValueError("comment: say why the transient is updated (it is recorded)")
        if len(self.comment) > MAX_COMMENT:
            raise ValueError(f"comment: {len(self.comment)} characters, at most {MAX_COMMENT}")
        if (self.ra_deg is None) != (self.dec_deg is None):
            raise ValueError("ra/dec: give both or neither")
        if self.ra_deg is not None:
            validate_coordinates(self.ra_deg, self.dec_deg, what="ra/dec")
        if (self.host_ra_deg is None) != (self.host_dec_deg is None):
            raise ValueError("host ra/dec: give both or neither")
        if self.host_ra_deg is not None:
            validate_coordinates(self.host_ra_deg, self.host_dec_deg, what="host ra/dec")
        for value, what in ((self.redshift, "redshift"), (self.host_redshift, "host redshift")):
            _finite(value, what)
            if value is not None and not -0.01 < value < 20:
                raise ValueError(f"{what} {value!r} is not plausible")
        if self.aperture is not None:
            a, b, theta = (float(v) for v in self.aperture)
            for value, what in ((a, "semi-major axis"), (b, "semi-minor axis"), (theta, "theta")):
                _finite(value, f"aperture {what}")
            if not (a > 0 and 0 < b <= a):
                raise ValueError(
                    f"aperture: need semi-major >= semi-minor > 0 arcsec, got {a!r}, {b!r}"
                )
            object.__setattr__(self, "aperture", (a, b, theta))
        if self.aperture is not None and (self.ra_deg is not None or self.host_ra_deg is not None):
            raise ValueError(
                "aperture: cannot be combined with a new position or host (both rebuild the "
                "global aperture); update them first, the aperture afterwards"
            )


@dataclass
class UpdateResult:
    fields: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _changed(old: float | None, new: float | None) -> bool:
    return new is not None and (old is None or not math.isclose(old, new, rel_tol=0, abs_tol=1e-12))


def apply_update(
    session: Session, transient: Transient, update: TransientUpdate, graph: WorkflowGraph
) -> UpdateResult:
    """Edit the rows, record ``update_fields``/``update_comment``, reset Blast's tasks and ask
    the sensor for a run. ``ValueError`` (nothing written) when nothing would change."""
    result = UpdateResult()
    reset: list[str] = []
    keep: list[str] = []
    if _changed(transient.ra_deg, update.ra_deg) or _changed(transient.dec_deg, update.dec_deg):
        transient.ra_deg, transient.dec_deg = float(update.ra_deg), float(update.dec_deg)
        result.fields += ["ra_deg", "dec_deg"]
        reset += POSITION_RESETS
    host = transient.host
    if update.host_ra_deg is not None and (
        host is None
        or _changed(host.ra_deg, update.host_ra_deg)
        or _changed(host.dec_deg, update.host_dec_deg)
    ):
        host = Host(
            ra_deg=float(update.host_ra_deg),
            dec_deg=float(update.host_dec_deg),
            catalog_name="user update",
        )
        session.add(host)
        session.flush()
        transient.host = host
        result.fields += ["host_ra_deg", "host_dec_deg"]
        reset += HOST_RESETS
        keep += HOST_KEEPS
    redshift_changed = False
    if _changed(transient.redshift, update.redshift):
        transient.redshift = float(update.redshift)
        result.fields.append("redshift")
        redshift_changed = True
    if update.host_redshift is not None:
        if host is None:
            raise ValueError("host redshift: the transient has no host; give --host-ra/--host-dec")
        if _changed(host.redshift, update.host_redshift):
            host.redshift = float(update.host_redshift)
            result.fields.append("host_redshift")
            redshift_changed = True
    if redshift_changed:
        reset += REDSHIFT_RESETS
    if update.aperture is not None and _edit_aperture(session, transient, update.aperture):
        result.fields += [
            "aperture_semi_major_axis_arcsec",
            "aperture_semi_minor_axis_arcsec",
            "aperture_orientation_deg",
        ]
        reset += APERTURE_RESETS
        keep += APERTURE_KEEPS
    if not result.fields:
        raise ValueError(f"{transient.name}: the values given are those stored; nothing to update")

    known = set(graph.task_names)
    result.reset = [t for t in graph.task_names if t in set(reset)]
    result.kept = [t for t in graph.task_names if t in set(keep) and t not in set(reset)]
    initialise_registers(session, transient, graph.task_names)
    reset_tasks(session, transient, result.reset)
    for task in result.kept:
        if task in known:
            set_status(session, transient, task, PROCESSED)
    transient.update_fields = ", ".join(result.fields)[:MAX_COMMENT]
    transient.update_comment = update.comment.strip()
    refresh_progress(session, transient, graph)
    request_workflow(transient)
    return result


def _edit_aperture(
    session: Session, transient: Transient, aperture: tuple[float, float, float]
) -> bool:
    """Blast: the other global apertures and their photometry are deleted and the primary one
    edited (its old photometry goes too: it was measured in the old ellipse)."""
    from blast_pipeline.db.models import Aperture
    from blast_pipeline.tasks.apertures import delete_apertures, primary_global_aperture

    primary = primary_global_aperture(session, transient.id)
    if primary is None:
        raise ValueError(
            f"aperture: {transient.name} has no global aperture yet; wait for Global aperture "
            "construction"
        )
    a, b, theta = aperture
    old = (primary.semi_major_axis_arcsec, primary.semi_minor_axis_arcsec, primary.orientation_deg)
    if not any(_changed(o, n) for o, n in zip(old, (a, b, theta), strict=True)):
        return False
    others = session.scalars(
        select(Aperture.id).where(
            Aperture.transient_id == transient.id,
            Aperture.type == "global",
            Aperture.id != primary.id,
        )
    ).all()
    delete_apertures(session, list(others))
    session.execute(delete(AperturePhotometry).where(AperturePhotometry.aperture_id == primary.id))
    primary.semi_major_axis_arcsec, primary.semi_minor_axis_arcsec = a, b
    primary.orientation_deg = theta
    session.flush()
    return True


def tasks_processing(session: Session, transient: Transient, graph: WorkflowGraph) -> list[str]:
    """Tasks of the transient whose status is "processing" (a run is executing them)."""
    statuses = statuses_with_defaults(task_statuses(session, transient), graph.task_names)
    return [t for t, s in statuses.items() if s == PROCESSING]


class TransientBusy(ValueError):
    """The transient's workflow is running; the message says which run or task."""


def refuse_if_busy(session: Session, transient: Transient, graph: WorkflowGraph) -> None:
    """``TransientBusy`` when a Dagster run of the transient is queued or in progress (in the
    instance of ``DAGSTER_HOME``, when set) or one of its tasks is "processing"."""
    import os

    running = tasks_processing(session, transient, graph)
    if running:
        raise TransientBusy(
            f"{transient.name}: {', '.join(running)} is processing; try again when the run ends"
        )
    if not os.environ.get("DAGSTER_HOME"):
        return
    import dagster as dg

    from blast_pipeline.system.runs import runs_in_flight_for

    with dg.DagsterInstance.get() as instance:
        run_ids = runs_in_flight_for(instance, transient.name)
    if run_ids:
        raise TransientBusy(
            f"{transient.name} has a workflow run queued or in progress ({', '.join(run_ids)}); "
            "try again when it has finished"
        )


def update_transient(
    services: PipelineServices, graph: WorkflowGraph, name: str, update: TransientUpdate
) -> UpdateResult:
    """Refuse a busy transient, then apply ``update`` in one transaction."""
    with services.database.session() as session:
        transient = get_transient(session, name)
        refuse_if_busy(session, transient, graph)
        return apply_update(session, transient, update, graph)
