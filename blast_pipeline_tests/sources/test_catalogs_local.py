"""LocalCatalogSource (Parquet / CSV, our columns or GLADE+) and the GLADE+ converter."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.table import Table

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, GalaxyCatalogSource, SourceError
from blast_pipeline.sources.catalogs import LocalCatalogSource, glade_plus_to_catalog

ARCSEC = 1.0 / 3600.0


def our_rows() -> dict:
    return {
        "object_id": ["a", "b", "c", "d"],
        # b: 10" east in RA coordinate at dec 60 = 5" on the sky; c: 20" north; d: far away.
        "ra_deg": [200.0, 200.0 + 10 * ARCSEC, 200.0, 201.0],
        "dec_deg": [60.0, 60.0, 60.0 + 20 * ARCSEC, 60.0],
        "a_arcsec": [3.0, 2.0, 1.0, 1.0],
        "b_arcsec": [2.0, 2.0, 1.0, 1.0],
        "pa_deg": [10.0, 0.0, np.nan, 0.0],
        "mag": [15.0, 17.0, 19.0, 20.0],
        "mag_err": [0.05, 0.1, 0.1, 0.2],
        "redshift": [0.02, np.nan, 0.1, 0.3],
        "redshift_err": [0.0001, np.nan, 0.02, 0.05],
        "redshift_type": ["spec", "", "phot", "phot"],
    }


def glade_rows() -> dict:
    return {
        "GLADE+": [11, 12],
        "RAJ2000": [10.0, 10.01],
        "DEJ2000": [-30.0, -30.0],
        "Bmag": [13.5, np.nan],
        "e_Bmag": [0.1, np.nan],
        "logd25Hyp": [1.0, np.nan],
        "logr25Hyp": [0.2, np.nan],
        "PAHyp": [120.0, np.nan],
        "z_best": [0.01, 0.05],
        "z_best_std": [0.0005, 0.01],
        "f_dL": [3, 1],
        "HyperLEDA": ["NGC0001", ""],
    }


def test_parquet_with_our_columns_and_metadata(tmp_path):
    path = tmp_path / "extract.parquet"
    table = pa.table(our_rows()).replace_schema_metadata(
        {"catalog_name": "mycat", "catalog_release": "v2", "mag_limit": "21.5", "band": "r"}
    )
    pq.write_table(table, path)
    src = LocalCatalogSource(path)
    assert isinstance(src, GalaxyCatalogSource)
    near = src.galaxies_near(200.0, 60.0, 6.0)
    # b is 5" away on the sky (a +-15" RA box would also take it, but so does the cone),
    # c at 20" is outside, d far away.
    assert list(near["object_id"]) == ["a", "b"]
    assert near.colnames == list(GALAXY_CATALOG_COLUMNS)
    assert near.meta["catalog_name"] == "mycat" and near.meta["mag_limit"] == 21.5
    assert near.meta["band"] == "r"
    assert list(src.galaxies_near(200.0, 60.0, 25.0)["object_id"]) == ["a", "b", "c"]
    assert len(src.galaxies_near(0.0, 0.0, 60.0)) == 0


def test_cone_is_great_circle_not_a_box(tmp_path):
    path = tmp_path / "equator.csv"
    Table({"object_id": ["x"], "ra_deg": [10.0 + 10 * ARCSEC], "dec_deg": [0.0]}).write(
        path, format="ascii.csv"
    )
    src = LocalCatalogSource(path, catalog_name="eq")
    assert len(src.galaxies_near(10.0, 0.0, 9.9)) == 0
    assert len(src.galaxies_near(10.0, 0.0, 10.1)) == 1
    row = src.galaxies_near(10.0, 0.0, 10.1)[0]
    assert np.isnan(row["a_arcsec"]) and row["redshift_type"] == ""


def test_loads_once(tmp_path, monkeypatch):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table(our_rows()), path)
    src = LocalCatalogSource(path, catalog_name="c", catalog_release="1", mag_limit=20.0)
    calls = []
    original = src._read
    monkeypatch.setattr(src, "_read", lambda: calls.append(1) or original())
    src.galaxies_near(200.0, 60.0, 5.0)
    src.galaxies_near(201.0, 60.0, 5.0)
    assert calls == [1]
    assert src.table.meta["mag_limit"] == 20.0 and src.table.meta["catalog_release"] == "1"


def test_glade_plus_csv_is_converted(tmp_path):
    path = tmp_path / "glade_extract.csv.gz"
    Table(glade_rows()).to_pandas().to_csv(path, index=False)
    table = LocalCatalogSource(path).galaxies_near(10.0, -30.0, 60.0)
    assert list(table["object_id"]) == ["11", "12"]
    assert table.meta["catalog_name"] == "glade" and table.meta["mag_limit"] == 17.0


def test_glade_plus_converter_units():
    table = glade_plus_to_catalog(Table(glade_rows()))
    first, second = table
    assert first["a_arcsec"] == pytest.approx(0.5 * 3 * 10**1.0)  # Prost: 15"
    assert first["b_arcsec"] == pytest.approx(15.0 / 10**0.2)
    assert first["pa_deg"] == 120.0 and first["mag"] == 13.5
    assert first["redshift_type"] == "spec" and second["redshift_type"] == "phot"
    assert np.isnan(second["a_arcsec"]) and np.isnan(second["b_arcsec"])
    assert table.meta["catalog_release"] == "latest" and table.meta["band"] == "B"


def test_glade_plus_converter_names_missing_columns():
    with pytest.raises(ValueError, match="RAJ2000"):
        glade_plus_to_catalog(Table({"GLADE+": [1], "DEJ2000": [0.0]}))


def test_missing_file_and_bad_format_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        LocalCatalogSource(tmp_path / "nope.parquet").galaxies_near(0, 0, 1)
    other = tmp_path / "cat.fits"
    other.write_text("x")
    with pytest.raises(SourceError, match=r"\.parquet"):
        LocalCatalogSource(other).galaxies_near(0, 0, 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ra\nx,1\n")
    with pytest.raises(SourceError, match="object_id, ra_deg, dec_deg"):
        LocalCatalogSource(bad).galaxies_near(0, 0, 1)
    invalid = tmp_path / "invalid.csv"
    invalid.write_text("object_id,ra_deg,dec_deg\nx,1,95\n")
    with pytest.raises(SourceError, match="invalid positions"):
        LocalCatalogSource(invalid).galaxies_near(0, 0, 1)
