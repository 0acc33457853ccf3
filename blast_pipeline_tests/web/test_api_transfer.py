"""Export -> import into an empty database -> export gives the same dataset; import is all or
nothing; CSV export; the update form resets exactly Blast's tasks."""

from __future__ import annotations

import csv
import io
import json
import tarfile

import pytest
from fastapi.testclient import TestClient

from blast_pipeline.cli import main
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.web.app import create_app
from blast_pipeline.web.auth import WriteAccess
from blast_pipeline_tests.web.conftest import drop_database, fresh_database_url, services_for


def canonical(dataset: dict) -> dict:
    """The dataset with database-specific primary keys replaced by their order of appearance
    (per model) and the export time removed: what must survive export -> import -> export."""
    dataset = json.loads(json.dumps(dataset))
    del dataset["metadata"]["export_time"]
    ids: dict[tuple[str, int], int] = {}

    def renumber(model: str, pk):
        if pk is None:
            return None
        return ids.setdefault((model, pk), sum(1 for m, _ in ids if m == model) + 1)

    refs = {
        "transient": "host.transient",
        "host": "host.host",
        "cutout": "host.cutout",
        "aperture": "host.aperture",
    }

    def walk(obj):
        if isinstance(obj, list):
            return [walk(o) for o in obj]
        if not isinstance(obj, dict):
            return obj
        if "model" in obj and "pk" in obj and obj["model"] not in ("host.filter", "host.survey"):
            obj["pk"] = renumber(obj["model"], obj["pk"])
            fields = obj["fields"]
            for key, model in refs.items():
                if key in fields and not isinstance(fields[key], list):
                    fields[key] = renumber(model, fields[key])
            if "logsfh" in fields:
                fields["logsfh"] = [
                    renumber("host.starformationhistoryresult", p) for p in fields["logsfh"]
                ]
        return {k: walk(v) for k, v in obj.items()}

    return walk(dataset)


@pytest.fixture
def empty_target(request, tmp_path, monkeypatch, processed):
    """A second, empty instance on the same kind of database; the CLI points at it."""
    kind = "sqlite" if processed.url.startswith("sqlite") else "postgres"
    template = request.getfixturevalue("postgres_template") if kind == "postgres" else None
    url, pg_name = fresh_database_url(kind, tmp_path, template)
    monkeypatch.setenv("BLAST_HOME", str(tmp_path / "target"))
    monkeypatch.setenv("BLAST_DATABASE_URL", url)
    monkeypatch.setenv("BLAST_SKY", "none")
    services = services_for(url, tmp_path / "target" / "data")
    yield services
    services.database.dispose()
    drop_database(pg_name)


def test_export_import_export_gives_the_same_dataset(processed, empty_target, tmp_path, capsys):
    source = TestClient(create_app(processed.services))
    original = source.get(f"/api/transient/export/{processed.name}/").json()
    reply = source.get(f"/api/transient/export/{processed.name}/all/")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/gzip"
    archive = tmp_path / "exported.tar.gz"
    archive.write_bytes(reply.content)
    with tarfile.open(archive) as tar:
        members = set(tar.getnames())
    assert "transient.json" in members
    assert any(m.startswith("cutouts/PanSTARRS/") for m in members)
    assert f"sed_data/{processed.name}_global_chain.npz" in members  # Blast's folder name
    assert not any(m.startswith("sed_output/") for m in members)

    assert main(["import", str(archive)]) == 0
    assert f"imported 1 transient(s): {processed.name}" in capsys.readouterr().out
    target = TestClient(create_app(empty_target))
    again = target.get(f"/api/transient/export/{processed.name}/").json()
    assert canonical(again) == canonical(original)
    assert again["workflow_tasks"] == original["workflow_tasks"]
    # the files are in the new file store, byte for byte
    for cutout in original["cutouts"]:
        if cutout["fields"]["fits"]:
            path = cutout["fields"]["fits"]
            assert (empty_target.data_root / path).read_bytes() == (
                processed.services.data_root / path
            ).read_bytes()
    for suffix in ("chain", "perc", "modeldata"):  # sed_data/ members back under sed_output/
        path = f"sed_output/{processed.name}/{processed.name}_global_{suffix}.npz"
        assert (empty_target.data_root / path).read_bytes() == (
            processed.services.data_root / path
        ).read_bytes()
    payload = target.get(f"/api/transient/get/{processed.name}").json()
    assert payload["transient_progress"] == 100
    assert payload["global_aperture_host_log_mass_50"] is not None

    # a second import of the same transient is refused, and nothing changes
    assert main(["import", str(archive)]) == 2
    assert "already in the Blast database" in capsys.readouterr().err


