"""Interfaces shared by the real service clients and the simulated sky.

The pipeline only talks to these protocols; a Dagster resource chooses the implementation
(simulated sky by default, online services in production).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from astropy.io import fits
from astropy.table import Table

from blast_pipeline.science.filters import FilterSpec
from blast_pipeline.science.host_match import REQUIRED_COLUMNS as ASSOCIATION_COLUMNS


class SourceError(RuntimeError):
    """A service could not answer (network error, 5xx, malformed reply) after its retries."""


class CutoutDownloadError(SourceError):
    """A cutout service failed; distinct from "no image found", which is not an error."""


class RateLimitedError(SourceError):
    """A service kept answering "too many requests" past the retry budget."""


@runtime_checkable
class CutoutSource(Protocol):
    """Returns a square image cutout of one filter around a position.

    ``parallel_fetches``, if the source has it, is how many cutouts of one transient are best
    fetched at once: many for network services (each waits on I/O), few for a source that
    computes its images on this machine's cores. The download task uses 8 without it.

    ``register_transient(name, ra_deg, dec_deg) -> str``, if the source has it, is called by
    the download task before the first cutout: the simulated sky builds a field of its own for
    a transient it did not draw (real services have no such method).
    """

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        """The cutout as an HDUList (image in the primary HDU, valid celestial WCS), or ``None``
        when the survey has no coverage there. Raises ``CutoutDownloadError`` on service errors."""
        ...


#: Columns of a galaxy catalogue table, as the host matcher consumes it. One row per galaxy.
#: ``a_arcsec``/``b_arcsec``: semi-major/minor axes of the half-light ellipse;
#: ``pa_deg``: position angle of the major axis, east of north;
#: ``mag``/``mag_err``: apparent AB magnitude in ``table.meta["band"]``;
#: ``redshift``/``redshift_err``: NaN when unknown; ``redshift_type``: "spec", "phot" or "".
#: ``table.meta`` also holds ``catalog_name`` and ``catalog_release``.
GALAXY_CATALOG_COLUMNS: tuple[str, ...] = (*ASSOCIATION_COLUMNS, "redshift_type")


@runtime_checkable
class GalaxyCatalogSource(Protocol):
    """Galaxies around a position, for host association."""

    def galaxies_near(self, ra_deg: float, dec_deg: float, radius_arcsec: float) -> Table:
        """A table with ``GALAXY_CATALOG_COLUMNS`` (possibly empty). Raises ``SourceError``."""
        ...


@runtime_checkable
class RedshiftSource(Protocol):
    """Spectroscopic redshift look-up for a host (SDSS, then NED, in Blast)."""

    def spectroscopic_redshift(
        self, ra_deg: float, dec_deg: float, radius_arcsec: float = 1.0
    ) -> float | None:
        """The redshift of the nearest spectroscopic object within the radius, or ``None``."""
        ...
