"""Who may write through the API (post and update): nobody by default.

``BLAST_API_TOKEN=<secret>`` requires ``Authorization: Bearer <secret>``; otherwise
``ALLOW_API_POST=YES`` (Blast's own setting) opens writing to every client, as Blast does on a
private network. The token is read from the environment only and never logged or echoed.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False, description="BLAST_API_TOKEN, when the server sets it")


@dataclass(frozen=True)
class WriteAccess:
    open: bool = False
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls) -> WriteAccess:
        token = os.environ.get("BLAST_API_TOKEN") or None
        return cls(open=os.environ.get("ALLOW_API_POST", "").upper() == "YES", token=token)

    def check(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        """Raise 401/403 unless this request may write."""
        if self.token is not None:
            if credentials is None:
                raise HTTPException(
                    401,
                    "this endpoint needs 'Authorization: Bearer <BLAST_API_TOKEN>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if not hmac.compare_digest(credentials.credentials.encode(), self.token.encode()):
                raise HTTPException(403, "the bearer token is not valid")
            return
        if not self.open:
            raise HTTPException(
                403,
                "writing through the API is disabled; the server enables it with "
                "ALLOW_API_POST=YES or BLAST_API_TOKEN",
            )


def require_write(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    access: WriteAccess = request.app.state.write_access
    access.check(credentials)


CanWrite = Depends(require_write)
