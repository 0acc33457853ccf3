"""Global aperture construction, global photometry and its validation, run as tasks on a
synthetic transient (SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import func, select
from tasks2_world import (
    HOST_FLUX_UJY,
    NAME,
    counts_per_microjansky,
    make_world,
)

from blast_pipeline.db.models import Aperture, AperturePhotometry
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.units import microjansky_to_ab_mag
from blast_pipeline.tasks.apertures import sky_aperture_of
from blast_pipeline.tasks.photometry import MissingGlobalAperture

GAC = "Global aperture construction"
GAP = "Global aperture photometry"
VGP = "Validate global photometry"
#: A star 11" north of the host: outside the optical Kron ellipse, inside the WISE W4 one.
NEIGHBOUR = ((0.0, 11.0, 300.0),)


def _apertures(world) -> list[Aperture]:
    with world.services.database.session() as session:
        rows = session.scalars(select(Aperture).order_by(Aperture.name)).all()
        session.expunge_all()
        return list(rows)


def _photometry(world) -> dict[str, AperturePhotometry]:
    with world.services.database.session() as session:
        rows = session.scalars(select(AperturePhotometry)).all()
        result = {row.filter.name: row for row in rows if row.aperture.type == "global"}
        session.expunge_all()
        return result


def _status(world, task) -> str:
    with world.services.database.session() as session:
        return task_statuses(session, get_transient(session, NAME))[task]


def test_global_chain_units_psf_matching_and_reruns(tmp_path, database_url):
    world = make_world(tmp_path, database_url)
    outcome = world.run_ready(GAC)
    assert outcome.status == "processed" and outcome.metadata["filter"] == "PanSTARRS_g"
    (primary,) = [a for a in _apertures(world) if a.is_primary and a.type == "global"]
    assert primary.name == f"{NAME}_PanSTARRS_g_global"
    assert primary.cutout_id is not None
    # the Kron ellipse is centred on the host, larger than its effective radius (3") and
    # short of the neighbouring star 11" away
    assert 3.0 < primary.semi_minor_axis_arcsec <= primary.semi_major_axis_arcsec < 11.0

    assert world.run_ready(GAP).status == "processed"
    apertures = {a.name: a for a in _apertures(world) if a.type == "global"}
    assert len(apertures) == 4 and sum(a.is_primary for a in apertures.values()) == 1
    # PSF-matched copies: a' = sqrt(a^2 - FWHM_g^2 + FWHM^2), same centre and orientation
    fwhm_g = get_filter("PanSTARRS_g").image_fwhm_arcsec
    for name in ("PanSTARRS_r", "SDSS_r", "WISE_W4"):
        copy = apertures[f"{NAME}_{name}_global"]
        fwhm = get_filter(name).image_fwhm_arcsec
        assert not copy.is_primary
        assert copy.semi_major_axis_arcsec == pytest.approx(
            math.sqrt(primary.semi_major_axis_arcsec**2 - fwhm_g**2 + fwhm**2)
        )
        assert copy.semi_minor_axis_arcsec == pytest.approx(
            math.sqrt(primary.semi_minor_axis_arcsec**2 - fwhm_g**2 + fwhm**2)
        )
        assert (copy.ra_deg, copy.dec_deg, copy.orientation_deg) == pytest.approx(
            (primary.ra_deg, primary.dec_deg, primary.orientation_deg)
        )

    phot = _photometry(world)
    assert set(phot) == {"PanSTARRS_g", "PanSTARRS_r", "SDSS_r", "WISE_W4"}
    for name, row in phot.items():
        image = world.images[name]
        sky = sky_aperture_of(apertures[f"{NAME}_{name}_global"])
        truth_ujy = image.truth_in(sky) / counts_per_microjansky(name)
        # microjansky: the noiseless model in the same aperture, within 3%
        assert row.flux == pytest.approx(truth_ujy, rel=0.03), name
        assert 0 < row.flux_error < 0.1 * row.flux
    # a source of known magnitude: the Kron ellipse holds most of the 160 uJy (AB 18.39)
    g = phot["PanSTARRS_g"]
    assert 0.8 * HOST_FLUX_UJY < g.flux < HOST_FLUX_UJY
    assert g.magnitude == pytest.approx(microjansky_to_ab_mag(g.flux), abs=1e-6)  # ab_offset 0
    assert g.magnitude == pytest.approx(microjansky_to_ab_mag(HOST_FLUX_UJY), abs=0.2)
    # WISE magnitudes are in the Vega-like system of the image (ab_offset not applied)
    w4 = phot["WISE_W4"]
    assert w4.magnitude + get_filter("WISE_W4").ab_offset == pytest.approx(
        microjansky_to_ab_mag(w4.flux), abs=1e-6
    )

    # re-running both replaces rows: same apertures, same photometry, no duplicates
    first_flux = {name: row.flux for name, row in phot.items()}
    assert world.run_ready(GAC).status == "processed"
    assert world.run_ready(GAP).status == "processed"
    with world.services.database.session() as session:
        assert session.scalar(select(func.count(Aperture.id))) == 4
        assert session.scalar(select(func.count(AperturePhotometry.id))) == 4
    again = _photometry(world)
    assert {n: r.flux for n, r in again.items()} == pytest.approx(first_flux)


def test_validation_flags_a_neighbour_and_skips_galex(tmp_path, database_url):
    filters = ("PanSTARRS_g", "PanSTARRS_r", "SDSS_r", "WISE_W4", "GALEX_NUV")
    neighbours = {name: NEIGHBOUR for name in filters[:4]}
    # a UV-bright star inside the GALEX aperture only: GALEX images are not checked
    neighbours["GALEX_NUV"] = ((4.0, -4.0, 500.0),)
    world = make_world(tmp_path, database_url, filters, neighbours=neighbours)
    for task in (GAC, GAP):
        assert world.run_ready(task).status == "processed"
    outcome = world.run_ready(VGP)
    assert outcome.status == "processed"
    flags = {name: row.is_validated for name, row in _photometry(world).items()}
    # three clean apertures: the contaminated W4 one is rejected outright
    assert flags == {
        "PanSTARRS_g": "true",
        "PanSTARRS_r": "true",
        "SDSS_r": "true",
        "WISE_W4": "false",
        "GALEX_NUV": "true",
    }
    # re-running global photometry resets the flags (rows replaced, not duplicated)
    assert world.run_ready(GAP).status == "processed"
    assert {row.is_validated for row in _photometry(world).values()} == {None}


def test_few_clean_apertures_give_contamination_warnings(tmp_path, database_url):
    filters = ("PanSTARRS_g", "WISE_W4")
    world = make_world(
        tmp_path, database_url, filters, neighbours=dict.fromkeys(filters, NEIGHBOUR)
    )
    for task in (GAC, GAP, VGP):
        assert world.run_ready(task).status == "processed"
    flags = {name: row.is_validated for name, row in _photometry(world).items()}
    assert flags == {"PanSTARRS_g": "true", "WISE_W4": "contamination warning"}


def test_construction_tries_the_next_filter(tmp_path, database_url):
    world = make_world(tmp_path, database_url, ("PanSTARRS_g", "SDSS_r"))
    # the first-priority image holds only noise: no source near the host
    path = world.data_root / f"cutouts/{NAME}/PanSTARRS/PanSTARRS_g.fits"
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        hdul[0].data = (
            np.random.default_rng(5).normal(10.0, 1.0, hdul[0].data.shape).astype(np.float32)
        )
    outcome = world.run_ready(GAC)
    assert outcome.status == "processed"
    assert outcome.metadata["filter"] == "SDSS_r"
    assert outcome.metadata["tried"] == "PanSTARRS_g, SDSS_r"
    (primary,) = _apertures(world)
    assert primary.name == f"{NAME}_SDSS_r_global" and primary.is_primary
    # photometry: the noise image gets a measurement through the SDSS-defined aperture
    assert world.run_ready(GAP).status == "processed"
    assert set(_photometry(world)) == {"PanSTARRS_g", "SDSS_r"}


def test_construction_failures(tmp_path, database_url):
    # no host: "failed" is returned (recorded, nothing raised)
    world = make_world(tmp_path / "a", database_url, ("PanSTARRS_g",), host=False)
    outcome = world.run_ready(GAC)
    assert outcome.status == "failed" and "no host" in outcome.metadata["reason"]
    assert _apertures(world) == []

    # photometry without a primary aperture is an error, recorded as "failed"
    with pytest.raises(MissingGlobalAperture, match="no primary global aperture"):
        world.run_ready(GAP)
    assert _status(world, GAP) == "failed"

    # validation without global photometry: "phot valid failed"
    assert world.run_ready(VGP).status == "phot valid failed"


def test_only_wise_images_fail_construction_and_thumbnail(tmp_path, database_url):
    # only WISE: none of Blast's aperture filters has an image
    world = make_world(tmp_path, database_url, ("WISE_W4",))
    outcome = world.run_ready(GAC)
    assert outcome.status == "failed"
    assert outcome.metadata["tried"] == "no image"
    # downstream does not run while construction is not "processed"
    world.set_statuses(GAP, status="not processed")
    skipped = world.run(GAP)
    assert skipped.status is None and "prerequisites not met" in skipped.skipped_reason
    # and the final thumbnail has no image in the thumbnail filters
    assert world.run_ready("Generate thumbnail final").status == "not enough filters"


def test_one_unusable_filter_does_not_fail_global_photometry(tmp_path, database_url):
    """A 2MASS cutout without MAGZP (as some services' files are) gets no row; the task says
    which filter was skipped and why, and the other filters are measured."""
    filters = ("PanSTARRS_g", "PanSTARRS_r", "2MASS_J")
    world = make_world(tmp_path, database_url, filters, missing=())
    with fits.open(world.data_root / f"cutouts/{NAME}/2MASS/2MASS_J.fits", mode="update") as h:
        del h[0].header["MAGZP"]
    assert world.run_ready(GAC).status == "processed"
    outcome = world.run_ready(GAP)
    assert outcome.status == "processed"
    assert outcome.metadata["measured"] == 2
    (reason,) = outcome.metadata["skipped_filters"].values()
    assert "2MASS_J.fits" in reason and "MAGZP" in reason
    assert set(_photometry(world)) == {"PanSTARRS_g", "PanSTARRS_r"}
