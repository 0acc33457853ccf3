"""Which data sources the configuration selects."""

from __future__ import annotations

import pytest

from blast_pipeline.resources import BlastResource
from blast_pipeline.services import PipelineSettings, build_services
from blast_pipeline.sources.catalogs import LocalCatalogSource, VizierGladeSource
from blast_pipeline.sources.online import OnlineCutoutSource, OnlineRedshiftSource
from blast_pipeline.sources.sky import SimulatedSky


def test_embedded_default_is_the_simulated_sky(tmp_path):
    services = BlastResource(home=str(tmp_path), cutout_fov_arcsec=60.0).services()
    assert isinstance(services.cutouts, SimulatedSky)
    assert services.catalogs is services.cutouts is services.redshifts
    assert (services.dust_map_dir / "SFD_dust_4096_ngp.fits").is_file()
    assert services.settings.database_url == f"sqlite:///{tmp_path.resolve() / 'blast.sqlite'}"


def test_online_mode_uses_the_service_clients(tmp_path):
    services = build_services(PipelineSettings.embedded(tmp_path, sky="online"))
    assert isinstance(services.cutouts, OnlineCutoutSource)
    assert isinstance(services.catalogs, VizierGladeSource)
    assert isinstance(services.redshifts, OnlineRedshiftSource)


def test_local_catalogue_file_overrides_the_catalogue(tmp_path):
    path = tmp_path / "glade.csv"
    path.write_text(
        "object_id,ra_deg,dec_deg,a_arcsec,b_arcsec,pa_deg,mag,mag_err,redshift,redshift_err,redshift_type\n"
    )
    services = BlastResource(home=str(tmp_path), sky="none", catalog_file=str(path)).services()
    assert isinstance(services.catalogs, LocalCatalogSource)


def test_unknown_sky_mode_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown sky mode 'moon'"):
        build_services(PipelineSettings.embedded(tmp_path, sky="moon"))


def test_sky_seed_is_read_back_from_the_sky_folder(tmp_path):
    first = BlastResource(home=str(tmp_path), sky_seed=7, cutout_fov_arcsec=60.0).services()
    assert first.cutouts.seed == 7
    again = BlastResource(home=str(tmp_path), cutout_fov_arcsec=60.0).services()
    assert again.cutouts.seed == 7
    with pytest.raises(ValueError, match="generated with seed 7"):
        BlastResource(home=str(tmp_path), sky_seed=8, cutout_fov_arcsec=60.0).services()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "VizierGladeSource"),
        ("glade", "VizierGladeSource"),
        ("legacy_survey", "LegacySurveyCatalogSource"),
        ("Panstarrs", "PanSTARRSCatalogSource"),
    ],
)
def test_blast_catalog_picks_the_online_catalogue(tmp_path, monkeypatch, name, expected):
    from blast_pipeline.resources import blast_resource_from_env

    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_SKY", "online")
    monkeypatch.setenv("BLAST_CATALOG", name)
    resource = blast_resource_from_env(resolve=True)
    assert resource.catalog == name
    services = resource.services()
    assert type(services.catalogs).__name__ == expected
    assert isinstance(services.cutouts, OnlineCutoutSource)

    # In simulated mode the sky keeps its catalogue unless BLAST_CATALOG names one.
    simulated = BlastResource(home=str(tmp_path / "sim"), catalog=name, cutout_fov_arcsec=60.0)
    sim_services = simulated.services()
    assert isinstance(sim_services.cutouts, SimulatedSky)
    if name:
        assert type(sim_services.catalogs).__name__ == expected
    else:
        assert sim_services.catalogs is sim_services.cutouts


def test_catalogue_file_wins_over_blast_catalog(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("object_id,ra_deg,dec_deg\n")
    resource = BlastResource(
        home=str(tmp_path), sky="online", catalog="panstarrs", catalog_file=str(path)
    )
    assert isinstance(resource.services().catalogs, LocalCatalogSource)


def test_unknown_catalogue_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="'sdss'.*glade, legacy_survey, panstarrs"):
        BlastResource(home=str(tmp_path), sky="online", catalog="sdss").services()
    with pytest.raises(ValueError, match="expected one of: glade, legacy_survey, panstarrs"):
        PipelineSettings.embedded(tmp_path, catalog="decals")
