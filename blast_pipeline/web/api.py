"""Blast's REST API (reference sections 4.1-4.3): science payload, post, update, export, health.

Errors answer ``{"message": ...}`` as Blast does; request fields of the wrong type get FastAPI's
422 with the field named.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from blast_pipeline.db.transients import (
    DuplicateTransient,
    NewTransient,
    TransientNotFound,
    find_transient,
    insert_transient,
)
from blast_pipeline.names import InvalidTransientName, validate_transient_name
from blast_pipeline.services import PipelineServices
from blast_pipeline.transient_input import InvalidCoordinates, parse_new_transient
from blast_pipeline.web.auth import CanWrite
from blast_pipeline.web.deps import Services
from blast_pipeline.web.schemas import (
    ExportDataset,
    Message,
    NewTransientBody,
    SciencePayload,
    UpdateBody,
    UpdateReply,
)

router = APIRouter()
#: The longest ``?wait=`` a request may ask for, seconds.
MAX_WAIT_SECONDS = 600.0
WAIT_POLL_SECONDS = 0.5
_NAME = {400: {"model": Message}, 404: {"model": Message}}
_WRITE = {400: {"model": Message}, 401: {"model": Message}, 403: {"model": Message}}


def _graph():
    from blast_pipeline.runners.graph import WorkflowGraph
    from blast_pipeline.tasks import TASK_RUNNERS

    return WorkflowGraph.from_runners(TASK_RUNNERS)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def json_response(content: Any, status_code: int = 200) -> Response:
    """Encode once, fast (no model validation); a NaN/infinity (not JSON) becomes null."""
    try:
        body = json.dumps(content, allow_nan=False, separators=(",", ":"))
    except ValueError:
        body = json.dumps(_finite(content), separators=(",", ":"))
    return Response(body, status_code=status_code, media_type="application/json")


def _check_name(name: str) -> None:
    try:
        validate_transient_name(name)
    except InvalidTransientName as exc:
        raise HTTPException(400, str(exc)) from None


def _payload_or_progress(services: PipelineServices, name: str, want_finished: bool):
    """The payload, or the progress when ``want_finished`` and it is below 100."""
    from blast_pipeline.export.payload import science_payload, transient_by_name

    with services.database.session() as session:
        transient = transient_by_name(session, name)
        if transient is None:
            raise HTTPException(404, f"{name} not in database")
        if want_finished and transient.progress < 100:
            return transient.progress
        return science_payload(session, transient)


@router.get(
    "/api/transient/get/{name}",
    response_model=SciencePayload,
    responses=_NAME,
    tags=["transients"],
)
async def get_transient_science_payload(
    name: str,
    services: Services,
    format: Literal["json"] = "json",
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT_SECONDS, description="answer when finished or after S seconds"),
    ] = 0.0,
) -> Response:
    """Blast's flat science payload of one transient, plus ``transient_processing_status``."""
    _check_name(name)
    deadline = time.monotonic() + wait
    while True:
        waiting = time.monotonic() < deadline
        result = await run_in_threadpool(_payload_or_progress, services, name, waiting)
        if isinstance(result, dict):
            return json_response(result)
        await asyncio.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _post(services: PipelineServices, new: NewTransient) -> dict[str, str]:
    """Insert through the one input path shared with ``add``, ``import-csv`` and TNS."""
    with services.database.session() as session:
        insert_transient(session, _graph().task_names, new)
    return {
        "message": f"transient successfully posted: {new.name}: ra = {float(new.ra_deg)}, "
        f"dec= {float(new.dec_deg)}"
    }


def _new_transient(name: str, ra: Any, dec: Any, redshift: Any = None) -> NewTransient:
    """The same rules and messages as ``blast-pipeline add`` (``transient_input.py``)."""
    try:
        return parse_new_transient(name, ra, dec, redshift, ingest_source="api", tns_id=1)
    except InvalidCoordinates as exc:  # Blast's wording first
        raise HTTPException(400, f"bad ra and dec: {exc}") from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


async def _insert(services: PipelineServices, new: NewTransient) -> Response:
    try:
        reply = await run_in_threadpool(_post, services, new)
    except DuplicateTransient as exc:  # Blast's wording first, then the rule that refused it
        raise HTTPException(409, f"{new.name} already in database: {exc}") from None
    return json_response(reply, status_code=201)


