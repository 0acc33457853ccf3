"""Reference rows every Blast database holds: statuses, surveys, filters, and task names."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Filter, Status, Survey, Task
from blast_pipeline.science.filters import FILTERS, SURVEYS
from blast_pipeline.statuses import STATUSES


def load_reference_rows(session: Session) -> None:
    """Insert missing statuses, surveys and filters (idempotent); update filter constants."""
    existing_status = {s.message: s for s in session.scalars(select(Status))}
    for message, kind in STATUSES.items():
        if message in existing_status:
            existing_status[message].type = kind.value
        else:
            session.add(Status(message=message, type=kind.value))

    surveys = {s.name: s for s in session.scalars(select(Survey))}
    for name in SURVEYS:
        if name not in surveys:
            surveys[name] = Survey(name=name)
            session.add(surveys[name])
    session.flush()

    filters = {f.name: f for f in session.scalars(select(Filter))}
    for spec in FILTERS:
        row = filters.get(spec.name) or Filter(name=spec.name)
        row.survey = surveys[spec.survey]
        row.pixel_size_arcsec = spec.pixel_size_arcsec
        row.image_fwhm_arcsec = spec.image_fwhm_arcsec
        row.magnitude_zero_point = spec.magnitude_zero_point
        row.magnitude_zero_point_keyword = spec.magnitude_zero_point_keyword
        row.ab_offset = spec.ab_offset
        row.image_pixel_units = spec.image_pixel_units
        row.wavelength_eff_angstrom = spec.wavelength_eff_angstrom
        row.sedpy_id = spec.sedpy_id
        row.hips_id = spec.hips_id
        session.add(row)


def ensure_tasks(session: Session, task_names: Iterable[str]) -> dict[str, Task]:
    """Task rows for the registered transient task runners, created when missing."""
    tasks = {t.name: t for t in session.scalars(select(Task))}
    for name in task_names:
        if name not in tasks:
            tasks[name] = Task(name=name)
            session.add(tasks[name])
    session.flush()
    return tasks
