"""Blast's export dataset (``export_transient_info``, reference 4.3) and its import.

Objects are Django serializer dicts ``{"model", "pk", "fields"}`` in Blast's field order;
``fits`` and the SED file fields hold paths under the data root. Additions Blast does not
have: ``Aperture.is_primary``, ``Cutout.cropped_fits`` and ``SEDFittingResult.aperture_type``.
Import gives new primary keys (the dataset's are those of the exporting database).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline import __version__
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
    Survey,
    Task,
    TaskRegister,
    Transient,
)
from blast_pipeline.export.serializers import (
    HOST_ROW,
    SED_VALUE_COLUMNS,
    field_value,
    filter_row,
    model_fields,
    sfh_row,
    timestamp,
    value_columns,
)
from blast_pipeline.files import separate_crop_file

SED_FILE_FIELDS = ("posterior", "chains_file", "percentiles_file", "model_file")
_TRANSIENT_FIELDS = tuple(f for f in model_fields(Transient) if f.name != "id")
_HOST_FIELDS = tuple(f for f in HOST_ROW if f.name != "id")
_CUTOUT_FIELDS = tuple(f for f in model_fields(Cutout) if f.name != "id")
#: Required on import (``is_primary``, an addition, defaults to True).
_APERTURE_VALUES = tuple(c for c in value_columns(Aperture) if c != "is_primary")
_PHOTOMETRY_VALUES = value_columns(AperturePhotometry)
_SFH_VALUES = value_columns(StarFormationHistoryResult)


class DatasetError(ValueError):
    """A dataset that cannot be imported; the message names the object and field."""


def _obj(model: str, pk: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {"model": f"host.{model}", "pk": pk, "fields": fields}


def _aliases(session: Session, column, value: int) -> list[str]:
    return list(session.scalars(select(Alias.alias).where(column == value).order_by(Alias.id)))


def export_dataset(session: Session, transient: Transient) -> dict[str, Any]:
    """Everything stored about one transient, in Blast's export format."""
    registers = session.scalars(
        select(TaskRegister)
        .where(TaskRegister.transient_id == transient.id)
        .order_by(Task.id)
        .join(Task, TaskRegister.task_id == Task.id)
    ).all()
    t = {f.name: field_value(transient, f) for f in _TRANSIENT_FIELDS}
    t["tasks_initialized"] = "True" if registers else "False"
    t["aliases"] = _aliases(session, Alias.transient_id, transient.id)
    host = None
    if transient.host is not None:
        h = {f.name: getattr(transient.host, f.column) for f in _HOST_FIELDS}
        h["aliases"] = _aliases(session, Alias.host_id, transient.host.id)
        host = _obj("host", transient.host.id, h)

    results = session.scalars(
        select(SEDFittingResult)
        .where(SEDFittingResult.transient_id == transient.id)
        .order_by(SEDFittingResult.id)
    ).all()
    sfh = {
        r.id: session.scalars(
            select(StarFormationHistoryResult)
            .where(StarFormationHistoryResult.sed_fitting_result_id == r.id)
            .order_by(StarFormationHistoryResult.id)
        ).all()
        for r in results
    }
    apertures = []
    for a in session.scalars(
        select(Aperture).where(Aperture.transient_id == transient.id).order_by(Aperture.id)
    ):
        fields = {f.name: getattr(a, f.column) for f in model_fields(Aperture) if f.name != "id"}
        mine = [r for r in results if r.aperture_id == a.id]
        photometry = session.scalars(
            select(AperturePhotometry)
            .where(AperturePhotometry.aperture_id == a.id)
            .order_by(AperturePhotometry.id)
        ).all()
        apertures.append(
            {
                **_obj("aperture", a.id, fields),
                "sedfittingresults": [_sed(r, sfh[r.id]) for r in mine],
                "aperturephotometry": [_photometry(p) for p in photometry],
                "starformationhistoryresult": [_sfh(s, a.id) for r in mine for s in sfh[r.id]],
            }
        )
    orphans = [r for r in results if r.aperture_id is None]
    cutouts = [
        _obj(
            "cutout",
            c.id,
            {f.name: getattr(c, f.column) for f in _CUTOUT_FIELDS}
            | {"cropped": c.cropped_path is not None},
        )
        for c in session.scalars(
            select(Cutout).where(Cutout.transient_id == transient.id).order_by(Cutout.id)
        )
    ]
    dataset: dict[str, Any] = {
        "metadata": {"app_version": f"v{__version__}", "export_time": timestamp(datetime.now(UTC))},
        "transient": _obj("transient", transient.id, t),
        "host": host,
        "apertures": apertures,
        "cutouts": cutouts,
        "filters": [_filter(f) for f in session.scalars(select(Filter).order_by(Filter.id))],
        "surveys": [
            _obj("survey", s.id, {"name": s.name})
            for s in session.scalars(select(Survey).order_by(Survey.id))
        ],
        "workflow_tasks": [
            {
                "task_name": r.task.name,
                "status": {"type": r.status.type, "message": r.status.message},
                "user_warning": r.user_warning,
                "last_modified": timestamp(r.last_modified),
                "last_processing_time_seconds": r.last_processing_time_seconds,
            }
            for r in registers
        ],
    }
    if orphans:
        dataset["sedfittingresults"] = [_sed(r, sfh[r.id]) for r in orphans]
    return dataset


