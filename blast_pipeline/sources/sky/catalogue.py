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