def test_import_is_all_or_nothing(processed, empty_target, tmp_path, capsys):
    good = tmp_path / "good.tar.gz"
    assert main_export_archive(processed, good) > 0
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        blob = json.dumps({"transient": {"fields": {"name": "2024bad"}}}).encode()
        info = tarfile.TarInfo("transient.json")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
        evil = tarfile.TarInfo("cutouts/../../escape.fits")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    assert main(["import", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.tar.gz" in err and "unsafe member name" in err
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[:5000])
    assert main(["import", str(good), str(truncated)]) == 2
    assert "truncated.tar.gz" in capsys.readouterr().err
    with empty_target.database.session() as session:
        from blast_pipeline.db.transients import find_transient

        assert find_transient(session, processed.name) is None
    data = empty_target.data_root
    assert not (data / "cutouts").exists() or not any((data / "cutouts").iterdir())
    assert not (tmp_path / "escape.fits").exists()


def main_export_archive(processed, path) -> int:
    from blast_pipeline.export.transfer import export_archive

    return export_archive(processed.services, processed.name, path)


def test_cli_export_csv_and_json(processed, monkeypatch, tmp_path):
    monkeypatch.setenv("BLAST_DATABASE_URL", processed.url)
    monkeypatch.setenv("BLAST_HOME", str(processed.home))
    monkeypatch.setenv("BLAST_SKY", "none")
    out = tmp_path / "results.csv"
    assert main(["export", "--all", "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["transient_name"] == processed.name
    assert rows[0]["transient_progress"] == "100"
    assert len(rows[0]) == 635
    assert json.loads(rows[0]["transient_host"])["name"] == rows[0]["host_name"]
    out = tmp_path / "payload.json"
    assert main(["export", processed.name, "-o", str(out)]) == 0
    assert json.loads(out.read_text())["transient_name"] == processed.name
    assert main(["export", "2099nope"]) == 2
    assert main(["export"]) == 2


def _statuses(services, name):
    with services.database.session() as session:
        return task_statuses(session, get_transient(session, name))


def test_update_form_resets_exactly_blasts_tasks(processed, empty_target, tmp_path, capsys):
    archive = tmp_path / "a.tar.gz"
    main_export_archive(processed, archive)
    assert main(["import", str(archive)]) == 0
    name, services = processed.name, empty_target
    before = _statuses(services, name)
    assert set(before.values()) == {"processed"}

    assert main(["update", name, "--redshift", "0.0432", "--comment", "spectrum"]) == 0
    after = _statuses(services, name)
    reset = {t for t, s in after.items() if s == "not processed"}
    assert reset == {
        "Local aperture photometry",
        "Validate local photometry",
        "Global host SED inference",
        "Local host SED inference",
    }
    with services.database.session() as session:
        t = get_transient(session, name)
        assert t.redshift == 0.0432 and t.update_fields == "redshift"
        assert t.update_comment == "spectrum" and t.progress < 100
        assert t.workflow_requested_at is None  # the sensor will launch the run

    client = TestClient(create_app(services, WriteAccess(token="s3cret")))
    body = {
        "update_comment": "by eye",
        "aperture_semi_major_axis_arcsec": 9.0,
        "aperture_semi_minor_axis_arcsec": 4.0,
        "aperture_orientation_deg": 30.0,
    }
    url = f"/api/transient/update/{name}/"
    assert client.post(url, json=body).status_code == 401
    bad = client.post(url, json=body, headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 403 and "s3cret" not in bad.text
    reply = client.post(url, json=body, headers={"Authorization": "Bearer s3cret"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["reset_tasks"] == [
        "Global aperture photometry",
        "Validate global photometry",
        "Global host SED inference",
    ]
    payload = client.get(f"/api/transient/get/{name}").json()
    assert payload["global_aperture_semi_major_axis_arcsec"] == 9.0
    assert payload["transient_update_comment"] == "by eye"
    assert payload["global_aperture_PanSTARRS_g_id"] is None  # old photometry removed
    half = {**body, "aperture_orientation_deg": None}
    assert (
        client.post(url, json=half, headers={"Authorization": "Bearer s3cret"}).status_code == 400
    )
    again = client.post(url, json=body, headers={"Authorization": "Bearer s3cret"})
    assert again.status_code == 400 and "nothing to update" in again.json()["message"]

    # a new host keeps Host match and re-runs what depends on the host
    assert main(["update", name, "--host-ra", "10.0", "--host-dec", "1.0", "--comment", "x"]) == 0
    after = _statuses(services, name)
    assert after["Host match"] == "processed"
    assert after["Host information"] == after["Global aperture construction"] == "not processed"
    assert after["Local aperture photometry"] == "not processed"  # still from the redshift
    # a task being processed: refused, nothing written
    from blast_pipeline.db.task_register import set_status

    with services.database.session() as session:
        set_status(session, get_transient(session, name), "Host information", "processing")
    capsys.readouterr()
    assert main(["update", name, "--ra", "11.0", "--dec", "2.0", "--comment", "moved"]) == 2
    assert "is processing" in capsys.readouterr().err
    with services.database.session() as session:
        assert get_transient(session, name).ra_deg != 11.0
    assert main(["update", name, "--ra", "400", "--dec", "2", "--comment", "x"]) == 2
    assert main(["update", name, "--redshift", "0.1", "--comment", " "]) == 2


def test_import_links_a_stored_host_at_the_same_position(processed, empty_target):
    """Host dedup on import follows the project's rule (science/host_dedup.py): the same
    catalogue object within 1" is reused, a stored host without catalogue identity within 1" is
    adopted, anything else (here 3" away) is a new host; never a duplicate of a stored galaxy."""
    from sqlalchemy import func, select

    from blast_pipeline.db.models import Host
    from blast_pipeline.export.dataset import export_dataset, import_dataset

    with processed.services.database.session() as session:
        template = json.dumps(export_dataset(session, get_transient(session, processed.name)))
    host = json.loads(template)["host"]["fields"]
    one_arcsec = 1 / 3600

    def imported(name: str, host_name: str, dra_arcsec: float) -> int:
        dataset = json.loads(template.replace(processed.name, name))
        ra = host["ra_deg"] + dra_arcsec * one_arcsec
        dataset["host"]["fields"] = {**host, "name": host_name, "ra_deg": ra}
        with empty_target.database.session() as session:
            return import_dataset(session, dataset).host_id

    with empty_target.database.session() as session:
        session.add(
            Host(
                name="stored-identity",
                ra_deg=host["ra_deg"] + 0.4 * one_arcsec,
                dec_deg=host["dec_deg"],
                object_id=host["object_id"],
                catalog_name=host["catalog_name"],
                catalog_release=host["catalog_release"],
            )
        )
        session.add(
            Host(name="by-hand", ra_deg=host["ra_deg"] - 30 * one_arcsec, dec_deg=host["dec_deg"])
        )
    with empty_target.database.session() as session:
        ids = dict(session.execute(select(Host.name, Host.id)).all())
    # the same catalogue object 0.3" from the stored one, under another name: linked
    assert imported("2024dupa", "renamed-host", 0.1) == ids["stored-identity"]
    # no stored catalogue object there, but a host added by hand 0.5" away: adopted
    moved = {**host, "object_id": "other-object"}
    dataset = json.loads(template.replace(processed.name, "2024dupb"))
    dataset["host"]["fields"] = {
        **moved,
        "name": "adopting",
        "ra_deg": host["ra_deg"] - 29.5 * one_arcsec,
    }
    with empty_target.database.session() as session:
        assert import_dataset(session, dataset).host_id == ids["by-hand"]
    with empty_target.database.session() as session:
        adopted = session.get(Host, ids["by-hand"])
        assert (adopted.object_id, adopted.catalog_name) == ("other-object", host["catalog_name"])
    # another object 3" away: a new host
    dataset = json.loads(template.replace(processed.name, "2024dupc"))
    dataset["host"]["fields"] = {
        **moved,
        "object_id": "third",
        "name": "far",
        "ra_deg": host["ra_deg"] + 3 * one_arcsec,
    }
    with empty_target.database.session() as session:
        new_id = import_dataset(session, dataset).host_id
        assert new_id not in ids.values()
        assert session.scalar(select(func.count(Host.id))) == 3
