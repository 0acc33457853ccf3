"""Survey cutout clients against local fake services speaking each real service's format."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.wcs import WCS

sys.path.insert(0, str(Path(__file__).resolve().parent))

from online_fake_services import (  # noqa: E402
    FAST_SETTINGS,
    FakeService,
    Reply,
    assert_centred_cutout,
    fake_http,
    recording_sleep,
)
from online_survey_worlds import (  # noqa: E402
    DEC,
    FOV_ARCSEC,
    RA,
    WORLDS,
    GalexWorld,
    LegacySurveyWorld,
    SdssWorld,
    TwoMassWorld,
    expected_size,
)

from blast_pipeline.science.filters import get_filter  # noqa: E402
from blast_pipeline.sources.base import (  # noqa: E402
    CutoutDownloadError,
    CutoutSource,
    RateLimitedError,
)
from blast_pipeline.sources.http import HttpSettings  # noqa: E402
from blast_pipeline.sources.surveys.galex import intensity_map_url  # noqa: E402


@pytest.fixture(params=list(WORLDS))
def world(request):
    return WORLDS[request.param]()


@pytest.fixture
def fake():
    with FakeService() as service:
        yield service


def test_every_client_is_a_cutout_source(world, fake):
    world.install(fake)
    assert isinstance(world.client(fake, fake_http(world.survey)), CutoutSource)


def test_cutout_is_centred_sized_and_keeps_survey_keywords(world, fake):
    world.install(fake)
    cutout = world.client(fake, fake_http(world.survey)).fetch_cutout(
        RA, DEC, world.spec, FOV_ARCSEC
    )
    assert cutout is not None
    assert_centred_cutout(cutout, RA, DEC, expected_size(world.spec))
    header = cutout[0].header
    for keyword, value in world.expected_keywords.items():
        assert header[keyword] == pytest.approx(value) if isinstance(value, float) else value
    assert np.isfinite(cutout[0].data).all()


def test_cutout_pixels_come_from_the_right_place(world, fake):
    """The source images encode their pixel index (1000*y + x). The cutout's centre pixel must be
    the original pixel at the position, and the cutout's WCS must agree with the original WCS."""
    world.install(fake)
    cutout = world.client(fake, fake_http(world.survey)).fetch_cutout(
        RA, DEC, world.spec, FOV_ARCSEC
    )
    assert cutout is not None
    original = world.served[world.image_path(world.spec)][0]
    original_wcs = WCS(original.header)
    x0, y0 = original_wcs.world_to_pixel_values(RA, DEC)
    cutout_wcs = WCS(cutout[0].header)
    xc, yc = (int(round(float(v))) for v in cutout_wcs.world_to_pixel_values(RA, DEC))
    oy, ox = divmod(round(float(cutout[0].data[yc, xc])), 1000)
    assert abs(ox - x0) <= 1 and abs(oy - y0) <= 1
    # Same sky position for the same pixel, through both WCSs.
    ra_c, dec_c = cutout_wcs.pixel_to_world_values(xc, yc)
    ra_o, dec_o = original_wcs.pixel_to_world_values(ox, oy)
    assert abs(ra_c - ra_o) * 3600 < 1e-3 and abs(dec_c - dec_o) * 3600 < 1e-3


def test_no_coverage_gives_none(world, fake):
    world.install(fake)
    world.install_no_coverage(fake)
    client = world.client(fake, fake_http(world.survey))
    assert client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC) is None


def test_server_errors_then_success_are_retried(world, fake):
    world.install(fake)
    fake.fail_next(world.query_path, Reply(503, "busy"), Reply(502, "bad gateway"))
    delays, sleep = recording_sleep()
    client = world.client(fake, fake_http(world.survey, sleep=sleep))
    cutout = client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)
    assert cutout is not None
    assert len(fake.requests_to(world.query_path)) >= 3
    assert len(delays) == 2  # one back-off per failed try