_POSTED = {201: {"model": Message}, 409: {"model": Message}, **_WRITE}


@router.post(
    "/api/transient/post/name={name}&ra={ra}&dec={dec}",
    status_code=201,
    responses=_POSTED,
    response_model=Message,
    dependencies=[CanWrite],
    tags=["transients"],
)
async def post_transient(name: str, ra: str, dec: str, services: Services) -> Response:
    """Blast's post (path form); the new transient's workflow starts (the sensor picks it up)."""
    return await _insert(services, _new_transient(name, ra, dec))


@router.post(
    "/api/transient/post/",
    status_code=201,
    responses=_POSTED,
    response_model=Message,
    dependencies=[CanWrite],
    tags=["transients"],
)
async def post_transient_json(body: NewTransientBody, services: Services) -> Response:
    """The same post with a JSON body (``name``, ``ra``, ``dec``, optional ``redshift``)."""
    return await _insert(services, _new_transient(body.name, body.ra, body.dec, body.redshift))


def _update(services: PipelineServices, name: str, body: UpdateBody) -> dict[str, Any]:
    from blast_pipeline.updates import TransientBusy, TransientUpdate, update_transient

    axes = (
        body.aperture_semi_major_axis_arcsec,
        body.aperture_semi_minor_axis_arcsec,
        body.aperture_orientation_deg,
    )
    if any(v is not None for v in axes) and any(v is None for v in axes):
        raise HTTPException(400, "aperture: give semi-major, semi-minor axis and orientation")
    try:
        update = TransientUpdate(
            comment=body.update_comment,
            ra_deg=body.ra_deg,
            dec_deg=body.dec_deg,
            redshift=body.redshift,
            host_ra_deg=body.host_ra_deg,
            host_dec_deg=body.host_dec_deg,
            host_redshift=body.host_redshift,
            aperture=axes if axes[0] is not None else None,
        )
        result = update_transient(services, _graph(), name, update)
    except TransientNotFound:
        raise HTTPException(404, f"{name} not in database") from None
    except TransientBusy as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {
        "message": f"{name} updated; the sensor will launch the run",
        "update_fields": result.fields,
        "reset_tasks": result.reset,
    }


@router.post(
    "/api/transient/update/{name}/",
    response_model=UpdateReply,
    responses={**_WRITE, 404: {"model": Message}, 409: {"model": Message}},
    dependencies=[CanWrite],
    tags=["transients"],
)
async def update_transient(name: str, body: UpdateBody, services: Services) -> Response:
    """Blast's update form; resets exactly Blast's tasks (409 while a run is in flight)."""
    _check_name(name)
    return json_response(await run_in_threadpool(_update, services, name, body))


def _dataset(services: PipelineServices, name: str) -> dict[str, Any]:
    from blast_pipeline.export.dataset import export_dataset

    with services.database.session() as session:
        transient = find_transient(session, name)
        if transient is None:
            raise HTTPException(404, f"{name} not in database")
        return export_dataset(session, transient)


@router.get(
    "/api/transient/export/{name}/",
    response_model=ExportDataset,
    responses=_NAME,
    tags=["export"],
)
async def export_transient(name: str, services: Services) -> Response:
    """Blast's export dataset (reference 4.3) of one transient."""
    _check_name(name)
    return json_response(await run_in_threadpool(_dataset, services, name))


def _archive(services: PipelineServices, name: str) -> str:
    from blast_pipeline.export.archive import write_archive

    dataset = _dataset(services, name)
    handle = tempfile.NamedTemporaryFile(suffix=".tar.gz", delete=False)  # noqa: SIM115
    with handle:
        write_archive(handle, dataset, services.data_root)
    return handle.name


@router.get(
    "/api/transient/export/{name}/all/",
    response_class=FileResponse,
    responses={**_NAME, 200: {"content": {"application/gzip": {}}}},
    tags=["export"],
)
async def export_transient_archive(name: str, services: Services) -> FileResponse:
    """The ``.tar.gz`` with ``transient.json`` and the transient's files."""
    import os

    _check_name(name)
    path = await run_in_threadpool(_archive, services, name)
    return FileResponse(
        path,
        media_type="application/gzip",
        filename=f"{name}.tar.gz",
        background=BackgroundTask(os.unlink, path),
    )
