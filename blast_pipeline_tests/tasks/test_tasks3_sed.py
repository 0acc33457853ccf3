"""Global/Local host SED inference and the SED thumbnails as tasks: every status, Blast's input
(validated rows, MW correction, floor, S/N cut), storage, and re-runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from sed_world import HOST_EBV, NAME, TRANSIENT_EBV, make_sed_world
from sqlalchemy import func, select

from blast_pipeline.db.models import SEDFittingResult, StarFormationHistoryResult
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.sed_inputs import mw_extinction_mag

GSED, LSED = "Global host SED inference", "Local host SED inference"
GTHUMB, LTHUMB = "Generate thumbnail SED global", "Generate thumbnail SED local"


def _results(world):
    with world.services.database.session() as session:
        rows = session.scalars(select(SEDFittingResult).order_by(SEDFittingResult.id)).all()
        sfh = session.scalars(
            select(StarFormationHistoryResult).order_by(StarFormationHistoryResult.logsfr_tmin)
        ).all()
        session.expunge_all()
        return rows, sfh


def _status(world, task):
    with world.services.database.session() as session:
        return task_statuses(session, get_transient(session, NAME))[task]


def test_global_fit_uses_validated_corrected_photometry_and_stores_blast_rows(
    tmp_path, database_url
):
    world = make_sed_world(tmp_path, database_url)
    outcome = world.run(GSED)
    assert outcome.status == "processed"

    sed_input, z, aperture = world.engine.calls[0]
    assert (z, aperture) == (0.05, "global")
    # "false" (PanSTARRS_i) and unvalidated (SDSS_z) rows are not used; GALEX S/N 2 is cut
    assert sed_input.filters == ("PanSTARRS_g", "PanSTARRS_r", "2MASS_J", "WISE_W1")
    assert sed_input.rejected_filters == ("GALEX_NUV",)
    # host E(B-V) = 0.1: PanSTARRS_g flux 100 +- 2 -> 100 f +- hypot(2 f, 1 % of 100 f)
    a_g = mw_extinction_mag([get_filter("PanSTARRS_g").wavelength_eff_angstrom], HOST_EBV)[0]
    f = 10 ** (0.4 * a_g)
    assert sed_input.flux_ujy[0] == pytest.approx(100.0 * f, rel=1e-9)
    assert sed_input.flux_err_ujy[0] == pytest.approx(math.hypot(2 * f, f), rel=1e-9)
    assert a_g == pytest.approx(0.36, abs=0.03)  # ~3.6 E(B-V) at 4.8e3 A

    (result,), sfh = _results(world)
    assert result.aperture_type == "global" and result.aperture_id is not None
    # this engine's first call draws log_mass ~ N(10.5, 0.1), log_age ~ N(0.4, 0.1)
    assert result.log_mass_50 == pytest.approx(10.5, abs=0.03)
    assert result.log_mass_16 < result.log_mass_50 < result.log_mass_84
    assert result.log_mass_84 - result.log_mass_16 == pytest.approx(0.2, abs=0.04)
    assert result.age_50 == pytest.approx(10**result.log_age_50, rel=1e-12)
    assert result.dust2_50 == pytest.approx(0.5 / 1.0857, abs=0.03)
    assert result.logzsol_50 == pytest.approx(-0.3, abs=0.03)
    assert result.log_fagn_50 is None  # not a parameter of this model
    assert len(sfh) == 7
    assert [r.logsfr_tmin for r in sfh] == [0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 9.9]
    assert sfh[-1].logsfr_tmax == 11.0
    assert sfh[0].logsfr_50 is None  # zero SFR in that bin
    assert sfh[1].logsfr_50 == pytest.approx(0.0, abs=0.05)  # log10(~1 M_sun/yr)
    for column in ("posterior", "chains_file", "percentiles_file", "model_file"):
        path = world.services.data_root / getattr(result, column)
        assert path.is_file() and path.name.startswith(f"{NAME}_global")
    with np.load(world.services.data_root / result.chains_file) as chains:
        assert np.percentile(chains["log_mass"], 50) == pytest.approx(result.log_mass_50)
    assert outcome.metadata["log_mass_50"] == pytest.approx(result.log_mass_50, abs=1e-3)


def test_local_fit_uses_the_transients_reddening(tmp_path, database_url):
    world = make_sed_world(tmp_path, database_url)
    assert world.run(LSED).status == "processed"
    sed_input, _, aperture = world.engine.calls[0]
    assert aperture == "local"
    a_g = mw_extinction_mag([get_filter("PanSTARRS_g").wavelength_eff_angstrom], TRANSIENT_EBV)
    assert sed_input.flux_ujy[0] == pytest.approx(100.0 * 10 ** (0.4 * a_g[0]), rel=1e-9)
    (result,), _ = _results(world)
    assert result.aperture_type == "local"


def test_rerun_replaces_rows_and_files(tmp_path, database_url):
    world = make_sed_world(tmp_path, database_url)
    assert world.run(GSED).status == "processed"
    (first,), _ = _results(world)
    chains_file = world.services.data_root / first.chains_file
    before = chains_file.read_bytes()
    assert world.run(GSED).status == "processed"
    rows, sfh = _results(world)
    assert len(rows) == 1 and len(sfh) == 7
    assert rows[0].id == first.id
    assert rows[0].log_mass_50 == pytest.approx(11.5, abs=0.03)  # the second call's draws
    assert chains_file.read_bytes() != before
    assert not list(chains_file.parent.glob("*.tmp"))
    with world.services.database.session() as session:
        assert session.scalar(select(func.count()).select_from(StarFormationHistoryResult)) == 7


@pytest.mark.parametrize("host_redshift", [None, 0.6])
def test_redshift_too_high_without_or_beyond_the_trained_range(
    tmp_path, database_url, host_redshift
):
    world = make_sed_world(tmp_path, database_url, host_redshift=host_redshift)
    outcome = world.run(GSED)
    assert outcome.status == "redshift too high"
    assert "outside [0.001, 0.5]" in outcome.metadata["reason"]
    assert world.engine.calls == []
    # nothing can run after it: the transient ends "blocked" once the rest is done
    assert world.run(LSED).status == "redshift too high"
    assert outcome.progress < 100


def test_a_refit_that_ends_without_a_fit_removes_the_stale_result(tmp_path, database_url):
    world = make_sed_world(tmp_path, database_url)
    assert world.run(GSED).status == "processed"
    (result,), _ = _results(world)
    files = [world.services.data_root / result.model_file]
    world.engine.redshift_range = (0.001, 0.01)  # e.g. the redshift changed
    assert world.run(GSED).status == "redshift too high"
    rows, sfh = _results(world)
    assert rows == [] and sfh == []
    assert not files[0].exists()


def test_not_enough_filters_by_blasts_rule(tmp_path, database_url):
    photometry = {  # IR only (and a UV band below S/N 3): no optical, not UV + IR
        "GALEX_NUV": (5.0, 2.5, "true"),
        "WISE_W1": (150.0, 10.0, "true"),
        "2MASS_J": (220.0, 20.0, "true"),
        "PanSTARRS_g": (100.0, 2.0, "false"),
    }
    world = make_sed_world(tmp_path, database_url, photometry=photometry)
    outcome = world.run(GSED)
    assert outcome.status == "not enough filters"
    assert outcome.metadata["filters"] == "2MASS_J, WISE_W1"
    assert world.engine.calls == []


def test_uv_and_ir_without_optical_are_enough(tmp_path, database_url):
    photometry = {"GALEX_NUV": (50.0, 2.5, "true"), "WISE_W1": (150.0, 10.0, "true")}
    world = make_sed_world(tmp_path, database_url, photometry=photometry)
    assert world.run(GSED).status == "processed"


def test_failed_without_aperture_photometry_or_when_the_posterior_raises(tmp_path, database_url):
    world = make_sed_world(tmp_path, database_url, apertures=("global",))
    with pytest.raises(RuntimeError, match="no local aperture"):
        world.run(LSED)
    assert _status(world, LSED) == "failed"

    world.engine.fail = True
    with pytest.raises(RuntimeError, match="posterior exploded"):
        world.run(GSED)
    assert _status(world, GSED) == "failed"
    assert _results(world) == ([], [])  # rolled back: nothing half-stored


def test_failed_without_validated_rows(tmp_path, database_url):
    world = make_sed_world(tmp_path, database_url, photometry={"SDSS_g": (1.0, 0.1, "false")})
    with pytest.raises(ValueError, match="no validated global photometry"):
        world.run(GSED)
    assert _status(world, GSED) == "failed"


def test_sed_thumbnails(tmp_path, database_url):
    world = make_sed_world(tmp_path, database_url)
    with pytest.raises(RuntimeError, match="no stored global SED fit"):
        world.run(GTHUMB)
    assert _status(world, GTHUMB) == "failed"

    assert world.run(GSED).status == "processed"
    assert world.run(LSED).status == "processed"
    for task, kind in ((GTHUMB, "global"), (LTHUMB, "local")):
        outcome = world.run(task)
        assert outcome.status == "processed"
        path = world.services.data_root / outcome.metadata["thumbnail"]
        assert path.name == f"sed_{kind}.png"
        with Image.open(path) as image:
            assert image.size == (688, 400)
            pixels = np.asarray(image.convert("RGB"), dtype=float)
        assert pixels.std() > 10  # something is drawn
        assert outcome.metadata["preview"].startswith(f"![{NAME} {kind} SED](data:image/png")
        (result,) = [r for r in _results(world)[0] if r.aperture_type == kind]
        assert outcome.metadata["log_mass_50"] == result.log_mass_50
        assert outcome.metadata["log_sfr_16"] == result.log_sfr_16
