"""Local aperture photometry and its validation, run as tasks (SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import func, select
from tasks2_world import NAME, TRANSIENT_DEC, TRANSIENT_RA, make_world

from blast_pipeline.db.models import Aperture, AperturePhotometry
from blast_pipeline.db.transients import get_transient
from blast_pipeline.science.cosmology import COSMOLOGY

LAP = "Local aperture photometry"
VLP = "Validate local photometry"


def _local(world) -> tuple[Aperture | None, dict[str, AperturePhotometry]]:
    with world.services.database.session() as session:
        aperture = session.scalar(select(Aperture).where(Aperture.type == "local"))
        rows = {
            row.filter.name: row
            for row in session.scalars(
                select(AperturePhotometry).join(Aperture).where(Aperture.type == "local")
            )
        }
        session.expunge_all()
        return aperture, rows


def test_local_photometry_and_validation(tmp_path, database_url):
    filters = ("PanSTARRS_g", "SDSS_r", "WISE_W4", "SDSS_g")
    world = make_world(tmp_path, database_url, filters, host_redshift=0.05)
    # an all-zero image: no measurement, but Blast still stores a local row (flux None)
    path = world.data_root / f"cutouts/{NAME}/SDSS/SDSS_g.fits"
    with fits.open(path, mode="update") as hdul:
        hdul[0].data = np.zeros_like(hdul[0].data)

    outcome = world.run_ready(LAP)
    assert outcome.status == "processed"
    aperture, rows = _local(world)
    # 2 kpc at z = 0.05 with FlatLambdaCDM(70, 0.315): D_A = 201.5 Mpc -> 2.047"
    d_a_kpc = COSMOLOGY.angular_diameter_distance(0.05).to_value("kpc")
    expected = 2.0 / d_a_kpc * math.degrees(1.0) * 3600
    assert aperture.name == f"{NAME}_local"
    assert aperture.semi_major_axis_arcsec == pytest.approx(expected, rel=1e-9)
    assert aperture.semi_minor_axis_arcsec == aperture.semi_major_axis_arcsec
    assert expected == pytest.approx(2.047, abs=0.001)
    assert (aperture.ra_deg, aperture.dec_deg) == pytest.approx((TRANSIENT_RA, TRANSIENT_DEC))
    assert aperture.cutout_id is None and aperture.orientation_deg == 0.0
    assert set(rows) == set(filters)
    assert rows["SDSS_g"].flux is None and rows["SDSS_g"].magnitude is None
    assert rows["PanSTARRS_g"].flux > 0 and rows["PanSTARRS_g"].magnitude is not None

    # validation: 2.05" > FWHM for the optical filters, not for WISE W4 (11.8")
    outcome = world.run_ready(VLP)
    assert outcome.status == "processed"
    _, rows = _local(world)
    flags = {name: row.is_validated for name, row in rows.items()}
    # the all-zero SDSS_g row has no flux: not valid, whatever its PSF
    assert flags == {
        "PanSTARRS_g": "true",
        "SDSS_r": "true",
        "WISE_W4": "false",
        "SDSS_g": "false",
    }

    # re-running replaces the aperture and rows (flags reset), no duplicates
    assert world.run_ready(LAP).status == "processed"
    with world.services.database.session() as session:
        assert session.scalar(select(func.count(Aperture.id))) == 1
        assert session.scalar(select(func.count(AperturePhotometry.id))) == 4
    assert {row.is_validated for row in _local(world)[1].values()} == {None}


def _set_redshifts(world, host_z, transient_z, drop_host=False) -> None:
    with world.services.database.session() as session:
        transient = get_transient(session, NAME)
        if transient.host is not None:
            transient.host.redshift = host_z
        if drop_host:
            transient.host_id = None
        transient.redshift = transient_z


def test_no_valid_phot_at_high_redshift(tmp_path, database_url):
    world = make_world(tmp_path, database_url, ("PanSTARRS_g", "SDSS_r"), host_redshift=0.05)
    assert world.run_ready(LAP).status == "processed"
    assert world.run_ready(VLP).status == "processed"
    # z = 0.6: 2 kpc is 0.3", below every PSF FWHM; the re-run replaces the aperture
    _set_redshifts(world, 0.6, None)
    assert world.run_ready(LAP).status == "processed"
    aperture, rows = _local(world)
    assert aperture.semi_major_axis_arcsec == pytest.approx(0.3, abs=0.05)
    assert world.run_ready(VLP).status == "no valid phot"
    assert {row.is_validated for row in rows.values()} == {None}
    assert {row.is_validated for row in _local(world)[1].values()} == {"false"}
    # without any redshift the rows are flagged "false" and validation fails
    _set_redshifts(world, None, None)
    assert world.run_ready(VLP).status == "phot valid failed"


def test_local_failures(tmp_path, database_url):
    # no redshift at all: local photometry returns "failed" and writes nothing
    world = make_world(tmp_path, database_url, ("PanSTARRS_g",), host_redshift=None)
    outcome = world.run_ready(LAP)
    assert outcome.status == "failed" and "None" in outcome.metadata["reason"]
    assert _local(world) == (None, {})
    # validation without local photometry
    assert world.run_ready(VLP).status == "phot valid failed"
    # a negative best redshift (no host, transient z < 0) fails too
    _set_redshifts(world, None, -0.005, drop_host=True)
    assert world.run_ready(LAP).status == "failed"
    assert _local(world) == (None, {})


def test_unusable_files_are_skipped_with_a_reason_and_no_data_is_not_success(
    tmp_path, database_url
):
    """A 2MASS file without MAGZP and a truncated WISE file give rows without flux and a
    reason naming the file; the other filters are measured. With nothing measurable the task
    is not "processed"."""
    filters = ("PanSTARRS_g", "2MASS_J", "WISE_W1")
    world = make_world(tmp_path, database_url, filters, host_redshift=0.05, missing=())
    twomass = world.data_root / f"cutouts/{NAME}/2MASS/2MASS_J.fits"
    with fits.open(twomass, mode="update") as hdul:
        del hdul[0].header["MAGZP"]
    wise = world.data_root / f"cutouts/{NAME}/WISE/WISE_W1.fits"
    wise.write_bytes(wise.read_bytes()[: wise.stat().st_size // 2])
    outcome = world.run_ready(LAP)
    assert outcome.status == "processed" and outcome.metadata["measured"] == 1
    skipped = outcome.metadata["skipped_filters"]
    assert set(skipped) == {"2MASS_J", "WISE_W1"}
    assert "2MASS/2MASS_J.fits" in skipped["2MASS_J"] and "MAGZP" in skipped["2MASS_J"]
    assert "WISE/WISE_W1.fits" in skipped["WISE_W1"]
    _, rows = _local(world)
    assert rows["PanSTARRS_g"].flux > 0 and rows["2MASS_J"].flux is None
    # nothing measurable (an all-NaN image): "failed" with the reason, not "processed"
    path = world.data_root / f"cutouts/{NAME}/PanSTARRS/PanSTARRS_g.fits"
    with fits.open(path, mode="update") as hdul:
        hdul[0].data = np.full_like(hdul[0].data, np.nan)
    outcome = world.run_ready(LAP)
    assert outcome.status == "failed"
    assert outcome.metadata["measured"] == 0
    assert outcome.metadata["reason"] == "no filter could be measured"
