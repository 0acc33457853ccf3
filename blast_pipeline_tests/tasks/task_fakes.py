"""Small in-test data sources implementing the source protocols, and a services builder."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from blast_pipeline.db.task_register import initialise_registers, set_status
from blast_pipeline.db.transients import NewTransient, add_transient
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.services import PipelineSettings, build_services
from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, CutoutDownloadError
from blast_pipeline.tasks import TASK_RUNNERS


def graph() -> WorkflowGraph:
    return WorkflowGraph.from_runners(TASK_RUNNERS)


def make_services(tmp_path, database_url, **overrides):
    settings = PipelineSettings.embedded(
        tmp_path, database_url=database_url, sky="none", **overrides
    )
    return build_services(settings)


def add(services, name, ra=150.0, dec=2.0, redshift=None, processed=()):
    """Insert a transient with the given tasks already "processed"."""
    with services.database.session() as session:
        transient = add_transient(session, NewTransient(name, ra, dec, redshift=redshift))
        initialise_registers(session, transient, graph().task_names)
        for task in processed:
            set_status(session, transient, task, "processed")


def image_hdu(ra, dec, spec, fov_arcsec=30.0, flux=1000.0):
    """A small image with a point-like source at the centre and a TAN WCS."""
    n = max(int(fov_arcsec / spec.pixel_size_arcsec), 16)
    scale = spec.pixel_size_arcsec / 3600
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    wcs.wcs.cdelt = [-scale, scale]
    yy, xx = np.mgrid[0:n, 0:n]
    sigma = max(spec.image_fwhm_arcsec / spec.pixel_size_arcsec / 2.355, 1.0)
    c = (n - 1) / 2
    data = flux * np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * sigma**2)) + 1.0
    header = wcs.to_header()
    header["EXPTIME"] = 100.0
    header["MAGZP"] = 20.0
    return fits.HDUList([fits.PrimaryHDU(data.astype(np.float32), header=header)])


class FakeCutouts:
    """Images for some surveys, none for others, and scripted failures."""

    def __init__(self, no_image=("GALEX",), failing=(), fail_times=10**9):
        self.no_image, self.failing, self.fail_times = set(no_image), set(failing), fail_times
        self.calls: list[str] = []
        self.failures = 0

    def fetch_cutout(self, ra_deg, dec_deg, spec, fov_arcsec):
        self.calls.append(spec.name)
        if spec.name in self.failing and self.failures < self.fail_times:
            self.failures += 1
            raise CutoutDownloadError(f"{spec.survey} answered 503")
        if spec.survey in self.no_image:
            return None
        return image_hdu(ra_deg, dec_deg, spec)


def galaxy_table(rows, catalog_name="testcat", release="1"):
    table = (
        Table(rows=rows, names=GALAXY_CATALOG_COLUMNS)
        if rows
        else Table(
            names=GALAXY_CATALOG_COLUMNS,
            dtype=[str, float, float, float, float, float, float, float, float, float, str],
        )
    )
    table.meta.update(catalog_name=catalog_name, catalog_release=release, band="r", mag_limit=22.0)
    return table


class FakeCatalog:
    def __init__(self, rows):
        self.rows = rows

    def galaxies_near(self, ra_deg, dec_deg, radius_arcsec):
        return galaxy_table(self.rows)


class FakeRedshifts:
    def __init__(self, z):
        self.z, self.calls = z, 0

    def spectroscopic_redshift(self, ra_deg, dec_deg, radius_arcsec=1.0):
        self.calls += 1
        return self.z


class FailingRedshifts:
    """A redshift service that is down (NED outage)."""

    def __init__(self, message="NED answered 503"):
        self.message, self.calls = message, 0

    def spectroscopic_redshift(self, ra_deg, dec_deg, radius_arcsec=1.0):
        from blast_pipeline.sources.base import SourceError

        self.calls += 1
        raise SourceError(self.message)