def _filter(f: Filter) -> dict[str, Any]:
    return _obj("filter", f.id, {k: v for k, v in filter_row(f).items() if k != "id"})


def _photometry(p: AperturePhotometry) -> dict[str, Any]:
    fields = {"aperture": p.aperture_id, "filter": p.filter_id, "transient": p.transient_id}
    fields |= {k: getattr(p, k) for k in _PHOTOMETRY_VALUES}
    fields["software_version"] = p.software_version
    return _obj("aperturephotometry", p.id, fields)


def _sed(r: SEDFittingResult, sfh: list[StarFormationHistoryResult]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "transient": r.transient_id,
        "aperture": r.aperture_id,
        "posterior": r.posterior,
    }
    for column in SED_VALUE_COLUMNS:
        fields[column] = getattr(r, column)
        if column == "age_84":
            fields |= {"log_tau_16": None, "log_tau_50": None, "log_tau_84": None}
    fields |= {k: getattr(r, k) for k in ("chains_file", "percentiles_file", "model_file")}
    fields["software_version"] = r.software_version
    fields["logsfh"] = [s.id for s in sfh]
    fields["aperture_type"] = r.aperture_type
    return _obj("sedfittingresult", r.id, fields)


def _sfh(s: StarFormationHistoryResult, aperture_id: int) -> dict[str, Any]:
    fields = {k: v for k, v in sfh_row(s, aperture_id).items() if k != "id"}
    return _obj("starformationhistoryresult", s.id, fields)


def dataset_files(dataset: dict[str, Any]) -> list[str]:
    """Every data-root-relative file path the dataset refers to."""
    paths: list[str] = []
    for c in dataset.get("cutouts", []):
        crop = separate_crop_file(c["fields"].get("cropped_fits"))  # a view: the cutout's file
        paths += [p for p in (c["fields"].get("fits"), crop) if p]
    results = [r for a in dataset.get("apertures", []) for r in a.get("sedfittingresults", [])]
    results += dataset.get("sedfittingresults", [])
    for r in results:
        paths += [r["fields"][k] for k in SED_FILE_FIELDS if r["fields"].get(k)]
    return paths


def _field(obj: dict[str, Any], name: str, what: str) -> Any:
    try:
        return obj["fields"][name]
    except (KeyError, TypeError):
        raise DatasetError(f"{what}: missing field {name!r}") from None


