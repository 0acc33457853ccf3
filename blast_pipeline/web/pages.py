"""Server-rendered transient pages: ``/transients/`` and ``/transients/<name>/``, with the
cutout gallery and SED images they show (PNGs drawn by ``science/gallery.py``)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from blast_pipeline.db.models import Aperture, Transient
from blast_pipeline.db.transients import find_transient
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.science.gallery import crop_half_width_arcsec, render_cutout_png, render_sed_png
from blast_pipeline.tasks.cutouts_io import cutouts_with_files, read_image
from blast_pipeline.tasks.thumbnails import final_apertures
from blast_pipeline.web.deps import DbSession, Services
from blast_pipeline.web.transient_view import (
    PROCESSING_STATES,
    SED_PAGE_PARAMETERS,
    dagster_instance,
    list_transients,
    transient_view,
)

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
PNG_HEADERS = {"Cache-Control": "no-cache"}


@lru_cache(maxsize=1)
def workflow_graph() -> WorkflowGraph:
    from blast_pipeline.tasks import TASK_RUNNERS

    return WorkflowGraph.from_runners(TASK_RUNNERS)


def _transient(session, name: str) -> Transient:
    transient = find_transient(session, name)
    if transient is None:
        raise HTTPException(404, f"no transient named {name!r} in the Blast database")
    return transient


@router.get("/")
def root() -> RedirectResponse:
    """The service's address alone opens the list of transients."""
    return RedirectResponse("/transients/")


@router.get("/transients/", response_class=HTMLResponse)
def transients_page(
    request: Request, session: DbSession, status: str = "", q: str = ""
) -> HTMLResponse:
    """Every transient with its progress and processing status; filters by status and name."""
    if status and status not in PROCESSING_STATES:
        raise HTTPException(400, f"status must be one of {', '.join(PROCESSING_STATES)}")
    rows = list_transients(session, status or None, q or None)
    return templates.TemplateResponse(
        request,
        "transients.html",
        {"transients": rows, "status": status, "q": q, "states": PROCESSING_STATES},
    )


@router.get("/transients/{name}/", response_class=HTMLResponse)
def transient_page(request: Request, name: str, session: DbSession) -> HTMLResponse:
    """One transient: host, cutouts with apertures, photometry, SED, task statuses and why."""
    transient = _transient(session, name)
    view = transient_view(session, transient, workflow_graph(), dagster_instance())
    context = {"v": view, "t": transient, "sed_parameters": SED_PAGE_PARAMETERS}
    return templates.TemplateResponse(request, "transient.html", context)


@router.get("/transients/{name}/cutouts/{filter_name}.png")
def cutout_png(name: str, filter_name: str, session: DbSession, services: Services) -> Response:
    """One filter's cutout, cropped around the host, apertures drawn (zscale, asinh)."""
    transient = _transient(session, name)
    cutout = cutouts_with_files(session, transient.id).get(filter_name)
    if cutout is None:
        raise HTTPException(404, f"{name} has no {filter_name} cutout")
    image = read_image(services.data_root, cutout, filter_name)
    apertures = final_apertures(session, transient)(cutout)
    host = (transient.host.ra_deg, transient.host.dec_deg) if transient.host else None
    primary = session.scalar(
        select(Aperture).where(
            Aperture.transient_id == transient.id,
            Aperture.type == "global",
            Aperture.is_primary.is_(True),
        )
    )
    position = (transient.ra_deg, transient.dec_deg)
    half = crop_half_width_arcsec(
        position, host or position, None if primary is None else primary.semi_major_axis_arcsec
    )
    with tempfile.TemporaryDirectory() as folder:
        path = render_cutout_png(
            image.data,
            image.wcs,
            Path(folder) / "cutout.png",
            transient=position,
            host=host,
            apertures=apertures,
            half_width_arcsec=half,
            title=filter_name,
        )
        content = path.read_bytes()
    return Response(content, media_type="image/png", headers=PNG_HEADERS)


@router.get("/transients/{name}/sed.png")
def sed_png(name: str, session: DbSession) -> Response:
    """The host's SED from the global and local aperture photometry."""
    transient = _transient(session, name)
    view = transient_view(session, transient, workflow_graph(), None)
    series = [
        (
            label,
            [r.wavelength_angstrom for r in rows],
            [r.flux_ujy for r in rows],
            [r.flux_error_ujy for r in rows],
        )
        for label, rows in (
            ("global aperture", view.global_photometry),
            ("local aperture", view.local_photometry),
        )
        if rows
    ]
    if not series:
        raise HTTPException(404, f"{name} has no photometry yet")
    return Response(render_sed_png(series), media_type="image/png", headers=PNG_HEADERS)
