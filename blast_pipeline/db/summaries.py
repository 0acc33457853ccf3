"""What one transient's results say, read from the Blast database: redshift and its kind, host
offset, photometry rows. Shared by the tasks' Dagster metadata and the transient pages."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Aperture, AperturePhotometry, Filter, Transient

SPEC_Z_HOST = "spec-z (host)"
SPEC_Z_TRANSIENT = "spec-z (transient)"
PHOTO_Z_HOST = "photo-z (host)"


def best_redshift_with_kind(transient: Transient) -> tuple[float | None, str | None]:
    """Blast's best redshift (``Transient.best_redshift``) and where it comes from:
    ``"spec-z (host)"``, ``"spec-z (transient)"``, ``"photo-z (host)"`` or None."""
    z = transient.best_redshift
    if z is None:
        return None, None
    host = transient.host
    if host is not None and host.redshift is not None and z == host.redshift:
        return z, SPEC_Z_HOST
    if transient.redshift is not None and z == transient.redshift:
        return z, SPEC_Z_TRANSIENT
    return z, PHOTO_Z_HOST


def host_offset_arcsec(transient: Transient) -> float | None:
    """Angular distance (arcsec) from the transient to its host, None without a host."""
    host = transient.host
    if host is None:
        return None
    ra1, dec1, ra2, dec2 = (
        math.radians(v) for v in (transient.ra_deg, transient.dec_deg, host.ra_deg, host.dec_deg)
    )
    term = (
        math.sin((dec2 - dec1) / 2) ** 2
        + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(math.sqrt(min(1.0, term)))) * 3600.0


@dataclass(frozen=True)
class PhotometryRow:
    """One filter's aperture photometry (AB microjansky and magnitudes)."""

    filter: str
    wavelength_angstrom: float
    flux_ujy: float | None
    flux_error_ujy: float | None
    magnitude: float | None
    magnitude_error: float | None
    validated: str | None


def photometry(session: Session, transient_id: int, kind: str) -> list[PhotometryRow]:
    """The transient's photometry through its ``kind`` ("global" or "local") apertures, by
    wavelength."""
    rows = session.execute(
        select(AperturePhotometry, Filter)
        .join(Aperture, AperturePhotometry.aperture_id == Aperture.id)
        .join(Filter, AperturePhotometry.filter_id == Filter.id)
        .where(AperturePhotometry.transient_id == transient_id, Aperture.type == kind)
        .order_by(Filter.wavelength_eff_angstrom)
    ).all()
    return [
        PhotometryRow(
            filter=f.name,
            wavelength_angstrom=f.wavelength_eff_angstrom,
            flux_ujy=p.flux,
            flux_error_ujy=p.flux_error,
            magnitude=p.magnitude,
            magnitude_error=p.magnitude_error,
            validated=p.is_validated,
        )
        for p, f in rows
    ]