def import_dataset(session: Session, dataset: dict[str, Any]) -> Transient:
    """Insert the rows of one exported transient (``DatasetError`` before anything is usable;
    the caller's transaction is rolled back then). Statuses are restored; the caller
    recomputes progress."""
    if not isinstance(dataset, dict) or not isinstance(dataset.get("transient"), dict):
        raise DatasetError("not a Blast transient dataset: no 'transient' object")
    t = dataset["transient"]
    name = _field(t, "name", "transient")
    what = f"transient {name!r}"
    filters = _check_filters(session, dataset, what)
    host = _import_host(session, dataset.get("host"), what)
    fields = t["fields"]
    transient = Transient(
        name=name,
        display_name=fields.get("display_name"),
        ra_deg=float(_field(t, "ra_deg", what)),
        dec_deg=float(_field(t, "dec_deg", what)),
        tns_id=int(fields.get("tns_id") or 0),
        tns_prefix=fields.get("tns_prefix"),
        public_timestamp=_parse_time(fields.get("public_timestamp"), what),
        host=host,
        ingest_source="import",
        **{k: fields.get(k) for k in ("redshift", "spectroscopic_class", "photometric_class")},
        milkyway_dust_reddening=fields.get("milkyway_dust_reddening"),
        processing_status=fields.get("processing_status") or "processing",
        progress=int(fields.get("progress") or 0),
        software_version=fields.get("software_version") or __version__,
        update_comment=fields.get("update_comment"),
        update_fields=fields.get("update_fields"),
    )
    session.add(transient)
    session.flush()
    for alias in fields.get("aliases") or []:
        session.add(Alias(alias=alias, transient_id=transient.id))
    cutouts: dict[int, int] = {}
    for c in dataset.get("cutouts") or []:
        f = c["fields"]
        row = Cutout(
            name=f["name"],
            transient_id=transient.id,
            filter_id=filters[f["filter"]],
            fits_path=f.get("fits") or None,
            cropped_path=f.get("cropped_fits") or None,
            message=f.get("message") or "",
            software_version=f.get("software_version") or __version__,
        )
        session.add(row)
        session.flush()
        cutouts[c["pk"]] = row.id
    sfh_rows = {}
    for a in dataset.get("apertures") or []:
        sfh_rows |= {s["pk"]: s for s in a.get("starformationhistoryresult") or []}
    results = list(dataset.get("sedfittingresults") or [])
    for a in dataset.get("apertures") or []:
        f = a["fields"]
        row = Aperture(
            name=f["name"],
            transient_id=transient.id,
            cutout_id=cutouts.get(f.get("cutout")) if f.get("cutout") is not None else None,
            ra_deg=float(f["ra_deg"]),
            dec_deg=float(f["dec_deg"]),
            is_primary=bool(f.get("is_primary", True)),
            software_version=f.get("software_version") or __version__,
            **{k: f[k] for k in _APERTURE_VALUES},
        )
        session.add(row)
        session.flush()
        for p in a.get("aperturephotometry") or []:
            pf = p["fields"]
            session.add(
                AperturePhotometry(
                    aperture_id=row.id,
                    filter_id=filters[pf["filter"]],
                    transient_id=transient.id,
                    software_version=pf.get("software_version") or __version__,
                    **{k: pf.get(k) for k in _PHOTOMETRY_VALUES},
                )
            )
        results += [(r, row) for r in a.get("sedfittingresults") or []]
    for item in results:
        r, aperture = item if isinstance(item, tuple) else (item, None)
        _import_sed(session, r, transient, aperture, sfh_rows)
    _restore_registers(session, transient, dataset.get("workflow_tasks") or [], what)
    session.flush()
    return transient


def _check_filters(session: Session, dataset: dict[str, Any], what: str) -> dict[int, int]:
    """Dataset filter pk -> this database's filter id, by name (and survey)."""
    surveys = {s["pk"]: s["fields"]["name"] for s in dataset.get("surveys") or []}
    ours = {f.name: f for f in session.scalars(select(Filter))}
    our_surveys = {s.id: s.name for s in session.scalars(select(Survey))}
    mapping: dict[int, int] = {}
    for f in dataset.get("filters") or []:
        name = f["fields"]["name"]
        mine = ours.get(name)
        if mine is None:
            raise DatasetError(f"{what}: filter {name!r} is not in this database")
        survey = surveys.get(f["fields"].get("survey"))
        if survey is not None and survey != our_surveys[mine.survey_id]:
            raise DatasetError(
                f"{what}: filter {name!r} belongs to survey {survey!r} in the dataset, "
                f"{our_surveys[mine.survey_id]!r} here"
            )
        mapping[f["pk"]] = mine.id
    return mapping


