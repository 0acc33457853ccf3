"""Server-rendered transient pages: ``/transients/`` and ``/transients/<name>/``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
