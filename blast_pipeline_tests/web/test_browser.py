"""The Dagster UI and the transient pages in a real browser (Debian's Chromium via Playwright).

Starts the Dagster webserver and daemon and the project's web service on free localhost
ports over a fresh home (embedded sky, 120" cutouts), processes a few transients the way
`make demo` does, then checks what the issue lists. Screenshots go to ``test-artifacts/browser/``
(or ``$BLAST_BROWSER_ARTIFACTS``).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from blast_pipeline_tests.web.servers import REPO_ROOT, free_port, start, stop, wait_for_http

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get("BLAST_BROWSER_ARTIFACTS", REPO_ROOT / "test-artifacts" / "browser")
)
FOV_ARCSEC = "120"
SEED = 42
INSTANCE_YAML = """\
storage:
  sqlite:
    base_dir: {base}
run_queue:
  dequeue_interval_seconds: 1
telemetry:
  enabled: false
"""


def _browser_or_skip(playwright):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    except Exception as exc:  # the only reason to skip: Chromium truly cannot start
        pytest.skip(f"Chromium cannot start: {exc}")


def _hostless_positions(count: int) -> list[tuple[float, float]]:
    """Positions where the embedded sky draws a hostless field (7 % of them)."""
    from blast_pipeline.sources.sky.population import build_field_at

    found = []
    for k in range(2000):
        ra, dec = 150.0 + 0.5 * k, 2.2 + 0.05 * (k % 40)
        if build_field_at(SEED, ra, dec, float(FOV_ARCSEC)).hostless:
            found.append((ra, dec))
            if len(found) == count:
                return found
    raise AssertionError("no hostless field found")


def _cli(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "blast_pipeline.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A processed home, and the webserver, daemon and web service serving it."""
    if not Path(CHROMIUM).exists():  # before the minutes of processing
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    home = tmp_path_factory.mktemp("browser_home")
    dagster_home = home / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML.format(base=dagster_home / "storage"))
    web_port, dagster_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DAGSTER_HOME": str(dagster_home),
        "BLAST_HOME": str(home / "blast"),
        "BLAST_CUTOUT_FOV_ARCSEC": FOV_ARCSEC,
        "BLAST_WEB_URL": f"http://127.0.0.1:{web_port}",
    }
    # `make demo`: simulated transients, plus transients added by hand where the sky is empty
    _cli(env, "simulate", "3", "--seed", str(SEED))
    hostless = [f"2026hl{k}" for k in "ab"]
    for name, (ra, dec) in zip(hostless, _hostless_positions(2), strict=True):
        _cli(env, "add", name, str(ra), str(dec))
    _cli(env, "process")
    listing = _cli(env, "list")
    processes = []
    logs = home / "logs"
    logs.mkdir()
    try:
        bin_dir = Path(sys.executable).parent
        web = start(
            [sys.executable, "-m", "uvicorn", "--factory", "blast_pipeline.web.app:create_app",
             "--host", "127.0.0.1", "--port", str(web_port)],
            env, logs / "web.log",
        )  # fmt: skip
        processes.append(web)
        webserver = start(
            [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(dagster_port),
             "-w", "workspace.yaml"],
            env, logs / "webserver.log",
        )  # fmt: skip
        processes.append(webserver)
        daemon = start(
            [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            env,
            logs / "daemon.log",
        )
        processes.append(daemon)
        wait_for_http(f"http://127.0.0.1:{web_port}/transients/", web, 60, logs / "web.log")
        wait_for_http(
            f"http://127.0.0.1:{dagster_port}/server_info", webserver, 90, logs / "webserver.log"
        )
        yield {
            "env": env,
            "web": f"http://127.0.0.1:{web_port}",
            "dagster": f"http://127.0.0.1:{dagster_port}",
            "listing": listing,
            "hostless": hostless,
            "dagster_home": dagster_home,
        }
    finally:
        for process in reversed(processes):
            stop(process)


def _statuses(env, name: str) -> dict[str, str]:
    text = _cli(env, "status", name)
    return {
        m.group(1).strip(): m.group(2).strip()
        for m in re.finditer(r"\[...\] (.+?)\s{2,}(.+)", text)
    }


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@contextmanager
def _step(page, name: str):
    """One checked step: on failure, a screenshot ``FAILED_<name>.png`` beside the others."""
    try:
        yield
    except BaseException:
        try:
            _shot(page, f"FAILED_{name}")
        finally:
            raise


def _launch_one_partition_from_the_ui(page, dagster: str, asset: str, partition: str) -> None:
    """The asset page's Materialize button, its launch dialog, one partition, "Launch 1 run"
    (found by role and text, as a user sees them)."""
    page.goto(f"{dagster}/assets/{asset}")
    confirm = page.get_by_role("button", name="Confirm")  # "upstream not materialised" prompt
    dialog_title = page.get_by_text(re.compile(r"Launch runs? to materialize"))
    page.get_by_role("button", name="Materialize").first.click()
    confirm.or_(dialog_title).first.wait_for()
    if confirm.is_visible():
        confirm.click()
    dialog_title.first.wait_for()
    page.get_by_text("Select a partition or create one").click()
    page.get_by_placeholder("Filter partitions").fill(partition)
    # the checkbox input is hidden under its styled label: click the row's label, as a user
    # does (its text holds the name twice: the UI measures it for truncation)
    exactly = re.compile(rf"^(\s*{re.escape(partition)}\s*)+$")
    page.locator("label").filter(has_text=exactly).first.click()
    dialog_title.first.click()  # close the partition picker
    launch = page.get_by_role("button", name=re.compile(r"Launch (1 run|run)"))
    _shot(page, "4_launch_dialog")
    launch.click()


def _wait_for_ui_run(instance, partition: str, since: float, timeout_s: float = 300):
    """The run the UI launched for ``partition`` (created after ``since``, no sensor tag), once
    it finished."""
    import dagster as dg

    from blast_pipeline.runners.jobs import GENERATION_TAG

    deadline = time.monotonic() + timeout_s
    run = None
    while time.monotonic() < deadline:
        records = instance.get_run_records(
            dg.RunsFilter(tags={"dagster/partition": partition}), limit=5
        )
        fresh = [
            r.dagster_run
            for r in records
            if r.create_timestamp.timestamp() >= since and GENERATION_TAG not in r.dagster_run.tags
        ]
        run = fresh[0] if fresh else None
        if run is not None and run.is_finished:
            return run
        time.sleep(2)
    raise AssertionError(f"the UI's run for {partition} did not finish in {timeout_s:g} s: {run}")


def _mark_community_dialog_seen(dagster: str) -> None:
    """The webserver shows a first-visit "Join the Dagster community" dialog on localhost, late
    and over whatever is open (it once closed the partition picker mid-test). Its own GraphQL
    mutation ``setNuxSeen`` records it as seen in the instance, so it never opens."""
    import json
    import urllib.request

    def graphql(query: str) -> dict:
        request = urllib.request.Request(
            f"{dagster}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["data"]

    graphql("mutation { setNuxSeen }")
    assert graphql("{ shouldShowNux }") == {"shouldShowNux": False}


# processing five transients and a UI run take minutes on a loaded machine (the timeout counts
# the module fixture's setup too)
@pytest.mark.timeout(1800)
def test_dagster_ui_and_transient_page_in_chromium(stack):
    import dagster as dg
    from PIL import Image
    from playwright.sync_api import sync_playwright

    env = stack["env"]
    simulated = [line.split()[0] for line in stack["listing"].splitlines()[1:-1]]
    measured = [
        n for n in simulated if _statuses(env, n).get("Global aperture photometry") == "processed"
    ]
    assert measured, stack["listing"]
    good = measured[0]
    no_match = [n for n in stack["hostless"] if _statuses(env, n)["Host match"] == "no host match"]
    assert no_match, "no hand-added hostless transient ended 'no host match'"
    nohost = no_match[0]
    dagster = stack["dagster"]
    _mark_community_dialog_seen(dagster)

    with sync_playwright() as playwright:
        browser = _browser_or_skip(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(45_000)

        # the asset graph: one group per branch of Blast's workflow (zoomed out, the graph cuts
        # names to 18 characters; within a group they stay distinct, test_asset_groups.py), and
        # the asset catalogue, which lists the transient assets by their full names
        with _step(page, "1_asset_graph"):
            page.goto(f"{dagster}/asset-groups")
            for group in ("transient_images", "transient_host", "transient_global"):
                page.get_by_text(group).first.wait_for()
            _shot(page, "1_asset_graph")
            page.goto(f"{dagster}/locations/blast_pipeline/asset-groups/transient_global/lineage")
            page.get_by_text("transient_global").first.wait_for()
            page.wait_for_timeout(1500)
            _shot(page, "1_asset_group_transient_global")
            page.goto(f"{dagster}/assets")
            page.get_by_text("validate_local_photometry").first.wait_for()
            page.get_by_text("global_host_sed_inference").first.wait_for()
            _shot(page, "1_asset_catalogue")

        # a processed transient's partition shows its metadata table (the photometry)
        with _step(page, "2_processed_partition"):
            page.goto(
                f"{dagster}/assets/global_aperture_photometry?view=partitions&partition={good}"
            )
            page.get_by_text("flux_uJy").first.wait_for()
            body = page.inner_text("body")
            assert "processed" in body and "transient_page" in body
            _shot(page, "2_processed_partition")

        # a "no host match" transient's partition shows that status and its reason
        with _step(page, "3_no_host_match_partition"):
            page.goto(f"{dagster}/assets/host_match?view=partitions&partition={nohost}")
            page.get_by_text("no host match").first.wait_for()
            text = page.inner_text("body")
            assert "hypothesis" in text or "catalogued" in text
            _shot(page, "3_no_host_match_partition")
            # and its downstream partition says what stopped it
            page.goto(f"{dagster}/assets/host_information?view=partitions&partition={nohost}")
            page.get_by_text("View all historical events").first.wait_for()
            _shot(page, "3b_downstream_partition")
        # at a glance (the partition list's colours): the task that ended "no host match" is
        # materialised, the one it stopped is missing, like a task that never ran
        instance = dg.DagsterInstance.from_config(str(stack["dagster_home"]))
        assert nohost in instance.get_materialized_partitions(dg.AssetKey("host_match"))
        assert nohost not in instance.get_materialized_partitions(dg.AssetKey("host_information"))

        # one partition materialised from the UI's launch dialog runs and succeeds
        with _step(page, "4_launch_from_ui"):
            since = time.time() - 1
            _launch_one_partition_from_the_ui(page, dagster, "generate_thumbnail", good)
            run = _wait_for_ui_run(instance, good, since)
            page.goto(f"{dagster}/runs/{run.run_id}")
            page.get_by_text(run.run_id[:8]).first.wait_for()
            page.get_by_text("Success").first.wait_for()
            _shot(page, "4_ui_run")
            assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
            assert run.asset_selection == {dg.AssetKey("generate_thumbnail")}
            latest = instance.get_latest_materialization_event(dg.AssetKey("generate_thumbnail"))
            assert latest.run_id == run.run_id
            assert latest.asset_materialization.partition == good
            assert latest.asset_materialization.metadata["status"].value == "processed"

        # the transient page: photometry table and cutouts that are not blank
        with _step(page, "6_transient_page"):
            page.goto(f"{stack['web']}/transients/{good}/")
            page.locator("table.photometry").first.wait_for()
            assert "PanSTARRS_g" in page.inner_text("table.photometry")
            page.locator("img.cutout").first.scroll_into_view_if_needed()
            _shot(page, "6_transient_page")
            sources = [img.get_attribute("src") for img in page.locator("img.cutout").all()]
            optical = [src for src in sources if re.search(r"(PanSTARRS|SDSS|DES)_r\.png$", src)]
            reply = page.request.get(f"{stack['web']}{(optical or sources)[0]}")
            assert reply.ok
            pixels = np.asarray(Image.open(io.BytesIO(reply.body())).convert("L"), dtype=float)
            assert pixels.std() > 5.0  # not a blank image
            centre = pixels[135:165, 135:165]  # the host, at the centre of the crop
            corner = pixels[40:110, 190:260]  # sky, clear of title, legend and host
            assert np.median(centre) > np.median(corner) + 10.0  # the galaxy stands above the sky
        with _step(page, "7_no_host_transient_page"):
            page.goto(f"{stack['web']}/")  # the service's address opens the list
            page.get_by_role("link", name=nohost).first.click()
            page.wait_for_url(f"**/transients/{nohost}/")
            assert "no host match" in page.inner_text("#task-table")
            _shot(page, "7_no_host_transient_page")
        browser.close()
