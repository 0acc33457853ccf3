"""The simulated galaxy catalogue as the host matcher consumes it (``GALAXY_CATALOG_COLUMNS``).

Only galaxies whose true r magnitude (PanSTARRS r, through Milky Way dust) is brighter than
``CATALOG_MAG_LIMIT`` are listed. Magnitudes carry photometric noise, shapes a small measurement
scatter; the redshift is spectroscopic when the galaxy has one (error 1e-4), otherwise a
photometric redshift with a 0.02-0.05 (1 + z) error and 4% outliers.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from astropy.table import Table

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS
from blast_pipeline.sources.sky.population import (
    CATALOG_BAND_FILTER,
    CATALOG_MAG_LIMIT,
    Galaxy,
)
from blast_pipeline.sources.sky.positions import angular_separation_deg

CATALOG_NAME = "simulated"
CATALOG_BAND = "r"
SPEC_Z_ERROR = 1e-4


def catalog_row(galaxy: Galaxy) -> tuple:
    """One catalogue row, in ``GALAXY_CATALOG_COLUMNS`` order."""
    if galaxy.spec_z is not None:
        redshift, error, kind = galaxy.spec_z, SPEC_Z_ERROR, "spec"
    else:
        redshift, error, kind = galaxy.photo_z, galaxy.photo_z_err, "phot"
    return (
        galaxy.object_id,
        galaxy.ra_deg,
        galaxy.dec_deg,
        galaxy.catalog_a_arcsec,
        galaxy.catalog_b_arcsec,
        galaxy.catalog_pa_deg,
        galaxy.catalog_mag,
        galaxy.catalog_mag_err,
        float(redshift),
        float(error),
        kind,
    )


def catalog_table(galaxies: Iterable[Galaxy], seed: int) -> Table:
    """A catalogue table of the catalogued galaxies among ``galaxies`` (order kept)."""
    rows = [catalog_row(g) for g in galaxies if g.in_catalog]
    dtypes = ("U32", "f8", "f8", "f8", "f8", "f8", "f8", "f8", "f8", "f8", "U4")
    if rows:
        columns = [np.array(column) for column in zip(*rows, strict=True)]
        table = Table(columns, names=GALAXY_CATALOG_COLUMNS, dtype=dtypes)
    else:
        table = Table(names=GALAXY_CATALOG_COLUMNS, dtype=dtypes)
    table.meta["catalog_name"] = CATALOG_NAME
    table.meta["catalog_release"] = str(seed)
    table.meta["band"] = CATALOG_BAND
    table.meta["band_filter"] = CATALOG_BAND_FILTER
    table.meta["mag_limit"] = CATALOG_MAG_LIMIT
    return table


def catalogued_within(
    galaxies: Iterable[Galaxy], ra_deg: float, dec_deg: float, radius_arcsec: float
) -> list[Galaxy]:
    """The catalogued galaxies within ``radius_arcsec`` of a position, nearest first."""
    candidates = [g for g in galaxies if g.in_catalog]
    if not candidates:
        return []
    separation = 3600.0 * angular_separation_deg(
        ra_deg,
        dec_deg,
        np.array([g.ra_deg for g in candidates]),
        np.array([g.dec_deg for g in candidates]),
    )
    order = np.argsort(separation, kind="stable")
    return [candidates[k] for k in order if separation[k] <= radius_arcsec]


def nearest_spec_z(
    galaxies: Iterable[Galaxy], ra_deg: float, dec_deg: float, radius_arcsec: float
) -> float | None:
    """Redshift of the nearest galaxy with a spectrum within ``radius_arcsec``, or ``None``."""
    best, best_separation = None, np.inf
    for galaxy in galaxies:
        if galaxy.spec_z is None:
            continue
        separation = 3600.0 * float(
            angular_separation_deg(ra_deg, dec_deg, galaxy.ra_deg, galaxy.dec_deg)
        )
        if separation <= radius_arcsec and separation < best_separation:
            best, best_separation = galaxy.spec_z, separation
    return best
