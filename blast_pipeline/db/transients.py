"""Adding and finding transients; every ingestion path goes through ``add_transient``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Transient
from blast_pipeline.names import validate_transient_name


class TransientNotFound(LookupError):
    pass


class DuplicateTransient(ValueError):
    pass


class InvalidCoordinates(ValueError):
    pass


@dataclass(frozen=True)
class NewTransient:
    """The fields needed to add a transient, validated before anything is written."""

    name: str
    ra_deg: float
    dec_deg: float
    redshift: float | None = None
    tns_id: int = 0
    tns_prefix: str | None = None
    public_timestamp: datetime | None = None
    spectroscopic_class: str | None = None
    ingest_source: str = "cli"

    def __post_init__(self) -> None:
        validate_transient_name(self.name)
        validate_coordinates(self.ra_deg, self.dec_deg, what=f"transient {self.name!r}")
        if self.redshift is not None and not (
            math.isfinite(self.redshift) and -0.01 < self.redshift < 20
        ):
            raise ValueError(
                f"transient {self.name!r}: redshift {self.redshift!r} is not plausible"
            )


def validate_coordinates(ra_deg: float, dec_deg: float, what: str = "position") -> None:
    """ICRS degrees: 0 <= RA < 360, -90 <= Dec <= 90, both finite."""
    try:
        ra, dec = float(ra_deg), float(dec_deg)
    except (TypeError, ValueError):
        raise InvalidCoordinates(
            f"{what}: RA/Dec must be numbers, got {ra_deg!r}, {dec_deg!r}"
        ) from None
    if not (math.isfinite(ra) and 0.0 <= ra < 360.0):
        raise InvalidCoordinates(f"{what}: RA {ra_deg!r} deg is outside [0, 360)")
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise InvalidCoordinates(f"{what}: Dec {dec_deg!r} deg is outside [-90, 90]")


def get_transient(session: Session, name: str) -> Transient:
    transient = session.scalar(select(Transient).where(Transient.name == name))
    if transient is None:
        raise TransientNotFound(f"no transient named {name!r} in the Blast database")
    return transient


def find_transient(session: Session, name: str) -> Transient | None:
    return session.scalar(select(Transient).where(Transient.name == name))


def add_transient(session: Session, new: NewTransient) -> Transient:
    """Insert a transient; a name already present raises ``DuplicateTransient``."""
    if find_transient(session, new.name) is not None:
        raise DuplicateTransient(f"transient {new.name!r} is already in the Blast database")
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
    session.flush()
    return transient
