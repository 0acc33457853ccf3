"""Do the stored results agree with the task statuses? Used by the recovery tests and
``benchmarks/recovery.py`` after crashes: a contradiction is a result without its "processed"
task (or a "processed" task without its result); a duplicate is a second row where one is
expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Aperture, AperturePhotometry, Cutout, Transient
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.files import thumbnail_path
from blast_pipeline.statuses import PROCESSED


@dataclass
class ConsistencyReport:
    transients: int = 0
    unfinished: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    #: A result stored without its task "processed".
    contradictions: list[str] = field(default_factory=list)
    #: A task "processed" whose result is missing.
    lost: list[str] = field(default_factory=list)


def _count(session: Session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery()))


def check_consistency(session: Session, data_root: Path) -> ConsistencyReport:
    report = ConsistencyReport()
    for transient in session.scalars(select(Transient).order_by(Transient.id)):
        report.transients += 1
        name = transient.name
        statuses = task_statuses(session, transient)
        if transient.processing_status not in ("completed", "blocked") or "processing" in (
            statuses.values()
        ):
            report.unfinished.append(name)
        apertures = select(Aperture).where(Aperture.transient_id == transient.id)
        primary = _count(session, apertures.where(Aperture.type == "global", Aperture.is_primary))
        local = _count(session, apertures.where(Aperture.type == "local"))
        cutouts = session.scalars(select(Cutout).where(Cutout.transient_id == transient.id)).all()
        if primary > 1 or local > 1 or len({c.filter_id for c in cutouts}) != len(cutouts):
            report.duplicates.append(f"{name}: {primary} primary, {local} local apertures")
        phot = (
            select(AperturePhotometry).join(Aperture).where(Aperture.transient_id == transient.id)
        )
        global_phot = _count(session, phot.where(Aperture.type == "global"))
        local_phot = _count(session, phot.where(Aperture.type == "local"))
        validated = _count(
            session,
            phot.where(Aperture.type == "global", AperturePhotometry.is_validated.is_not(None)),
        )

        done = {task for task, status in statuses.items() if status == PROCESSED}.__contains__
        checks = {
            "primary global aperture": (primary == 1, done("Global aperture construction")),
            "global photometry": (global_phot > 0, done("Global aperture photometry")),
            "global validation": (validated > 0, done("Validate global photometry")),
            "local aperture": (local == 1, done("Local aperture photometry")),
            "local photometry": (local_phot > 0, done("Local aperture photometry")),
            "crops": (any(c.cropped_path for c in cutouts), done("Crop transient images")),
            "thumbnail": (
                thumbnail_path(data_root, name, "cutout").is_file(),
                done("Generate thumbnail"),
            ),
            "final thumbnail": (
                thumbnail_path(data_root, name, "final").is_file(),
                done("Generate thumbnail final"),
            ),
        }
        for what, (present, processed) in checks.items():
            if present and not processed:
                report.contradictions.append(f"{name}: {what} without its task processed")
        for what in ("primary global aperture", "local aperture", "final thumbnail", "thumbnail"):
            present, processed = checks[what]
            if processed and not present:
                report.lost.append(f"{name}: {what} missing although its task is processed")
    return report
