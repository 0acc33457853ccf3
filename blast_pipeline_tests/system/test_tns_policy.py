"""classify_update: what the ingestion does with an object it may already have (section 6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from blast_pipeline.sources.tns import TNSObject
from blast_pipeline.system.tns_policy import classify_update

DISCOVERED = datetime(2024, 1, 14, 3, 4, 5, tzinfo=UTC)
INCOMING = TNSObject(
    name="2024abc",
    tns_id=111,
    ra_deg=10.5,
    dec_deg=-20.25,
    tns_prefix="SN",
    public_timestamp=DISCOVERED,
    spectroscopic_class="SN Ia",
    redshift=0.031,
)


def saved(**changes: Any) -> dict[str, Any]:
    row = {
        "name": "2024abc",
        "tns_id": 111,
        "ra_deg": 10.5,
        "dec_deg": -20.25,
        "tns_prefix": "SN",
        "public_timestamp": DISCOVERED,
        "spectroscopic_class": "SN Ia",
        "redshift": 0.031,
    }
    row.update(changes)
    return row


def test_unknown_transient_is_new() -> None:
    assert classify_update(None, INCOMING) == "new"


def test_identical_is_unchanged() -> None:
    assert classify_update(saved(), INCOMING) == "unchanged"


@pytest.mark.parametrize(
    "stored_timestamp",
    [
        DISCOVERED.replace(tzinfo=None),  # SQLite drops the zone: naive means UTC
        DISCOVERED.astimezone(timezone(timedelta(hours=-5))),  # same instant, another zone
    ],
)
def test_timestamps_compare_as_aware_utc(stored_timestamp: datetime) -> None:
    assert classify_update(saved(public_timestamp=stored_timestamp), INCOMING) == "unchanged"


def test_timestamp_change_is_an_update() -> None:
    later = DISCOVERED + timedelta(seconds=1)
    assert classify_update(saved(public_timestamp=later), INCOMING) == "updated"
    assert classify_update(saved(public_timestamp=None), INCOMING) == "updated"


@pytest.mark.parametrize("saved_redshift", [None, 0.02])
def test_new_or_different_tns_redshift_triggers_reprocessing(saved_redshift: float | None) -> None:
    assert classify_update(saved(redshift=saved_redshift), INCOMING) == "redshift_changed"


def test_redshift_change_wins_over_timestamp_change() -> None:
    row = saved(redshift=None, public_timestamp=DISCOVERED - timedelta(days=1))
    assert classify_update(row, INCOMING) == "redshift_changed"


def test_missing_tns_redshift_is_not_a_change() -> None:
    incoming = replace(INCOMING, redshift=None)
    assert classify_update(saved(redshift=0.031), incoming) == "unchanged"
    assert classify_update(saved(redshift=None), incoming) == "unchanged"


def test_zero_tns_redshift_counts_as_present() -> None:
    # Blast tests truthiness, which would ignore z = 0; a value is a value.
    assert (
        classify_update(saved(redshift=None), replace(INCOMING, redshift=0.0)) == "redshift_changed"
    )


def test_new_classification_is_an_update() -> None:
    assert classify_update(saved(spectroscopic_class=None), INCOMING) == "updated"
    assert classify_update(saved(ra_deg=10.6), INCOMING) == "updated"


def test_fields_absent_from_existing_are_not_compared() -> None:
    minimal = {"redshift": 0.031, "public_timestamp": DISCOVERED}
    assert classify_update(minimal, INCOMING) == "unchanged"
