"""TNS bot credentials, from the environment only (``TNS_BOT_API_KEY``, ``TNS_BOT_NAME``,
``TNS_BOT_ID``, as Blast). The key never appears in a repr or a message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Environment variables holding the bot credentials, as in Blast.
ENV_API_KEY = "TNS_BOT_API_KEY"
ENV_BOT_NAME = "TNS_BOT_NAME"
ENV_BOT_ID = "TNS_BOT_ID"


class InvalidTNSCredentials(ValueError):
    """The TNS bot credentials are unusable (empty values, non-integer bot id...)."""


class MissingTNSCredentials(InvalidTNSCredentials):
    """Some of ``TNS_BOT_API_KEY``, ``TNS_BOT_NAME``, ``TNS_BOT_ID`` are unset or empty."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            "TNS credentials missing from the environment: "
            f"{', '.join(self.missing)} (all of {ENV_API_KEY}, {ENV_BOT_NAME}, {ENV_BOT_ID} "
            "must be set and non-empty)"
        )


@dataclass(frozen=True)
class TNSCredentials:
    """The TNS bot identity. The key is excluded from ``repr``/``str``."""

    api_key: str = field(repr=False)
    bot_name: str
    bot_id: int

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise InvalidTNSCredentials("TNS api_key must be a non-empty string")
        if not isinstance(self.bot_name, str) or not self.bot_name.strip():
            raise InvalidTNSCredentials("TNS bot_name must be a non-empty string")
        # The name goes inside the quoted User-Agent marker: no quotes, backslashes, controls.
        if any(ch in self.bot_name for ch in '"\\') or not self.bot_name.isprintable():
            raise InvalidTNSCredentials(
                f"TNS bot_name {self.bot_name!r} may not contain quotes, backslashes or "
                "control characters"
            )
        if isinstance(self.bot_id, bool) or not isinstance(self.bot_id, int):
            raise InvalidTNSCredentials(
                f"TNS bot_id must be an integer, got {type(self.bot_id).__name__}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TNSCredentials:
        """Read ``TNS_BOT_API_KEY``, ``TNS_BOT_NAME`` and ``TNS_BOT_ID``; list all missing ones."""
        values = {
            var: (environ.get(var) or "").strip() for var in (ENV_API_KEY, ENV_BOT_NAME, ENV_BOT_ID)
        }
        missing = [var for var, value in values.items() if not value]
        if missing:
            raise MissingTNSCredentials(missing)
        raw_bot_id = values[ENV_BOT_ID]
        try:
            bot_id = int(raw_bot_id)
        except ValueError:
            raise InvalidTNSCredentials(
                f"{ENV_BOT_ID} must be an integer, got {raw_bot_id!r}"
            ) from None
        return cls(api_key=values[ENV_API_KEY], bot_name=values[ENV_BOT_NAME], bot_id=bot_id)

    @property
    def user_agent(self) -> str:
        """The ``tns_marker`` User-Agent TNS identifies bots by, character for character as Blast."""
        return f'tns_marker{{"tns_id": "{self.bot_id}","type": "bot", "name": "{self.bot_name}"}}'
