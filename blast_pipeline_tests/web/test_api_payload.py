"""The science payload of a processed simulated transient: Blast's keys in Blast's order, values
equal to the database rows; missing and bad names; the list endpoints and their filters."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from blast_pipeline.db.models import (
    Aperture,
    AperturePhotometry,
    Filter,
    SEDFittingResult,
    TaskRegister,
)
from blast_pipeline.db.transients import get_transient
from blast_pipeline.web.app import create_app

# Blast's serializers (reference 4.2), written out independently of the code under test.
BLAST_TRANSIENT = [
    "id",
    "aliases",
    "ra_deg",
    "dec_deg",
    "name",
    "display_name",
    "public_timestamp",
    "redshift",
    "spectroscopic_class",
    "milkyway_dust_reddening",
    "progress",
    "software_version",
    "update_comment",
    "update_fields",
    "host",
]
BLAST_HOST = [
    "name",
    "ra_deg",
    "dec_deg",
    "redshift",
    "milkyway_dust_reddening",
    "object_id",
    "catalog_name",
    "catalog_release",
    "aliases",
]
BLAST_APERTURE = [
    "id",
    "ra_deg",
    "dec_deg",
    "name",
    "orientation_deg",
    "semi_major_axis_arcsec",
    "semi_minor_axis_arcsec",
    "type",
    "software_version",
    "cutout",
    "transient",
]
BLAST_PHOTOMETRY = [
    "id",
    "flux",
    "flux_error",
    "magnitude",
    "magnitude_error",
    "is_validated",
    "software_version",
    "aperture",
    "filter",
    "transient",
]
_SED = [
    "log_mass",
    "mass_surviving_ratio",
    "log_sfr",
    "log_ssfr",
    "log_age",
    "age",
    "logzsol",
    "dust2",
    "dust_index",
    "dust1_fraction",
    "log_fagn",
    "log_agn_tau",
    "gas_logz",
    "duste_qpah",
    "duste_umin",
    "log_duste_gamma",
]
BLAST_SED = [
    "id",
    *[
        c
        for p in _SED
        for c in ([p] if p == "mass_surviving_ratio" else [f"{p}_16", f"{p}_50", f"{p}_84"])
    ],
    *[
        "chains_file",
        "percentiles_file",
        "model_file",
        "software_version",
        "transient",
        "aperture",
        "logsfh",
    ],
]
BLAST_FILTER_ORDER = [
    "2MASS_H",
    "2MASS_J",
    "2MASS_K",
    "WISE_W1",
    "WISE_W2",
    "WISE_W3",
    "WISE_W4",
    "GALEX_NUV",
    "GALEX_FUV",
    "PanSTARRS_g",
    "PanSTARRS_r",
    "PanSTARRS_i",
    "PanSTARRS_z",
    "PanSTARRS_y",
    "SDSS_i",
    "SDSS_r",
    "SDSS_u",
    "SDSS_z",
    "SDSS_g",
    "DES_g",
    "DES_r",
    "DES_i",
    "DES_z",
    "DES_Y",
]


def blast_keys() -> list[str]:
    keys = [f"transient_{k}" for k in BLAST_TRANSIENT] + [f"host_{k}" for k in BLAST_HOST]
    for kind in ("local", "global"):
        keys += [f"{kind}_aperture_{k}" for k in BLAST_APERTURE]
    for kind in ("local", "global"):
        for f in BLAST_FILTER_ORDER:
            keys += [f"{kind}_aperture_{f}_{k}" for k in BLAST_PHOTOMETRY]
    for kind in ("local", "global"):
        keys += [f"{kind}_aperture_host_{k}" for k in BLAST_SED]
    return keys


@pytest.fixture
def client(processed):
    return TestClient(create_app(processed.services))


def test_payload_has_blasts_keys_in_order_and_the_database_values(processed, client):
    reply = client.get(f"/api/transient/get/{processed.name}?format=json")
    assert reply.status_code == 200
    payload = reply.json()
    expected = blast_keys()
    assert len(expected) == 634
    assert list(payload) == [*expected, "transient_processing_status"]

    with processed.services.database.session() as session:
        t = get_transient(session, processed.name)
        assert payload["transient_id"] == t.id
        assert payload["transient_ra_deg"] == t.ra_deg
        assert payload["transient_progress"] == t.progress == 100
        assert payload["transient_processing_status"] == t.processing_status
        assert payload["transient_milkyway_dust_reddening"] == t.milkyway_dust_reddening
        assert payload["transient_host"]["id"] == t.host_id
        assert payload["host_name"] == t.host.name
        assert payload["host_redshift"] == t.host.redshift
        # the global_aperture_* fix: the primary aperture the photometry used, not null
        primary = session.scalar(
            select(Aperture).where(
                Aperture.transient_id == t.id, Aperture.type == "global", Aperture.is_primary
            )
        )
        assert payload["global_aperture_id"] == primary.id
        assert payload["global_aperture_semi_major_axis_arcsec"] == primary.semi_major_axis_arcsec
        assert payload["global_aperture_cutout"]["id"] == primary.cutout_id
        assert payload["global_aperture_transient"]["name"] == t.name
        n_global = session.query(Aperture).filter_by(transient_id=t.id, type="global").count()
        assert n_global > 1  # Blast's query would have found several and given null
        # every photometry row appears under its key with its values; no row -> all null
        rows = session.execute(
            select(AperturePhotometry, Aperture.type, Filter.name)
            .join(Aperture, AperturePhotometry.aperture_id == Aperture.id)
            .join(Filter, AperturePhotometry.filter_id == Filter.id)
            .where(AperturePhotometry.transient_id == t.id)
        ).all()
        assert len(rows) > 10
        seen = set()
        for row, kind, filter_name in rows:
            prefix = f"{kind}_aperture_{filter_name}_"
            seen.add(prefix)
            assert payload[prefix + "id"] == row.id
            assert payload[prefix + "flux"] == row.flux
            assert payload[prefix + "magnitude_error"] == row.magnitude_error
            assert payload[prefix + "is_validated"] == row.is_validated
            assert payload[prefix + "aperture"]["id"] == row.aperture_id
            assert payload[prefix + "filter"]["name"] == filter_name
        for kind in ("local", "global"):
            for f in BLAST_FILTER_ORDER:
                prefix = f"{kind}_aperture_{f}_"
                if prefix not in seen:
                    assert all(payload[prefix + k] is None for k in BLAST_PHOTOMETRY)
        sed = session.scalar(select(SEDFittingResult).where(SEDFittingResult.transient_id == t.id))
        assert payload["global_aperture_host_id"] == sed.id
        assert payload["global_aperture_host_log_mass_50"] == sed.log_mass_50
        assert payload["global_aperture_host_chains_file"] == sed.chains_file
        assert [s["logsfr_50"] for s in payload["global_aperture_host_logsfh"]] == [-0.5, 0.5]
        assert all(payload[f"local_aperture_host_{k}"] is None for k in BLAST_SED)


def test_missing_and_bad_names(client):
    reply = client.get("/api/transient/get/2099zzz?format=json")
    assert reply.status_code == 404
    assert reply.json() == {"message": "2099zzz not in database"}
    reply = client.get("/api/transient/get/SN2024abc")
    assert reply.status_code == 400 and "SN/AT prefix" in reply.json()["message"]
    assert client.get("/api/transient/get/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/api/transient/get/a..b").status_code == 400
    assert client.get("/api/transient/export/..%2Fx/all/").status_code in (400, 404)
    assert client.get("/api/transient/get/x?format=xml").status_code == 422
    assert client.get("/api/transient/get/2099zzz?wait=100000").status_code == 422


def test_wait_answers_at_once_when_finished(processed, client):
    reply = client.get(f"/api/transient/get/{processed.name}?wait=30")
    assert reply.status_code == 200 and reply.json()["transient_progress"] == 100


def test_list_endpoints_filter_and_paginate(processed, client):
    page = client.get("/api/transient/", params={"redshift_gte": 5}).json()
    assert page["count"] == 0
    page = client.get("/api/transient/", params={"name": processed.name}).json()
    assert page["count"] == 1 and page["results"][0]["name"] == processed.name
    with processed.services.database.session() as session:
        n_registers = session.query(TaskRegister).count()
        n_photometry = session.query(AperturePhotometry).count()
    page = client.get("/api/taskregister/", params={"status": "processed"}).json()
    assert page["count"] == n_registers  # a completed transient
    assert client.get("/api/taskregister/", params={"status": "failed"}).json()["count"] == 0
    first = client.get("/api/aperturephotometry/", params={"page_size": 5}).json()
    assert first["count"] == n_photometry and len(first["results"]) == 5
    assert first["previous"] is None and "page=2" in first["next"]
    second = client.get(first["next"]).json()
    assert {r["id"] for r in second["results"]}.isdisjoint(r["id"] for r in first["results"])
    assert client.get("/api/aperturephotometry/", params={"page": 10**6}).status_code == 404
    assert client.get("/api/transient/", params={"page_size": 10**6}).status_code == 422
    assert client.get("/api/transient/", params={"redshift_lte": "abc"}).status_code == 422
    sed = client.get("/api/sedfittingresult/", params={"aperture_type": "global"}).json()
    assert sed["count"] == 1 and sed["results"][0]["transient"]["name"] == processed.name
    hosts = client.get("/api/host/", params={"redshift_gte": 0}).json()
    assert hosts["count"] == 1 and hosts["results"][0]["aliases"] == []
    assert client.get("/api/filter/", params={"name": "SDSS_r"}).json()["count"] == 1
