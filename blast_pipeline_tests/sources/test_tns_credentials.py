"""TNS bot credentials: environment reading, validation, the key kept out of reprs."""

from __future__ import annotations

import pytest

from blast_pipeline.sources.tns import (
    InvalidTNSCredentials,
    MissingTNSCredentials,
    TNSClient,
    TNSCredentials,
)

KEY = "0123456789abcdef-very-secret"
FULL_ENV = {"TNS_BOT_API_KEY": KEY, "TNS_BOT_NAME": "blast_bot", "TNS_BOT_ID": "4242"}


def test_from_env_reads_the_three_variables() -> None:
    credentials = TNSCredentials.from_env(FULL_ENV)
    assert credentials == TNSCredentials(api_key=KEY, bot_name="blast_bot", bot_id=4242)
    assert credentials.user_agent == (
        'tns_marker{"tns_id": "4242","type": "bot", "name": "blast_bot"}'
    )


def test_missing_and_empty_variables_are_all_listed() -> None:
    env = {"TNS_BOT_API_KEY": "", "TNS_BOT_NAME": "blast_bot"}
    with pytest.raises(MissingTNSCredentials) as caught:
        TNSCredentials.from_env(env)
    assert caught.value.missing == ["TNS_BOT_API_KEY", "TNS_BOT_ID"]
    message = str(caught.value)
    assert "TNS_BOT_API_KEY, TNS_BOT_ID" in message
    assert "missing" in message
    assert isinstance(caught.value, ValueError)


def test_whitespace_only_counts_as_missing() -> None:
    with pytest.raises(MissingTNSCredentials, match="TNS_BOT_NAME"):
        TNSCredentials.from_env({**FULL_ENV, "TNS_BOT_NAME": "  "})


def test_bot_id_must_be_an_integer() -> None:
    with pytest.raises(InvalidTNSCredentials, match="TNS_BOT_ID must be an integer, got '12a'"):
        TNSCredentials.from_env({**FULL_ENV, "TNS_BOT_ID": "12a"})
    with pytest.raises(InvalidTNSCredentials, match="bot_id must be an integer"):
        TNSCredentials(api_key=KEY, bot_name="bot", bot_id="12")  # type: ignore[arg-type]


def test_bot_name_cannot_break_the_marker() -> None:
    with pytest.raises(InvalidTNSCredentials, match="quotes"):
        TNSCredentials(api_key=KEY, bot_name='evil", "type": "user', bot_id=1)


def test_key_not_in_repr_or_str_of_credentials_or_client() -> None:
    credentials = TNSCredentials.from_env(FULL_ENV)
    client = TNSClient(credentials, base_url="http://127.0.0.1:9")
    for text in (repr(credentials), str(credentials), repr(client), str(client)):
        assert KEY not in text
    assert "blast_bot" in repr(credentials)


def test_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TNS_BOT_NAME")
    with pytest.raises(MissingTNSCredentials, match="TNS_BOT_NAME"):
        TNSCredentials.from_env()
