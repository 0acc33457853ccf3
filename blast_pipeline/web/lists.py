"""Blast's read-only list endpoints (DRF routers in ``api/urls.py``) with Blast's filters,
paginated as DRF's ``PageNumberPagination`` (``?page=&page_size=``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from blast_pipeline.db.models import (
    Alias,
    Aperture,
    AperturePhotometry,
    Cutout,
    Filter,
    Host,
    SEDFittingResult,
    StarFormationHistoryResult,
    Status,
    Task,
    TaskRegister,
    Transient,
)
from blast_pipeline.export.serializers import (
    FILTER_LIST_KEYS,
    aperture_fields,
    aperture_row,
    cutout_row,
    filter_row,
    host_fields,
    photometry_fields,
    sed_fields,
    timestamp,
    transient_fields,
    transient_row,
)
from blast_pipeline.web.deps import DbSession
from blast_pipeline.web.schemas import NO_NUL, Message, Page

router = APIRouter(prefix="/api", tags=["lists"])
MAX_PAGE_SIZE = 1000
PageNumber = Annotated[int, Query(ge=1, le=10**9, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="rows per page")]
#: Text filters: no NUL character (PostgreSQL refuses it in a string: a 500 otherwise).
Text = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]
Number = Annotated[float | None, Query(allow_inf_nan=False)]
_LIST = {"response_model": Page, "responses": {404: {"model": Message}}}


def _page(
    request: Request,
    session: Session,
    query: Select,
    page: int,
    page_size: int,
    serialize: Callable[[Session, Sequence[Any]], list[dict[str, Any]]],
) -> dict[str, Any]:
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    last = max(1, -(-count // page_size))
    if page > last:
        raise HTTPException(404, f"invalid page {page}: there are {last} page(s)")
    rows = session.scalars(query.limit(page_size).offset((page - 1) * page_size)).all()

    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number))

    return {
        "count": count,
        "next": link(page + 1) if page < last else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": serialize(session, rows),
    }


def _aliases(session: Session, column, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for owner, alias in session.execute(
        select(column, Alias.alias).where(column.in_(ids)).order_by(Alias.id)
    ):
        found[owner].append(alias)
    return found


def transient_rows(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    """Nested transient dicts by id (two queries for any number of transients)."""
    if not ids:
        return {}
    counts = dict(
        session.execute(
            select(TaskRegister.transient_id, func.count(TaskRegister.id))
            .where(TaskRegister.transient_id.in_(ids))
            .group_by(TaskRegister.transient_id)
        ).all()
    )
    return {
        t.id: transient_row(t, bool(counts.get(t.id)))
        for t in session.scalars(select(Transient).where(Transient.id.in_(ids)))
    }


def _serialize_transients(session, rows):
    aliases = _aliases(session, Alias.transient_id, [t.id for t in rows])
    return [transient_fields(t, aliases.get(t.id, []), t.host) for t in rows]


def _serialize_hosts(session, rows):
    aliases = _aliases(session, Alias.host_id, [h.id for h in rows])
    return [host_fields(h, aliases.get(h.id, [])) for h in rows]


def _serialize_apertures(session, rows):
    nested = transient_rows(session, {a.transient_id for a in rows})
    return [aperture_fields(a, nested[a.transient_id], a.cutout) for a in rows]


def _filters(session) -> dict[int, dict[str, Any]]:
    return {f.id: filter_row(f) for f in session.scalars(select(Filter))}


def _serialize_cutouts(session, rows):
    nested, filters = transient_rows(session, {c.transient_id for c in rows}), _filters(session)
    items = []
    for c in rows:
        values = cutout_row(c)
        del values["fits"]  # Blast's CutoutSerializer excludes it
        values["filter"] = filters[c.filter_id]
        values["transient"] = nested[c.transient_id]
        items.append(values)
    return items


def _serialize_photometry(session, rows):
    nested, filters = transient_rows(session, {p.transient_id for p in rows}), _filters(session)
    return [
        photometry_fields(p, aperture_row(p.aperture), nested[p.transient_id], filters)
        for p in rows
    ]


def _serialize_sed(session, rows):
    nested = transient_rows(session, {r.transient_id for r in rows})
    items = []
    for r in rows:
        aperture = session.get(Aperture, r.aperture_id) if r.aperture_id else None
        sfh = session.scalars(
            select(StarFormationHistoryResult)
            .where(StarFormationHistoryResult.sed_fitting_result_id == r.id)
            .order_by(StarFormationHistoryResult.id)
        ).all()
        items.append(sed_fields(r, nested[r.transient_id], aperture, list(sfh)))
    return items


def _serialize_registers(session, rows):
    nested = transient_rows(session, {r.transient_id for r in rows})
    return [
        {
            "id": r.id,
            "user_warning": r.user_warning,
            "last_modified": timestamp(r.last_modified),
            "last_processing_time_seconds": r.last_processing_time_seconds,
            "task": {"id": r.task.id, "name": r.task.name},
            "status": {"id": r.status.id, "message": r.status.message, "type": r.status.type},
            "transient": nested[r.transient_id],
        }
        for r in rows
    ]


def _range(query: Select, column, lte: float | None, gte: float | None) -> Select:
    if lte is not None:
        query = query.where(column <= lte)
    if gte is not None:
        query = query.where(column >= gte)
    return query


@router.get("/transient/", **_LIST)
def list_transients(
    request: Request,
    session: DbSession,
    name: Text = None,
    processing_status: Text = None,
    redshift_lte: Number = None,
    redshift_gte: Number = None,
    host_redshift_lte: Number = None,
    host_redshift_gte: Number = None,
    host_photometric_redshift_lte: Number = None,
    host_photometric_redshift_gte: Number = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Transients (Blast's ``TransientFilter``; ``processing_status`` is an addition)."""
    query = select(Transient).options(selectinload(Transient.host)).order_by(Transient.id)
    if name is not None:
        query = query.where(Transient.name == name)
    if processing_status is not None:
        query = query.where(Transient.processing_status == processing_status)
    query = _range(query, Transient.redshift, redshift_lte, redshift_gte)
    host_bounds = (host_redshift_lte, host_redshift_gte)
    photo_bounds = (host_photometric_redshift_lte, host_photometric_redshift_gte)
    if any(v is not None for v in (*host_bounds, *photo_bounds)):
        host = aliased(Host)
        query = query.join(host, Transient.host_id == host.id)
        query = _range(query, host.redshift, *host_bounds)
        query = _range(query, host.photometric_redshift, *photo_bounds)
    return _page(request, session, query, page, page_size, _serialize_transients)


