"""Secrets are redacted before a response body is cut to a snippet (issue 13, item 9)."""

from __future__ import annotations

import pytest

from blast_pipeline.sources.base import SourceError
from blast_pipeline.sources.http import ServiceHttp, body_snippet
from blast_pipeline.sources.surveys.fits_cutouts import open_fits_bytes
from blast_pipeline.sources.surveys.skyserver import parse_skyserver_csv
from blast_pipeline.sources.surveys.wise import parse_sia_csv

SECRET = "abcdefgh12345678"


def test_snippet_redacts_before_cutting_a_given_secret() -> None:
    text = "e" * 195 + SECRET + " and more"
    snippet = body_snippet(text, secrets=[SECRET])
    assert SECRET[:4] not in snippet and snippet.endswith("<reda...")


@pytest.mark.parametrize("pair", ["api_key=", "token: ", '"password": "', "X-Auth-Token="])
def test_snippet_redacts_secret_looking_pairs(pair: str) -> None:
    snippet = body_snippet(f"error for {pair}{SECRET} in request")
    assert SECRET[:4] not in snippet and "<redacted>" in snippet


def _http() -> ServiceHttp:
    return ServiceHttp("TestService")


def _echo_across_the_cut() -> str:
    # the service echoes the request, and the 200-character cut falls inside the token
    return "x" * 185 + f"token={SECRET}&ra=10\n"


def test_skyserver_reply_preview_has_no_secret() -> None:
    with pytest.raises(SourceError) as error:
        parse_skyserver_csv(_echo_across_the_cut(), service="SDSS", url="https://s", http=_http())
    assert SECRET[:4] not in str(error.value)


def test_wise_sia_reply_preview_has_no_secret() -> None:
    with pytest.raises(SourceError) as error:
        parse_sia_csv(_echo_across_the_cut(), _http(), "https://irsa/sia")
    assert SECRET[:4] not in str(error.value)


def test_fits_reply_preview_and_url_have_no_secret() -> None:
    with pytest.raises(SourceError) as error:
        open_fits_bytes(
            ("y" * 60 + f"key={SECRET}").encode(),
            service="GALEX",
            url=f"https://mast/cutout?ra=1&api_key={SECRET}",
        )
    assert SECRET[:4] not in str(error.value)
