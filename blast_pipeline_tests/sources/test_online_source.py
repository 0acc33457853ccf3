"""OnlineCutoutSource: dispatch of all 24 filters to their services, URL mapping, pools."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from online_fake_services import FakeService, assert_centred_cutout  # noqa: E402
from online_survey_worlds import DEC, FOV_ARCSEC, RA, WORLDS, expected_size  # noqa: E402

from blast_pipeline.science.filters import FILTERS, SURVEYS, get_filter  # noqa: E402
from blast_pipeline.sources.base import CutoutSource  # noqa: E402
from blast_pipeline.sources.http import HttpSettings, ServicePools  # noqa: E402
from blast_pipeline.sources.online import (  # noqa: E402
    DEFAULT_SERVICE_URLS,
    OnlineCutoutSource,
)

POOL_SIZE = 2
SETTINGS = HttpSettings(
    timeout_s=10, max_tries=3, backoff_s=0.001, max_backoff_s=0.002, pool_size=POOL_SIZE
)
#: The Legacy Survey fake only has g, r and z images (like the real DR10 bricks often).
NOT_COVERED = {"DES_i", "DES_Y"}


@pytest.fixture
def services():
    """One fake server per survey, so each counts its own concurrent requests."""
    with ExitStack() as stack:
        fakes = {}
        urls: dict[str, str] = {}
        for survey, world_class in WORLDS.items():
            fake = stack.enter_context(FakeService(hold_s=0.02))
            world = world_class()
            world.install(fake)
            fakes[survey] = fake
            urls.update(world.urls(fake))
        yield fakes, urls


def make_source(urls: dict[str, str]) -> OnlineCutoutSource:
    return OnlineCutoutSource(
        urls, SETTINGS, pools=ServicePools(), sdss_pause_before_frame_s=0, sleep=lambda _s: None
    )


def test_all_service_urls_are_overridden_by_the_fakes(services):
    _, urls = services
    assert set(urls) == set(DEFAULT_SERVICE_URLS) - {"ned_objsearch"}
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())


def test_defaults_are_the_real_services():
    assert DEFAULT_SERVICE_URLS["panstarrs_filenames"].startswith("https://ps1images.stsci.edu/")
    assert (
        DEFAULT_SERVICE_URLS["sdss_frames"]
        == "https://data.sdss.org/sas/dr17/eboss/photoObj/frames"
    )
    assert DEFAULT_SERVICE_URLS["legacy_survey_sia"] == "https://datalab.noirlab.edu/sia/ls_dr10"
    assert DEFAULT_SERVICE_URLS["mast_invoke"] == "https://mast.stsci.edu/api/v0/invoke"


def test_all_24_filters_in_parallel_respect_each_service_pool(services):
    fakes, urls = services
    source = make_source(urls)
    assert isinstance(source, CutoutSource)
    calls = [spec for spec in FILTERS for _ in range(2)]  # 48 calls, 24 at a time
    with ThreadPoolExecutor(max_workers=24) as executor:
        results = list(
            executor.map(lambda spec: source.fetch_cutout(RA, DEC, spec, FOV_ARCSEC), calls)
        )
    for spec, cutout in zip(calls, results, strict=True):
        if spec.name in NOT_COVERED:
            assert cutout is None, spec.name
        else:
            assert cutout is not None, spec.name
            assert_centred_cutout(cutout, RA, DEC, expected_size(spec))
    for survey in SURVEYS:
        assert 1 <= fakes[survey].max_in_flight <= POOL_SIZE, survey
    # The pools were actually exercised: some service saw requests overlap.
    assert max(f.max_in_flight for f in fakes.values()) == POOL_SIZE


def test_unknown_url_key_is_rejected():
    with pytest.raises(ValueError, match="unknown service URL keys \\['panstars_fitscut'\\]"):
        OnlineCutoutSource({"panstars_fitscut": "http://127.0.0.1:1/x"})


def test_unknown_survey_and_bad_input_are_rejected(services):
    _, urls = services
    source = make_source(urls)
    spec = get_filter("SDSS_r")
    from dataclasses import replace

    with pytest.raises(ValueError, match="no online cutout service for survey 'HST'"):
        source.fetch_cutout(RA, DEC, replace(spec, name="HST_F160W", survey="HST"), FOV_ARCSEC)
    with pytest.raises(ValueError, match="position out of range"):
        source.fetch_cutout(400.0, DEC, spec, FOV_ARCSEC)
    with pytest.raises(ValueError, match="field of view"):
        source.fetch_cutout(RA, DEC, spec, 0.0)