@router.get("/host/", **_LIST)
def list_hosts(
    request: Request,
    session: DbSession,
    name: Text = None,
    redshift_lte: Number = None,
    redshift_gte: Number = None,
    photometric_redshift_lte: Number = None,
    photometric_redshift_gte: Number = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Hosts (Blast's ``HostFilter``)."""
    query = select(Host).order_by(Host.id)
    if name is not None:
        query = query.where(Host.name == name)
    query = _range(query, Host.redshift, redshift_lte, redshift_gte)
    query = _range(
        query, Host.photometric_redshift, photometric_redshift_lte, photometric_redshift_gte
    )
    return _page(request, session, query, page, page_size, _serialize_hosts)


def _of_transient(query: Select, model, transient: str | None) -> Select:
    if transient is None:
        return query
    return query.join(Transient, model.transient_id == Transient.id).where(
        Transient.name == transient
    )


@router.get("/aperture/", **_LIST)
def list_apertures(
    request: Request,
    session: DbSession,
    transient: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Apertures (filter: ``transient`` name)."""
    query = select(Aperture).options(selectinload(Aperture.cutout)).order_by(Aperture.id)
    query = _of_transient(query, Aperture, transient)
    return _page(request, session, query, page, page_size, _serialize_apertures)


@router.get("/cutout/", **_LIST)
def list_cutouts(
    request: Request,
    session: DbSession,
    name: Text = None,
    filter: Text = None,
    transient: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Cutouts (filters: ``name``, ``filter`` name, ``transient`` name)."""
    query = _of_transient(select(Cutout).order_by(Cutout.id), Cutout, transient)
    if name is not None:
        query = query.where(Cutout.name == name)
    if filter is not None:
        query = query.join(Filter, Cutout.filter_id == Filter.id).where(Filter.name == filter)
    return _page(request, session, query, page, page_size, _serialize_cutouts)


@router.get("/filter/", **_LIST)
def list_filters(
    request: Request,
    session: DbSession,
    name: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Filters (Blast's short ``FilterSerializer``)."""
    query = select(Filter).order_by(Filter.id)
    if name is not None:
        query = query.where(Filter.name == name)

    def serialize(_session, rows):
        return [{k: getattr(f, k) for k in FILTER_LIST_KEYS} for f in rows]

    return _page(request, session, query, page, page_size, serialize)


@router.get("/aperturephotometry/", **_LIST)
def list_photometry(
    request: Request,
    session: DbSession,
    filter: Text = None,
    transient: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Aperture photometry (filters: ``filter`` name, ``transient`` name)."""
    query = select(AperturePhotometry).options(selectinload(AperturePhotometry.aperture))
    query = _of_transient(query.order_by(AperturePhotometry.id), AperturePhotometry, transient)
    if filter is not None:
        query = query.join(Filter, AperturePhotometry.filter_id == Filter.id).where(
            Filter.name == filter
        )
    return _page(request, session, query, page, page_size, _serialize_photometry)


@router.get("/sedfittingresult/", **_LIST)
def list_sed_results(
    request: Request,
    session: DbSession,
    transient: Text = None,
    aperture_type: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """SED fitting results (filters: ``transient`` name, ``aperture_type`` local/global)."""
    query = _of_transient(
        select(SEDFittingResult).order_by(SEDFittingResult.id), SEDFittingResult, transient
    )
    if aperture_type is not None:
        query = query.where(SEDFittingResult.aperture_type == aperture_type)
    return _page(request, session, query, page, page_size, _serialize_sed)


@router.get("/taskregister/", **_LIST)
def list_task_registers(
    request: Request,
    session: DbSession,
    transient: Text = None,
    status: Text = None,
    task: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """Task registers (filters: ``transient`` name, ``status`` message, ``task`` name)."""
    query = select(TaskRegister).options(
        selectinload(TaskRegister.task), selectinload(TaskRegister.status)
    )
    query = _of_transient(query.order_by(TaskRegister.id), TaskRegister, transient)
    if status is not None:
        query = query.join(Status, TaskRegister.status_id == Status.id).where(
            Status.message == status
        )
    if task is not None:
        query = query.join(Task, TaskRegister.task_id == Task.id).where(Task.name == task)
    return _page(request, session, query, page, page_size, _serialize_registers)


@router.get("/task/", **_LIST)
def list_tasks(
    request: Request, session: DbSession, page: PageNumber = 1, page_size: PageSize = 100
) -> dict[str, Any]:
    """Task names."""
    query = select(Task).order_by(Task.id)
    return _page(
        request, session, query, page, page_size, lambda _s, rows: [{"name": t.name} for t in rows]
    )
