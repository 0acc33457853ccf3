"""The simulated sky answers any position: a transient added by hand gets a field of its own."""

from __future__ import annotations

import json

import numpy as np

from blast_pipeline.science.filters import get_filter
from blast_pipeline.sources.sky import SimulatedSky
from blast_pipeline.sources.sky.population import build_field_at

FOV = 60.0


def test_a_hand_added_position_gets_a_deterministic_field_with_truth(tmp_path):
    sky = SimulatedSky(tmp_path / "a", seed=5, fov_arcsec=FOV)
    assert len(sky.galaxies_near(150.1, 2.2, 60.0)) == 0  # nothing there before
    label = sky.register_transient("2026zzz", 150.1, 2.2)
    assert label.startswith("J1000")
    truth = json.loads((tmp_path / "a" / "truth" / "2026zzz.json").read_text())
    assert truth["name"] == "2026zzz" and truth["field"] == label
    assert truth["simulated_for_position"] is True
    assert truth["n_galaxies"] > 0
    # a second sky object (another process) sees the field through the files
    other = SimulatedSky(tmp_path / "a", seed=5, fov_arcsec=FOV)
    table = other.galaxies_near(150.1, 2.2, 60.0)
    again = SimulatedSky(tmp_path / "b", seed=5, fov_arcsec=FOV)
    again.register_transient("other-name", 150.1, 2.2)
    assert list(again.galaxies_near(150.1, 2.2, 60.0)["object_id"]) == list(table["object_id"])
    # the images contain the field's galaxies: brighter than the empty sky around it
    spec = get_filter("PanSTARRS_r")
    here = other.model_image(150.1, 2.2, spec, FOV)[0].data
    assert here.max() > 0
    # different seed or position: a different field
    assert (
        build_field_at(6, 150.1, 2.2, FOV).galaxies != build_field_at(5, 150.1, 2.2, FOV).galaxies
    )
    assert (
        build_field_at(5, 150.2, 2.2, FOV).galaxies != build_field_at(5, 150.1, 2.2, FOV).galaxies
    )


def test_hosts_follow_the_skys_usual_probabilities():
    fields = [build_field_at(42, 10.0 + 0.37 * k, -20.0 + 0.21 * k, FOV) for k in range(300)]
    hostless = np.mean([f.hostless for f in fields])
    assert 0.02 < hostless < 0.14  # 7 % hostless
    hosted = [f for f in fields if f.host is not None]
    assert all(f.galaxies[0].role == "host" for f in hosted)
    assert np.median([f.offset_dlr for f in hosted]) < 1.5


def test_the_skys_own_transient_is_not_duplicated(tmp_path):
    sky = SimulatedSky(tmp_path, seed=5, fov_arcsec=FOV)
    (own,) = sky.generate(1)
    assert sky.register_transient(own.name, own.ra_deg, own.dec_deg) == own.name
    assert not (tmp_path / "positions").exists()