def test_persistent_server_errors_raise_after_max_tries(world, fake):
    world.install(fake)
    fake.fail_next(world.query_path, *[Reply(500, "internal error")] * 3)
    client = world.client(fake, fake_http(world.survey))
    with pytest.raises(CutoutDownloadError) as error:
        client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)
    message = str(error.value)
    assert message.startswith(f"{world.survey}:")
    assert "3 tries" in message and "HTTP 500" in message
    assert "127.0.0.1" in message  # the URL is named
    assert len(fake.requests_to(world.query_path)) == 3


def test_rate_limit_retry_after_is_honoured(world, fake):
    world.install(fake)
    fake.fail_next(world.query_path, Reply(429, "slow down", {"Retry-After": "7"}))
    delays, sleep = recording_sleep()
    client = world.client(fake, fake_http(world.survey, sleep=sleep))
    assert client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC) is not None
    assert delays == [7.0]


def test_persistent_rate_limit_raises_rate_limited_cutout_error(world, fake):
    world.install(fake)
    fake.fail_next(world.query_path, *[Reply(429, "", {"Retry-After": "1"})] * 3)
    client = world.client(fake, fake_http(world.survey))
    with pytest.raises(CutoutDownloadError) as error:
        client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)
    assert isinstance(error.value, RateLimitedError)
    assert "rate limited" in str(error.value)


def test_malformed_search_reply_is_a_clear_error(world, fake):
    world.install(fake)
    fake.fail_next(world.query_path, world.malformed_reply())
    client = world.client(fake, fake_http(world.survey))
    with pytest.raises(CutoutDownloadError, match=rf"^{world.survey}: "):
        client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)


def test_broken_image_file_is_a_clear_error(world, fake):
    world.install(fake)
    fake.route(world.image_path(world.spec), Reply(200, b"<html>not a fits file</html>"))
    client = world.client(fake, fake_http(world.survey))
    with pytest.raises(CutoutDownloadError, match="not a FITS file"):
        client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)


def test_timeout_is_retried_then_reported(world, fake):
    world.install(fake)
    settings = HttpSettings(timeout_s=0.2, max_tries=2, backoff_s=0.001, max_backoff_s=0.001)
    fake.fail_next(world.query_path, *[Reply(200, "late", delay_s=1.0)] * 2)
    client = world.client(fake, fake_http(world.survey, settings))
    with pytest.raises(CutoutDownloadError, match="timed out"):
        client.fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)
    assert len(fake.requests_to(world.query_path)) == 2


# -- survey-specific selection rules ----------------------------------------------------------


def test_sdss_uses_the_nearest_field_and_the_dr17_frame_path(fake):
    world = SdssWorld()
    world.install(fake)
    world.client(fake, fake_http("SDSS")).fetch_cutout(RA, DEC, get_filter("SDSS_g"), FOV_ARCSEC)
    frames = [r.path for r in fake.requests if r.path.endswith(".fits.bz2")]
    assert frames == ["/sas/dr17/eboss/photoObj/frames/301/756/3/frame-g-000756-3-0042.fits.bz2"]


def test_galex_keeps_the_longest_exposure_near_the_position(fake):
    world = GalexWorld()
    world.install(fake)
    cutout = world.client(fake, fake_http("GALEX")).fetch_cutout(
        RA, DEC, get_filter("GALEX_FUV"), FOV_ARCSEC
    )
    assert cutout is not None and cutout[0].header["EXPTIME"] == 1650.0
    downloads = [r.path for r in fake.requests if r.path.startswith("/galex/")]
    assert downloads == ["/galex/AIS_1_sg01-fd-int.fits.gz"]


def test_galex_all_zero_cutout_means_no_coverage(fake):
    from online_fake_services import fits_bytes, sky_image

    world = GalexWorld()
    world.install(fake)
    blank = sky_image(RA, DEC, pixel_arcsec=1.5, shape=(80, 80), fill=0.0)
    fake.route(world.image_path(world.spec), Reply(200, fits_bytes(blank, "gzip")))
    assert world.client(fake, fake_http("GALEX")).fetch_cutout(RA, DEC, world.spec, 30) is None


