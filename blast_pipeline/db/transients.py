"""Adding and finding transients; every ingestion path goes through ``insert_transient``.

The input rules (name, position, redshift, duplicates) are in ``blast_pipeline/transient_input.py``;
``NewTransient`` is re-exported here for the callers that build one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Transient
from blast_pipeline.db.task_register import initialise_registers
from blast_pipeline.transient_input import (
    DUPLICATE_RADIUS_ARCSEC,
    NewTransient,
    duplicate_reason,
)

__all__ = [
    "DuplicateTransient",
    "NewTransient",
    "TransientNotFound",
    "add_transient",
    "duplicate_problems",
    "find_transient",
    "get_transient",
    "insert_transient",
]


class TransientNotFound(LookupError):
    pass


class DuplicateTransient(ValueError):
    pass


def get_transient(session: Session, name: str) -> Transient:
    transient = session.scalar(select(Transient).where(Transient.name == name))
    if transient is None:
        raise TransientNotFound(f"no transient named {name!r} in the Blast database")
    return transient


def find_transient(session: Session, name: str) -> Transient | None:
    return session.scalar(select(Transient).where(Transient.name == name))


def duplicate_problems(
    session: Session, rows: Sequence[NewTransient], nearby: bool = True, chunk: int = 500
) -> dict[int, str]:
    """Index in ``rows`` -> why that row clashes with a stored transient of another name: the
    same name in another case, or a position within 1″. A row whose exact name is stored is
    not reported (the caller refuses it, or skips it as already present); ``nearby=False``
    skips the position rule (TNS objects: TNS has already decided they are distinct objects,
    e.g. two flares of one galactic nucleus). The rows are taken
    in Dec order, ``chunk`` at a time: one query for their names (``lower(name)``), one for
    the stored positions in their Dec band."""
    problems: dict[int, str] = {}
    radius_deg = DUPLICATE_RADIUS_ARCSEC / 3600.0
    order = sorted(range(len(rows)), key=lambda i: rows[i].dec_deg)
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        columns = (Transient.name, Transient.ra_deg, Transient.dec_deg)
        lowered = {rows[i].name.lower() for i in part}
        low, high = rows[part[0]].dec_deg - radius_deg, rows[part[-1]].dec_deg + radius_deg
        by_name: dict[str, list] = {}
        for row in session.execute(select(*columns).where(func.lower(Transient.name).in_(lowered))):
            by_name.setdefault(row[0].lower(), []).append(row)
        band = (
            sorted(
                session.execute(select(*columns).where(Transient.dec_deg.between(low, high))),
                key=lambda row: row[2],
            )
            if nearby
            else []
        )
        band_decs = [row[2] for row in band]
        for index in part:
            new = rows[index]
            first = bisect.bisect_left(band_decs, new.dec_deg - radius_deg)
            last = bisect.bisect_right(band_decs, new.dec_deg + radius_deg)
            same_name = by_name.get(new.name.lower(), [])
            for name, ra, dec in [*same_name, *band[first:last]]:
                reason = duplicate_reason(new, name, ra, dec, nearby=nearby)
                if reason:
                    problems[index] = f"{reason} (already in the Blast database)"
                    break
    return problems


def add_transient(
    session: Session, new: NewTransient, check_clashes: bool = False, nearby: bool = True
) -> Transient:
    """Insert a transient without task registers (``insert_transient`` adds them). A stored
    name raises ``DuplicateTransient``, also when another process inserts it at the same time
    (the unique key; the session must then be rolled back). The row only: ingestion paths use
    ``insert_transient``, which checks clashes. With ``check_clashes`` so does a
    name differing only in case or (``nearby``) a position within 1″ of a stored transient."""
    if find_transient(session, new.name) is not None:
        raise DuplicateTransient(f"transient {new.name!r} is already in the Blast database")
    problem = duplicate_problems(session, [new], nearby).get(0) if check_clashes else None
    if problem:
        raise DuplicateTransient(problem)
    transient = Transient(
        name=new.name,
        display_name=new.name,
        ra_deg=float(new.ra_deg),
        dec_deg=float(new.dec_deg),
        redshift=new.redshift,
        tns_id=new.tns_id,
        tns_prefix=new.tns_prefix,
        public_timestamp=new.public_timestamp,
        spectroscopic_class=new.spectroscopic_class,
        ingest_source=new.ingest_source,
    )
    session.add(transient)
    try:
        session.flush()
    except IntegrityError:
        raise DuplicateTransient(
            f"transient {new.name!r} is already in the Blast database (added by another "
            "process at the same time); nothing was changed"
        ) from None
    return transient


def insert_transient(
    session: Session,
    task_names: Iterable[str],
    new: NewTransient,
    check_clashes: bool = True,
    nearby: bool = True,
) -> Transient:
    """The one way a new transient enters the database (CLI, CSV, TNS, web API, simulated
    sky): the duplicate checks, the row, and a "not processed" register row per task (the
    sensor then launches its workflow). ``check_clashes=False`` when the caller has already
    run ``duplicate_problems`` over a batch in this transaction; ``nearby=False`` for TNS
    objects (see ``duplicate_problems``)."""
    transient = add_transient(session, new, check_clashes=check_clashes, nearby=nearby)
    initialise_registers(session, transient, task_names)
    return transient
