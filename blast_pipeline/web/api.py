"""Blast's REST API (reference sections 4.1-4.3): science payload, lists, export, post, update."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