def test_galex_url_rewrites_follow_blast():
    assert intensity_map_url("http://x/a-nd-cnt.fits.gz", "NUV") == "http://x/a-nd-int.fits.gz"
    assert intensity_map_url("http://x/a-xd-mcat.fits.gz", "FUV") == "http://x/a-fd-int.fits.gz"
    assert intensity_map_url("http://x/a-fd-exp.fits.gz", "FUV") == "http://x/a-fd-int.fits.gz"


def test_galex_mast_error_status_is_reported(fake):
    world = GalexWorld()
    world.install(fake)
    fake.fail_next(world.query_path, Reply(200, '{"status": "ERROR", "msg": "bad position"}'))
    with pytest.raises(CutoutDownloadError, match="GALEX: MAST query status ERROR: bad position"):
        world.client(fake, fake_http("GALEX")).fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)


def test_legacy_survey_zero_depth_means_no_coverage(fake):
    from online_fake_services import fits_bytes, sky_image

    world = LegacySurveyWorld()
    world.install(fake)
    zero = sky_image(RA, DEC, pixel_arcsec=0.262, shape=(240, 240), fill=0.0)
    fake.route("/files/dr10/legacysurvey-1501p022-depth-g.fits", Reply(200, fits_bytes(zero)))
    assert world.client(fake, fake_http("DES")).fetch_cutout(RA, DEC, world.spec, 30) is None


def test_legacy_survey_falls_back_to_dr9(fake):
    from online_fake_services import votable_bytes

    world = LegacySurveyWorld()
    world.install(fake)
    fake.route("/sia/ls_dr10", Reply(200, votable_bytes(world._records("dr10", bands=""))))
    fake.route("/sia/ls_dr9", Reply(200, votable_bytes(world._records("dr10"))))
    cutout = world.client(fake, fake_http("DES")).fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)
    assert cutout is not None
    assert [r.path for r in fake.requests][:2] == ["/sia/ls_dr10", "/sia/ls_dr9"]


def test_legacy_survey_query_error_in_votable_is_reported(fake):
    world = LegacySurveyWorld()
    world.install(fake)
    error = (
        '<?xml version="1.0"?><VOTABLE version="1.3"><RESOURCE type="results">'
        '<INFO name="QUERY_STATUS" value="ERROR">POS out of range</INFO></RESOURCE></VOTABLE>'
    )
    fake.fail_next(world.query_path, Reply(200, error))
    with pytest.raises(CutoutDownloadError, match="DES: SIA query failed: POS out of range"):
        world.client(fake, fake_http("DES")).fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)


def test_legacy_survey_reply_without_the_sia_columns_names_the_query(fake):
    from online_fake_services import votable_bytes

    world = LegacySurveyWorld()
    world.install(fake)
    records = world._records("dr10")
    fake.route("/sia/ls_dr10", Reply(200, votable_bytes({"access_url": records["access_url"]})))
    with pytest.raises(
        CutoutDownloadError,
        match=r"DES: SIA reply lacks columns \['obs_bandpass'\] \(.*/sia/ls_dr10\?POS=",
    ):
        world.client(fake, fake_http("DES")).fetch_cutout(RA, DEC, world.spec, FOV_ARCSEC)


def test_twomass_skips_atlas_tiles_that_miss_the_position(fake):
    world = TwoMassWorld()
    world.install(fake)
    cutout = world.client(fake, fake_http("2MASS")).fetch_cutout(
        RA, DEC, get_filter("2MASS_K"), FOV_ARCSEC
    )
    assert cutout is not None
    downloads = [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.path.startswith("/ibe/")]
    assert downloads == ["ki0010031.fits.gz", "ki0010032.fits.gz"]


def test_position_outside_the_image_is_no_coverage(fake):
    world = SdssWorld()
    world.install(fake)
    only_field = f"#Table1\n{world.columns}\n1237650000000000002,{RA},{DEC},756,301,3,42,0.0\n"
    fake.route(world.query_path, Reply(200, only_field))
    far = RA + 1.0
    client = world.client(fake, fake_http("SDSS"))
    assert client.fetch_cutout(far, DEC, world.spec, FOV_ARCSEC) is None


def test_fast_settings_are_used_by_the_helpers():
    assert FAST_SETTINGS.backoff_s < 0.01