def _import_host(session: Session, host: dict[str, Any] | None, what: str) -> Host | None:
    """The dataset's host: the stored host of that name, else the stored host the project's
    host de-duplication rule (``science/host_dedup.py``: catalogue identity, or position within
    1") takes it for, else a new one."""
    from blast_pipeline.db.host_lookup import find_stored_host
    from blast_pipeline.science.host_dedup import HostConflictError, HostRecord

    if not host:
        return None
    f = host["fields"]
    if f.get("name"):
        existing = session.scalar(select(Host).where(Host.name == f["name"]))
        if existing is not None:
            return existing
    try:
        candidate = HostRecord(
            ra_deg=float(f["ra_deg"]),
            dec_deg=float(f["dec_deg"]),
            object_id=f.get("object_id") or "",
            catalog_name=f.get("catalog_name") or "",
            catalog_release=f.get("catalog_release") or "",
        )
        decision, stored = find_stored_host(session, candidate)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, HostConflictError):
            raise DatasetError(f"{what}: host {f.get('name')!r}: {exc}") from None
        raise DatasetError(f"{what}: host without a valid position ({exc})") from None
    if stored is not None:
        if decision.action == "adopt":  # a stored host without catalogue identity: fill it in
            for key in ("name", "object_id", "catalog_name", "catalog_release"):
                setattr(stored, key, getattr(stored, key) or f.get(key))
        return stored
    row = Host(**{field.column: f.get(field.name) for field in _HOST_FIELDS})
    row.software_version = row.software_version or __version__
    session.add(row)
    session.flush()
    for alias in f.get("aliases") or []:
        session.add(Alias(alias=alias, host_id=row.id))
    return row


def _import_sed(session, r, transient, aperture, sfh_rows) -> None:
    f = r["fields"]
    kind = f.get("aperture_type") or (aperture.type if aperture is not None else None)
    if kind not in ("local", "global"):
        raise DatasetError(f"SED result {r.get('pk')}: unknown aperture type {kind!r}")
    row = SEDFittingResult(
        transient_id=transient.id,
        aperture_id=None if aperture is None else aperture.id,
        aperture_type=kind,
        software_version=f.get("software_version") or __version__,
        **{k: f.get(k) for k in (*SED_FILE_FIELDS, *SED_VALUE_COLUMNS)},
    )
    session.add(row)
    session.flush()
    for pk in f.get("logsfh") or []:
        s = sfh_rows[pk]["fields"]
        session.add(
            StarFormationHistoryResult(
                transient_id=transient.id,
                sed_fitting_result_id=row.id,
                **{k: s.get(k) for k in _SFH_VALUES},
            )
        )


def _restore_registers(session, transient, tasks: list[dict[str, Any]], what: str) -> None:
    from blast_pipeline.db.reference_rows import ensure_tasks

    statuses = {s.message: s for s in session.scalars(select(Status))}
    rows = ensure_tasks(session, [t["task_name"] for t in tasks])
    for item in tasks:
        message = item["status"]["message"]
        if message not in statuses:
            raise DatasetError(f"{what}: task {item['task_name']!r} has unknown status {message!r}")
        session.add(
            TaskRegister(
                transient_id=transient.id,
                task_id=rows[item["task_name"]].id,
                status_id=statuses[message].id,
                user_warning=bool(item.get("user_warning")),
                last_modified=_parse_time(item.get("last_modified"), what) or datetime.now(UTC),
                last_processing_time_seconds=item.get("last_processing_time_seconds"),
            )
        )


def _parse_time(value: str | None, what: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise DatasetError(f"{what}: bad timestamp {value!r}") from None
