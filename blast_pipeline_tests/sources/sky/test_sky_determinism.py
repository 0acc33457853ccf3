"""Determinism and bookkeeping of the simulated sky: same seed, same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sky_fixtures import TEST_FOV_ARCSEC

from blast_pipeline.names import validate_transient_name
from blast_pipeline.science.filters import get_filter
from blast_pipeline.sources.sky import SimulatedSky, UnknownTransientError


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _write_cutouts(sky: SimulatedSky, folder: Path) -> None:
    folder.mkdir()
    transient = sky.transients()[1]
    for name in ("PanSTARRS_g", "2MASS_J", "WISE_W2", "GALEX_NUV", "DES_z"):
        hdul = sky.fetch_cutout(transient.ra_deg, transient.dec_deg, get_filter(name), 60.0)
        assert hdul is not None, name
        hdul.writeto(folder / f"{name}.fits")


def test_same_seed_gives_byte_identical_files(tmp_path):
    first = SimulatedSky(tmp_path / "a", seed=7, fov_arcsec=TEST_FOV_ARCSEC)
    second = SimulatedSky(tmp_path / "b", seed=7, fov_arcsec=TEST_FOV_ARCSEC)
    first.generate(4)
    second.generate(4)
    _write_cutouts(first, tmp_path / "a" / "cutouts")
    _write_cutouts(second, tmp_path / "b" / "cutouts")
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert "manifest.json" in files_a
    assert "dustmaps/sfd/SFD_dust_4096_ngp.fits" in files_a
    assert "truth/sim7x00003.json" in files_a
    assert "catalogue/sim7x00003.ecsv" in files_a
    assert "cutouts/PanSTARRS_g.fits" in files_a
    assert files_a == files_b


def test_different_seeds_differ(tmp_path):
    a = SimulatedSky(tmp_path / "a", seed=1, fov_arcsec=TEST_FOV_ARCSEC).generate(3)
    b = SimulatedSky(tmp_path / "b", seed=2, fov_arcsec=TEST_FOV_ARCSEC).generate(3)
    assert [t.name for t in a] == ["sim1x00000", "sim1x00001", "sim1x00002"]
    assert all(ta.ra_deg != tb.ra_deg for ta, tb in zip(a, b, strict=True))
    sky_a = SimulatedSky(tmp_path / "a", seed=1, fov_arcsec=TEST_FOV_ARCSEC)
    sky_b = SimulatedSky(tmp_path / "b", seed=2, fov_arcsec=TEST_FOV_ARCSEC)
    spec = get_filter("2MASS_H")
    image_a = sky_a.fetch_cutout(10.0, 5.0, spec, 30.0)[0].data
    image_b = sky_b.fetch_cutout(10.0, 5.0, spec, 30.0)[0].data
    assert not np.array_equal(image_a, image_b)  # the noise is seeded by the sky's seed


def test_generate_in_steps_equals_generate_at_once(tmp_path):
    stepwise = SimulatedSky(tmp_path / "steps", seed=3, fov_arcsec=TEST_FOV_ARCSEC)
    first_five = stepwise.generate(5)
    next_five = stepwise.generate(5)
    assert [t.name for t in next_five] == [f"sim3x{i:05d}" for i in range(5, 10)]
    at_once = SimulatedSky(tmp_path / "once", seed=3, fov_arcsec=TEST_FOV_ARCSEC)
    assert at_once.generate(10) == first_five + next_five
    assert stepwise.transients() == at_once.transients()
    for name in ("truth/sim3x00007.json", "catalogue/sim3x00009.ecsv", "manifest.json"):
        assert (tmp_path / "steps" / name).read_bytes() == (tmp_path / "once" / name).read_bytes()


def test_reopening_a_root_regenerates_the_same_universe(tmp_path):
    sky = SimulatedSky(tmp_path, seed=5, fov_arcsec=TEST_FOV_ARCSEC)
    generated = sky.generate(3)
    reopened = SimulatedSky(tmp_path, seed=5, fov_arcsec=TEST_FOV_ARCSEC)
    assert reopened.transients() == generated
    name = generated[2].name
    assert reopened.truth(name) == json.loads((tmp_path / "truth" / f"{name}.json").read_text())
    assert reopened.generate(0) == []
    assert reopened.count() == 3


def test_seed_mismatch_names_both_seeds(tmp_path):
    SimulatedSky(tmp_path, seed=11, fov_arcsec=TEST_FOV_ARCSEC)
    with pytest.raises(ValueError, match=r"seed 11.*seed 12"):
        SimulatedSky(tmp_path, seed=12, fov_arcsec=TEST_FOV_ARCSEC)
    with pytest.raises(ValueError, match="fov_arcsec"):
        SimulatedSky(tmp_path, seed=11, fov_arcsec=120.0)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "3"])
def test_generate_rejects_bad_counts(tmp_path, bad):
    sky = SimulatedSky(tmp_path, seed=1, fov_arcsec=TEST_FOV_ARCSEC)
    with pytest.raises(ValueError, match="non-negative integer"):
        sky.generate(bad)
    assert sky.count() == 0


@pytest.mark.parametrize("seed", [-3, 1.5, None])
def test_constructor_rejects_bad_seeds(tmp_path, seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        SimulatedSky(tmp_path, seed=seed)


def test_unknown_names_raise_a_clear_key_error(small_sky):
    for name in ("sim42x99999", "sim41x00000", "2024abc", "sim42x0001"):
        with pytest.raises(UnknownTransientError, match="unknown transient"):
            small_sky.truth(name)
    with pytest.raises(KeyError):
        small_sky.true_flux_microjansky("nope", get_filter("2MASS_J"), None)


def test_names_are_valid_blast_names_and_unique(small_sky):
    names = [t.name for t in small_sky.transients()]
    assert len(set(names)) == len(names) == 60
    for name in names:
        assert validate_transient_name(name) == name


def test_cutout_headers_carry_no_timestamps(small_sky):
    transient = small_sky.transients()[0]
    header = small_sky.fetch_cutout(
        transient.ra_deg, transient.dec_deg, get_filter("WISE_W1"), 60.0
    )[0].header
    for keyword in ("DATE", "DATE-OBS", "CHECKSUM", "DATASUM"):
        assert keyword not in header
    assert header["SIMSEED"] == 42


def test_light_transient_records_match_the_simulated_fields(small_sky):
    for transient in small_sky.transients():
        field = small_sky.field(transient.name)
        assert field.transient == transient == small_sky.transient(transient.name)
        if field.host is not None:
            assert transient.host_object_id == field.host.object_id
