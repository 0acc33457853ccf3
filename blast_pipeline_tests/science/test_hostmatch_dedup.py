"""Host de-duplication: a real 1 arcsec cone and the catalogue-identity rules."""

from __future__ import annotations

import numpy as np
import pytest

from blast_pipeline.science.host_dedup import (
    DedupDecision,
    HostConflictError,
    HostRecord,
    find_existing_host,
)

ARCSEC = 1.0 / 3600.0


def glade(ra: float, dec: float, object_id: str = "123", **extra) -> dict:
    return {
        "ra_deg": ra,
        "dec_deg": dec,
        "object_id": object_id,
        "catalog_name": "glade",
        "catalog_release": "latest",
        **extra,
    }


def test_same_galaxy_half_an_arcsec_away_at_dec_60_is_reused():
    existing = [glade(200.0, 60.0, id=7)]
    # 1 arcsec of RA coordinate at dec 60 is 0.5 arcsec on the sky.
    candidate = glade(200.0 + 1.0 * ARCSEC, 60.0)
    decision = find_existing_host(candidate, existing)
    assert decision == DedupDecision("reuse", 7, pytest.approx(0.5, rel=1e-3))


def test_ten_arcsec_in_ra_at_dec_0_is_not_a_duplicate():
    # Blast's box (+-15" in RA, no cos(dec)) would call this the same host; the cone does not.
    existing = [{"ra_deg": 10.0, "dec_deg": 0.0, "id": 1}]  # a hand-added host, no catalogue
    candidate = glade(10.0 + 10 * ARCSEC, 0.0)
    assert find_existing_host(candidate, existing).action == "create"


def test_cos_dec_is_applied_near_the_pole():
    # 20" of RA coordinate at dec 89.99 is well under 1" on the sky.
    existing = [{"ra_deg": 45.0, "dec_deg": 89.99, "id": "hand"}]
    decision = find_existing_host(glade(45.0 + 20 * ARCSEC, 89.99), existing)
    assert decision.action == "adopt" and decision.existing_id == "hand"
    assert decision.separation_arcsec < 0.01


def test_same_identity_far_away_is_a_conflict():
    existing = [glade(10.0, 0.0, id=3)]
    with pytest.raises(HostConflictError, match="already stored as host 3"):
        find_existing_host(glade(10.0, 5 * ARCSEC), existing)


def test_two_objects_of_the_same_catalogue_within_the_cone_conflict():
    existing = [glade(10.0, 0.0, object_id="999", id=4)]
    with pytest.raises(HostConflictError, match="two catalogue objects"):
        find_existing_host(glade(10.0, 0.5 * ARCSEC, object_id="123"), existing)


def test_host_without_catalogue_identity_is_adopted():
    existing = [
        {"ra_deg": 10.0, "dec_deg": 0.3 * ARCSEC, "id": "far-ish"},
        glade(50.0, 0.0, object_id="5", id="elsewhere"),
    ]
    decision = find_existing_host(glade(10.0, 0.0), existing)
    assert decision.action == "adopt" and decision.existing_id == "far-ish"


def test_other_catalogue_in_the_cone_does_not_count():
    existing = [
        {
            "ra_deg": 10.0,
            "dec_deg": 0.0,
            "object_id": "77",
            "catalog_name": "panstarrs",
            "catalog_release": "dr2",
            "id": 9,
        }
    ]
    assert find_existing_host(glade(10.0, 0.2 * ARCSEC), existing).action == "create"


def test_identity_rule_needs_matching_release():
    existing = [glade(10.0, 0.0, id=1) | {"catalog_release": "old"}]
    # Same object id and catalogue, other release, inside the cone: a new host (rule 2c).
    assert find_existing_host(glade(10.0, 0.2 * ARCSEC), existing).action == "create"


def test_no_existing_hosts_creates():
    assert find_existing_host(glade(1.0, 2.0), []) == DedupDecision.create()


def test_records_are_validated():
    with pytest.raises(ValueError, match="invalid position"):
        HostRecord(ra_deg=np.nan, dec_deg=0.0)
    with pytest.raises(ValueError, match="position field"):
        find_existing_host({"dec_deg": 1.0}, [])
    with pytest.raises(ValueError, match="radius"):
        find_existing_host(glade(1.0, 2.0), [], radius_arcsec=0)


def test_records_normalise_identity_fields():
    record = HostRecord(ra_deg=1.0, dec_deg=2.0, object_id=12345, catalog_name=None)
    assert record.object_id == "12345" and record.catalog_name == ""
    assert record.has_catalog_identity
