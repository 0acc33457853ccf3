"""LocalCatalogSource (Parquet / CSV, our columns or GLADE+) and the GLADE+ converter."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.table import Table

from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS, GalaxyCatalogSource, SourceError
from blast_pipeline.sources.catalogs import (
    LocalCatalogSource,
    cone_select,
    glade_plus_to_catalog,
)

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


def test_index_is_built_once_and_reused_by_a_fresh_source(tmp_path, monkeypatch):
    """The first source converts the file into the on-disk index; a second source (as in a
    fresh process) maps it without reading the file; a changed file gets a new index."""
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table(our_rows()), path)
    cache = tmp_path / "cache"
    first = LocalCatalogSource(path, cache_dir=cache, catalog_name="one")
    near = first.galaxies_near(200.0, 60.0, 25.0)
    assert list(near["object_id"]) == ["a", "b", "c"]
    (folder,) = cache.iterdir()
    assert (folder / "dec_deg.npy").is_file() and (folder / "meta.json").is_file()

    def no_read():
        raise AssertionError("the file was read again")

    second = LocalCatalogSource(path, cache_dir=cache)
    monkeypatch.setattr(second, "_read", no_read)
    again = second.galaxies_near(200.0, 60.0, 25.0)
    assert list(again["object_id"]) == ["a", "b", "c"]
    for name in GALAXY_CATALOG_COLUMNS:
        assert list(again[name].astype(str)) == list(near[name].astype(str)), name
    # the first source's metadata overrides are its own, not stored in the index
    assert near.meta["catalog_name"] == "one" and again.meta["catalog_name"] == "c"
    assert len(second.table) == 4
    # a changed file: a new index, the new rows
    rows = our_rows()
    rows["object_id"] = ["w", "x", "y", "z"]
    pq.write_table(pa.table(rows), path)
    assert list(
        LocalCatalogSource(path, cache_dir=cache).galaxies_near(200, 60, 6)["object_id"]
    ) == [
        "w",
        "x",
    ]
    assert len(list(cache.iterdir())) == 2


def test_index_cone_matches_a_full_scan(tmp_path):
    """Random galaxies over the sky (poles and RA = 0/360 included): the indexed cone search
    gives exactly the rows, in the order, of the great-circle scan of the whole table."""
    rng = np.random.default_rng(5)
    n = 20_000
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    path = tmp_path / "sky.parquet"
    ids = [f"g{i}" for i in range(n)]
    pq.write_table(pa.table({"object_id": ids, "ra_deg": ra, "dec_deg": dec}), path)
    indexed = LocalCatalogSource(path, cache_dir=tmp_path / "cache")
    scanned = Table({"object_id": ids, "ra_deg": ra, "dec_deg": dec})

    for ra0, dec0, radius in [(0.05, 10.0, 7200.0), (359.9, -5.0, 9000.0), (12.0, 89.9, 7200.0),
                              (200.0, -89.5, 7200.0), (90.0, 0.0, 7200.0)]:  # fmt: skip
        got = list(indexed.galaxies_near(ra0, dec0, radius)["object_id"])
        expected = list(cone_select(scanned, ra0, dec0, radius)["object_id"])
        assert got == expected and len(got) > 0, (ra0, dec0)


def test_unwritable_cache_keeps_the_catalogue_in_memory(tmp_path, caplog):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table(our_rows()), path)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    source = LocalCatalogSource(path, cache_dir=blocker / "cache")
    assert list(source.galaxies_near(200.0, 60.0, 6.0)["object_id"]) == ["a", "b"]
    assert "keeping it in memory" in caplog.text
