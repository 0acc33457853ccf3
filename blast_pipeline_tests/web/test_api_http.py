"""A client that speaks only HTTP, as Blast's batch mode (``batch/run_batch.py``): it posts
transients through the post endpoint and polls the get endpoint until ``transient_progress`` is
100 while ``blast-pipeline process`` runs; against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
from urllib.request import Request, urlopen

import pytest

from blast_pipeline.services import PipelineSettings, build_services
from blast_pipeline_tests.web.server import ROOT, running_server


def _call(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict]:
    try:
        with urlopen(Request(url, method=method, headers=headers or {}), timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_http_only_client_posts_and_polls_until_complete(tmp_path, database_url):
    home = tmp_path / "home"
    env = {
        "BLAST_HOME": str(home),
        "BLAST_DATABASE_URL": database_url,
        "BLAST_CUTOUT_FOV_ARCSEC": "120",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "ALLOW_API_POST": "YES",
    }
    (tmp_path / "dagster").mkdir()
    # positions from the simulated sky, posted by the client like any user's transients
    settings = PipelineSettings.embedded(home, database_url=database_url, cutout_fov_arcsec=120)
    sky = build_services(settings).cutouts
    targets = sky.generate(2)
    with running_server(env) as base:
        for t in targets:
            status, reply = _call(
                f"{base}/api/transient/post/name={t.name}&ra={t.ra_deg}&dec={t.dec_deg}", "POST"
            )
            assert status == 201, reply
            assert reply["message"].startswith("transient successfully posted")
        status, reply = _call(f"{base}/api/transient/post/name={t.name}&ra=1&dec=1", "POST")
        assert status == 409 and "already in database" in reply["message"]
        status, reply = _call(f"{base}/api/transient/post/name=SNbad&ra=1&dec=1", "POST")
        assert status == 400 and "SN/AT" in reply["message"]
        status, reply = _call(f"{base}/api/transient/post/name=2024ok&ra=abc&dec=1", "POST")
        assert status == 400 and "bad ra and dec" in reply["message"]
        status, reply = _call(f"{base}/api/transient/get/{targets[0].name}?format=json")
        assert status == 200 and reply["transient_progress"] == 0

        worker = subprocess.Popen(
            [sys.executable, "-m", "blast_pipeline.cli", "process"],
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            payloads, deadline = {}, time.monotonic() + 400
            while len(payloads) < len(targets) and time.monotonic() < deadline:
                for t in targets:
                    _, data = _call(f"{base}/api/transient/get/{t.name}?format=json")
                    if data["transient_progress"] == 100:
                        payloads[t.name] = data
                time.sleep(1)
            assert worker.wait(timeout=300) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert set(payloads) == {t.name for t in targets}
        for data in payloads.values():
            assert data["transient_processing_status"] in ("completed", "blocked")
            assert data["transient_milkyway_dust_reddening"] is not None
        hosted = [d for d in payloads.values() if d["host_name"] is not None]
        assert hosted and all(d["global_aperture_id"] is not None for d in hosted)
        assert any(
            d["global_aperture_PanSTARRS_r_flux"] is not None
            or d["global_aperture_SDSS_r_flux"] is not None
            for d in hosted
        )
        status, reply = _call(f"{base}/api/transient/get/{targets[0].name}?wait=5")
        assert status == 200 and reply["transient_progress"] == 100
        status, health = _call(f"{base}/health")
        assert status == 200 and health["database"]["ok"] and health["dagster"]["ok"]


def test_health_names_the_failing_part(tmp_path):
    env = {
        "BLAST_HOME": str(tmp_path),
        "BLAST_SKY": "none",
        "DAGSTER_HOME": "",
        "BLAST_API_TOKEN": "tok-123",
    }
    log = tmp_path / "server.log"
    with running_server(env, log=log) as base:
        status, health = _call(f"{base}/health")
        assert status == 503 and health["status"] == "failing: dagster"
        assert health["database"]["ok"] and "DAGSTER_HOME" in health["dagster"]["detail"]
        url = f"{base}/api/transient/post/name=2024tok&ra=1&dec=1"
        assert _call(url, "POST")[0] == 401
        assert _call(url, "POST", {"Authorization": "Bearer nope"})[0] == 403
        assert _call(url, "POST", {"Authorization": "Bearer tok-123"})[0] == 201
    text = log.read_text()
    assert "POST /api/transient/post/" in text and "tok-123" not in text  # never logged
