"""Atomic upserts of keyed rows: ``INSERT ... ON CONFLICT (key) DO UPDATE`` on SQLite and
PostgreSQL, so two writers of the same key never collide (a select-then-insert does, e.g.
``apertures_name_key`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

M = TypeVar("M")


def upsert(
    session: Session, model: type[M], keys: Mapping[str, Any], values: Mapping[str, Any]
) -> M:
    """Insert the row with ``keys`` (a unique constraint) or update its ``values``; returns the
    row, loaded fresh."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"no atomic upsert for the {dialect!r} database")
    statement = insert(model).values(**keys, **values)
    if values:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=dict(values))
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement)
    where = and_(*(getattr(model, key) == value for key, value in keys.items()))
    return session.scalars(
        select(model).where(where).execution_options(populate_existing=True)
    ).one()
