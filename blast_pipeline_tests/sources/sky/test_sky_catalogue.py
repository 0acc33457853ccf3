"""The simulated galaxy catalogue and redshift service, and the stored truth of hosts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sky_fixtures import first

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS
from blast_pipeline.sources.sky.galaxies import dlr_offset
from blast_pipeline.sources.sky.placement import HOSTLESS_MIN_DLR
from blast_pipeline.sources.sky.population import CATALOG_MAG_LIMIT
from blast_pipeline.sources.sky.positions import angular_separation_deg, sky_to_tangent_offsets


def _dlr_of(transient, galaxy) -> float:
    east, north = sky_to_tangent_offsets(
        galaxy.ra_deg, galaxy.dec_deg, transient.ra_deg, transient.dec_deg
    )
    return float(
        dlr_offset(east, north, galaxy.half_light_a_arcsec, galaxy.axis_ratio, galaxy.pa_deg)
    )


def test_catalogue_table_format(small_sky):
    transient = small_sky.transients()[0]
    table = small_sky.galaxies_near(transient.ra_deg, transient.dec_deg, 60.0)
    assert tuple(table.colnames) == GALAXY_CATALOG_COLUMNS
    assert table.meta["catalog_name"] == "simulated"
    assert table.meta["catalog_release"] == "42"
    assert table.meta["band"] == "r"
    assert len(table) > 2
    separations = 3600 * angular_separation_deg(
        transient.ra_deg, transient.dec_deg, table["ra_deg"], table["dec_deg"]
    )
    assert np.all(np.diff(separations) >= 0) and separations.max() <= 60.0
    assert np.all(table["b_arcsec"] <= table["a_arcsec"]) and np.all(table["a_arcsec"] > 0)
    assert np.all((table["pa_deg"] >= 0) & (table["pa_deg"] < 180))
    assert set(table["redshift_type"]) <= {"spec", "phot"}
    assert np.all(table["mag"] < CATALOG_MAG_LIMIT + 1.0)
    assert len(set(table["object_id"])) == len(table)


def test_empty_sky_regions_give_an_empty_table_with_the_columns(small_sky):
    table = small_sky.galaxies_near(0.0, -89.9, 30.0)
    assert len(table) == 0
    assert tuple(table.colnames) == GALAXY_CATALOG_COLUMNS
    assert table.meta["catalog_name"] == "simulated"


def test_catalogued_host_is_listed_with_neighbours(small_sky):
    name = first(
        small_sky,
        lambda f: (
            f.host is not None
            and f.host.in_catalog
            and any(g.role == "neighbour" and g.in_catalog for g in f.galaxies)
        ),
    )
    field = small_sky.field(name)
    table = small_sky.galaxies_near(field.transient.ra_deg, field.transient.dec_deg, 60.0)
    ids = list(table["object_id"])
    assert field.transient.host_object_id == field.host.object_id
    assert field.host.object_id in ids
    listed_neighbours = 0
    for galaxy in field.galaxies:
        if galaxy.role != "neighbour" or not galaxy.in_catalog:
            continue
        separation = 3600 * angular_separation_deg(
            field.transient.ra_deg, field.transient.dec_deg, galaxy.ra_deg, galaxy.dec_deg
        )
        if separation <= 60.0:
            assert galaxy.object_id in ids
            listed_neighbours += 1
    assert listed_neighbours >= 1
    row = table[ids.index(field.host.object_id)]
    assert row["ra_deg"] == pytest.approx(field.host.ra_deg)
    assert abs(row["mag"] - field.host.catalog_band_mag) < 5 * row["mag_err"] + 1e-9


def test_neighbours_are_worse_matches_than_the_host_by_dlr(small_sky):
    checked = 0
    for transient in small_sky.transients():
        field = small_sky.field(transient.name)
        if field.host is None:
            continue
        host_dlr = _dlr_of(transient, field.host)
        assert host_dlr == pytest.approx(field.offset_dlr, rel=1e-4, abs=1e-6)
        for galaxy in field.galaxies[1:]:
            assert _dlr_of(transient, galaxy) > host_dlr
            checked += 1
    assert checked > 100


def test_some_neighbours_are_as_close_as_the_host_in_arcsec(small_sky):
    close = 0
    for transient in small_sky.transients():
        truth = small_sky.truth(transient.name)
        if truth["hostless"] or truth["offset_arcsec"] < 1.0:
            continue
        for neighbour in truth["neighbours"]:
            separation = 3600 * float(
                angular_separation_deg(
                    transient.ra_deg, transient.dec_deg, neighbour["ra_deg"], neighbour["dec_deg"]
                )
            )
            close += separation < 1.5 * truth["offset_arcsec"]
    assert close >= 3


def test_faint_hosts_are_in_the_images_but_not_in_the_catalogue(small_sky):
    name = first(small_sky, lambda f: f.host is not None and not f.host.in_catalog)
    field = small_sky.field(name)
    assert field.host.catalog_band_mag >= CATALOG_MAG_LIMIT
    table = small_sky.galaxies_near(field.host.ra_deg, field.host.dec_deg, 30.0)
    assert field.host.object_id not in set(table["object_id"])
    truth = small_sky.truth(name)
    assert truth["host_object_id"] == field.host.object_id
    assert truth["host_in_catalog"] is False
    assert truth["host"]["flux_microjansky"]["PanSTARRS_r"] > 0


def test_hostless_transients_have_no_host_nearby(small_sky):
    name = first(small_sky, lambda f: f.hostless)
    field = small_sky.field(name)
    assert field.transient.host_object_id is None
    truth = small_sky.truth(name)
    assert truth["hostless"] is True and truth["host"] is None and truth["offset_dlr"] is None
    for galaxy in field.galaxies:
        assert _dlr_of(field.transient, galaxy) >= HOSTLESS_MIN_DLR * (1 - 1e-4)


def test_photometric_redshift_errors_are_realistic(small_sky):
    residuals, errors, z_true = [], [], []
    for transient in small_sky.transients():
        for galaxy in small_sky.field(transient.name).galaxies:
            if galaxy.in_catalog and galaxy.spec_z is None:
                residuals.append(galaxy.photo_z - galaxy.redshift)
                errors.append(galaxy.photo_z_err / (1 + galaxy.photo_z))
                z_true.append(galaxy.redshift)
    residuals, errors, z_true = map(np.asarray, (residuals, errors, z_true))
    assert len(residuals) > 200
    assert np.all((errors >= 0.019) & (errors <= 0.051))
    scatter = 1.4826 * np.median(np.abs(residuals / (1 + z_true)))
    assert 0.015 < scatter < 0.06


def test_spectroscopic_redshift_service(small_sky):
    name = first(small_sky, lambda f: f.host is not None and f.host.spec_z is not None)
    host = small_sky.field(name).host
    assert small_sky.spectroscopic_redshift(host.ra_deg, host.dec_deg) == host.spec_z
    assert abs(host.spec_z - host.redshift) < 5e-4
    nearby = small_sky.spectroscopic_redshift(host.ra_deg, host.dec_deg + 0.5 / 3600)
    assert nearby == host.spec_z
    assert small_sky.spectroscopic_redshift(host.ra_deg, host.dec_deg + 0.5) is None
    no_spec = first(small_sky, lambda f: f.host is not None and f.host.spec_z is None)
    other = small_sky.field(no_spec).host
    assert small_sky.spectroscopic_redshift(other.ra_deg, other.dec_deg, 0.5) is None
    with pytest.raises(ValueError, match="radius_arcsec"):
        small_sky.spectroscopic_redshift(host.ra_deg, host.dec_deg, -1.0)
    with pytest.raises(ValueError, match="radius_arcsec"):
        small_sky.galaxies_near(host.ra_deg, host.dec_deg, 0.0)


def test_truth_record_is_complete_and_json_serialisable(small_sky):
    name = first(small_sky, lambda f: f.host is not None)
    truth = small_sky.truth(name)
    assert json.loads(json.dumps(truth)) == truth
    transient = small_sky.transient(name)
    assert truth["name"] == name and truth["ra_deg"] == transient.ra_deg
    assert 0.005 <= truth["redshift"] <= 0.3
    host = truth["host"]
    assert host["object_id"] == transient.host_object_id
    assert set(host["mag_ab"]) == set(host["flux_microjansky"]) and len(host["mag_ab"]) == 24
    for key in ("n", "r_e_arcsec", "axis_ratio", "pa_deg", "half_light_a_arcsec"):
        assert host["sersic"][key] > 0
    assert 6 < host["log_stellar_mass"] < 12.5 and host["sfr_msun_per_yr"] > 0
    assert truth["ebv_expected_transient"] == pytest.approx(0.86 * truth["ebv_sfd_transient"])
    assert truth["ebv_expected_host"] == pytest.approx(0.86 * truth["ebv_sfd_host"])
    for band, flux in host["flux_microjansky"].items():
        assert flux <= host["flux_microjansky_no_mw"][band]
        assert host["mag_ab"][band] == pytest.approx(23.9 - 2.5 * np.log10(flux))
    reported = [t.redshift for t in small_sky.transients()]
    assert 0.2 < np.mean([z is not None for z in reported]) < 0.8
