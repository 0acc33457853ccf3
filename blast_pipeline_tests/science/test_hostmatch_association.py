"""Probabilistic host association on hand-built galaxy catalogues."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from blast_pipeline.science.host_match import (
    HostAssociation,
    HostMatchConfig,
    associate_host,
    distance_modulus,
    sn_rate_absmag_pdf,
    transient_redshift_prior_pdf,
)
from blast_pipeline.sources.base import GALAXY_CATALOG_COLUMNS

ARCSEC = 1.0 / 3600.0
RA0, DEC0 = 150.0, 20.0


def catalog(rows: list[dict], mag_limit: float | None = None) -> Table:
    """A GALAXY_CATALOG_COLUMNS table; positions given as (east, north) offsets in arcsec."""
    defaults = {
        "a_arcsec": 3.0,
        "b_arcsec": 3.0,
        "pa_deg": 0.0,
        "mag": 16.0,
        "mag_err": 0.05,
        "redshift": np.nan,
        "redshift_err": np.nan,
        "redshift_type": "",
    }
    data = {c: [] for c in GALAXY_CATALOG_COLUMNS}
    for i, row in enumerate(rows):
        row = {**defaults, **row}
        data["object_id"].append(row.get("object_id", f"G{i}"))
        data["ra_deg"].append(RA0 + row["east"] * ARCSEC / np.cos(np.radians(DEC0)))
        data["dec_deg"].append(DEC0 + row["north"] * ARCSEC)
        for c in GALAXY_CATALOG_COLUMNS[3:]:
            data[c].append(row[c])
    meta = {"catalog_name": "test", "catalog_release": "1"}
    if mag_limit is not None:
        meta["mag_limit"] = mag_limit
    return Table(data, meta=meta)


def test_obvious_host_wins_with_high_probability():
    # Transient 3" east of a bright galaxy whose DLR in that direction is 10" (0.3 DLR);
    # a faint small galaxy 25" away on the other side.
    table = catalog(
        [
            {
                "object_id": "faint",
                "east": -25.0,
                "north": 0.0,
                "a_arcsec": 1.0,
                "b_arcsec": 0.8,
                "mag": 21.5,
                "redshift": 0.3,
                "redshift_err": 0.05,
                "redshift_type": "phot",
            },
            {
                "object_id": "bright",
                "east": 0.0,
                "north": 0.0,
                "a_arcsec": 10.0,
                "b_arcsec": 5.0,
                "pa_deg": 90.0,
                "mag": 14.5,
                "redshift": 0.03,
                "redshift_err": 0.0005,
                "redshift_type": "spec",
            },
        ],
        mag_limit=21.0,
    )
    result = associate_host(RA0 + 3 * ARCSEC / np.cos(np.radians(DEC0)), DEC0, table)
    assert isinstance(result, HostAssociation)
    assert result.status == "matched" and result.hypothesis == "galaxy"
    assert result.best_index == 1 and result.best_object_id == "bright"
    assert result.probability > 0.9
    assert result.runner_up_object_id == "faint"
    assert result.n_candidates == 2
    row = result.candidates[1]
    assert row["fractional_offset"] == pytest.approx(0.3, rel=1e-3)
    assert row["dlr_arcsec"] == pytest.approx(10.0, rel=1e-3)
    total = result.candidates["posterior"].sum() + result.hostless_probability
    assert total + result.missing_host_probability == pytest.approx(1.0, abs=1e-9)


def test_equal_distance_larger_galaxy_wins_and_other_is_runner_up():
    table = catalog(
        [
            {"object_id": "small", "east": 6.0, "north": 0.0, "a_arcsec": 3.0, "b_arcsec": 3.0},
            {"object_id": "large", "east": -6.0, "north": 0.0, "a_arcsec": 8.0, "b_arcsec": 8.0},
        ]
    )
    result = associate_host(RA0, DEC0, table)
    assert result.best_object_id == "large"
    assert result.runner_up_object_id == "small" and result.runner_up_index == 0
    assert result.probability > result.runner_up_probability > 0
    fractional = dict(
        zip(result.candidates["object_id"], result.candidates["fractional_offset"], strict=True)
    )
    assert fractional["large"] == pytest.approx(0.75, rel=1e-3)
    assert fractional["small"] == pytest.approx(2.0, rel=1e-3)


def test_hostless_transient_is_no_host_match():
    # Nearest galaxy is 60" away with a 2" DLR: 30 DLR.
    table = catalog(
        [
            {"east": 60.0, "north": 0.0, "a_arcsec": 2.0, "b_arcsec": 2.0},
            {"east": 0.0, "north": -90.0, "a_arcsec": 4.0, "b_arcsec": 2.0},
        ]
    )
    result = associate_host(RA0, DEC0, table)
    assert result.best_index is None and result.best_object_id is None
    assert result.status == "no host match"
    assert result.hypothesis == "hostless"  # no mag_limit: no missing-host hypothesis
    assert result.hostless_probability > 0.99
    assert result.missing_host_probability == 0.0
    assert result.runner_up_index is not None  # the best galaxy is still reported
    assert result.runner_up_probability < 1e-6


def test_missing_host_when_the_catalogue_is_shallow():
    table = catalog(
        [{"east": 60.0, "north": 0.0, "a_arcsec": 2.0, "b_arcsec": 2.0}], mag_limit=17.0
    )
    result = associate_host(RA0, DEC0, table, transient_redshift=0.1)
    assert result.status == "no host match"
    assert result.hypothesis == "missing"
    assert result.missing_host_probability > 0.99


def test_empty_catalogue_is_no_host_match():
    result = associate_host(RA0, DEC0, catalog([]))
    assert result.best_index is None and result.runner_up_index is None
    assert result.n_candidates == 0 and len(result.candidates) == 0
    assert result.hostless_probability == pytest.approx(1.0)


def test_redshift_consistency_breaks_a_tie():
    z_near, z_far = 0.02, 0.08
    mag_near = 15.0
    # Same absolute magnitude, same size, same distance: indistinguishable without redshift.
    mag_far = mag_near + float(distance_modulus(z_far) - distance_modulus(z_near))
    table = catalog(
        [
            {
                "object_id": "near",
                "east": 0.0,
                "north": 3.0,
                "mag": mag_near,
                "redshift": z_near,
                "redshift_err": 0.001,
                "redshift_type": "spec",
            },
            {
                "object_id": "far",
                "east": 0.0,
                "north": -3.0,
                "mag": mag_far,
                "redshift": z_far,
                "redshift_err": 0.001,
                "redshift_type": "spec",
            },
        ]
    )
    tie = associate_host(RA0, DEC0, table)
    near, far = tie.candidates["posterior"]
    assert abs(near - far) < 0.1
    assert associate_host(RA0, DEC0, table, transient_redshift=z_far).best_object_id == "far"
    result = associate_host(RA0, DEC0, table, transient_redshift=z_near)
    assert result.best_object_id == "near" and result.probability > 0.95


def test_galaxy_without_redshift_loses_to_a_consistent_one():
    table = catalog(
        [
            {"object_id": "unknown", "east": 2.0, "north": 0.0},
            {
                "object_id": "consistent",
                "east": -2.0,
                "north": 0.0,
                "redshift": 0.05,
                "redshift_err": 0.001,
                "redshift_type": "spec",
            },
        ]
    )
    result = associate_host(RA0, DEC0, table, transient_redshift=0.05)
    assert result.best_object_id == "consistent"
    result = associate_host(RA0, DEC0, table, transient_redshift=0.2)
    assert result.best_object_id == "unknown"


def test_same_seed_same_answer_and_seed_matters_only_slightly():
    table = catalog(
        [
            {"east": 4.0, "north": 1.0, "a_arcsec": 3.0, "b_arcsec": 1.5, "pa_deg": 40.0},
            {"east": -5.0, "north": 2.0, "a_arcsec": 4.0, "b_arcsec": 2.0, "pa_deg": 10.0},
            {"east": 1.0, "north": -7.0, "a_arcsec": 5.0, "b_arcsec": 4.0, "mag": 17.0},
        ],
        mag_limit=20.0,
    )
    first = associate_host(RA0, DEC0, table, rng_seed=7, transient_position_error_arcsec=1.0)
    second = associate_host(RA0, DEC0, table, rng_seed=7, transient_position_error_arcsec=1.0)
    assert first == second
    np.testing.assert_array_equal(first.candidates["posterior"], second.candidates["posterior"])
    other = associate_host(RA0, DEC0, table, rng_seed=8, transient_position_error_arcsec=1.0)
    assert not np.array_equal(first.candidates["posterior"], other.candidates["posterior"])
    assert other.best_index == first.best_index


def test_sn_rate_likelihood_is_normalised_and_favours_bright_galaxies():
    grid = np.linspace(-25.0, 20.0, 200001)
    pdf = sn_rate_absmag_pdf(grid)
    assert np.trapezoid(pdf, grid) == pytest.approx(1.0, rel=1e-4)
    assert sn_rate_absmag_pdf(-22.0) / sn_rate_absmag_pdf(-17.0) == pytest.approx(100.0)
    assert sn_rate_absmag_pdf(-26.0) == 0.0


def test_config_changes_the_offset_window():
    table = catalog([{"east": 12.0, "north": 0.0, "a_arcsec": 2.0, "b_arcsec": 2.0}])  # 6 DLR
    assert associate_host(RA0, DEC0, table).best_index is None
    wide = HostMatchConfig(offset_max=10.0)
    assert associate_host(RA0, DEC0, table, config=wide).best_index == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transient_dec": 95.0}, "declination"),
        ({"transient_ra": np.nan}, "finite"),
        ({"transient_redshift": -0.1}, "redshift"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    args = {
        "transient_ra": RA0,
        "transient_dec": DEC0,
        "catalog": catalog([{"east": 1, "north": 1}]),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        associate_host(**args)


def test_missing_catalogue_columns_are_named():
    table = catalog([{"east": 1.0, "north": 1.0}])
    table.remove_columns(["a_arcsec", "mag"])
    with pytest.raises(ValueError, match="a_arcsec, mag"):
        associate_host(RA0, DEC0, table)


def test_photometric_redshift_outliers_do_not_veto_a_host():
    # A close host whose photo-z (0.7) is inconsistent with the transient (0.05).
    table = catalog(
        [
            {
                "east": 1.0,
                "north": 0.0,
                "redshift": 0.7,
                "redshift_err": 0.035,
                "redshift_type": "phot",
            }
        ]
    )
    strict = HostMatchConfig(phot_redshift_outlier_fraction=0.0)
    assert (
        associate_host(RA0, DEC0, table, transient_redshift=0.05, config=strict).best_index is None
    )
    assert associate_host(RA0, DEC0, table, transient_redshift=0.05).best_index == 0
    # A spectroscopic redshift has no outlier allowance.
    table["redshift_type"] = ["spec"]
    assert associate_host(RA0, DEC0, table, transient_redshift=0.05).best_index is None


def test_transient_redshift_prior_is_a_normalised_low_redshift_distribution():
    z = np.linspace(0.0, 1.0, 20001)
    pdf = transient_redshift_prior_pdf(z)
    assert np.trapezoid(pdf, z) == pytest.approx(1.0, rel=1e-3)
    assert 0.05 < z[np.argmax(pdf)] < 0.15
    blast = transient_redshift_prior_pdf(z, HostMatchConfig(transient_survey_mag_limit=None))
    assert blast[10] > blast[-1] > 0  # Blast's halfnorm(1e-4, 0.5)


def test_rate_power_softens_the_luminosity_weighting():
    ratio = sn_rate_absmag_pdf(-22.0, power=0.5) / sn_rate_absmag_pdf(-17.0, power=0.5)
    assert ratio == pytest.approx(10.0)


def test_galaxy_without_position_angle_is_round_in_the_association():
    """An elongated galaxy (a=10", b=2") with no position angle and a transient 8" due east:
    offset 8/sqrt(20) = 1.8 DLR, so it is the host. Pointing it north (PA 0) put the
    transient at 4 DLR, behind a small galaxy at 1.5 DLR."""
    table = catalog(
        [
            {"object_id": "big", "east": 0.0, "north": 0.0, "a_arcsec": 10.0,
             "b_arcsec": 2.0, "pa_deg": np.nan, "mag": 15.0},
            {"object_id": "small", "east": 11.0, "north": 0.0, "a_arcsec": 2.0,
             "b_arcsec": 2.0, "mag": 20.0},
        ]
    )  # fmt: skip
    result = associate_host(RA0 + 8 * ARCSEC / np.cos(np.radians(DEC0)), DEC0, table)
    big = result.candidates[0]
    assert big["fractional_offset"] == pytest.approx(8.0 / np.sqrt(20.0), rel=1e-3)
    assert result.best_object_id == "big"
