"""Opening the configured services with errors that name the ``BLAST_*`` variable at fault.

A folder that cannot be created, a database URL that cannot be parsed or reached: one line
naming the variable (``ConfigurationError``), never a traceback; a password in the URL is
never shown.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from blast_pipeline.db import UnmigratedDatabase
from blast_pipeline.resources import ConfigurationError
from blast_pipeline.services import PipelineServices, build_services

if TYPE_CHECKING:
    from blast_pipeline.resources import BlastResource

_URL_HINT = "expected sqlite:///path/to/file.sqlite or postgresql://user@host:port/database"


def open_services(resource: BlastResource, sky_seed: int | None = None) -> PipelineServices:
    """``build_services`` for the resource's settings (another simulated sky's ``sky_seed``
    if given), with the checks above."""
    home = _folder("BLAST_HOME", resource.home)
    if resource.data_root:
        _folder("BLAST_DATA_ROOT", resource.data_root)
    settings = resource.settings()
    if sky_seed is not None:
        settings = replace(settings, sky_seed=sky_seed)
    variable = "BLAST_DATABASE_URL" if resource.database_url else "BLAST_HOME"
    shown = shown_url(settings.database_url) if resource.database_url else str(home)
    try:
        return build_services(settings)
    except UnmigratedDatabase as exc:
        raise ConfigurationError(f"{variable} {shown}: {exc}") from None
    except NoSuchModuleError:
        scheme = settings.database_url.split(":", 1)[0]
        raise ConfigurationError(
            f"{variable} {shown}: unknown database kind {scheme!r}; {_URL_HINT}"
        ) from None
    except ArgumentError:
        raise ConfigurationError(f"{variable} is not a database URL; {_URL_HINT}") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise ConfigurationError(
            f"{variable} {shown}: cannot open the database: {reason}"
        ) from None
    except OSError as exc:
        where = exc.filename or shown
        raise ConfigurationError(
            f"{variable} {shown}: cannot use {where}: {exc.strerror or exc}"
        ) from None


def _folder(variable: str, value: str) -> Path:
    path = Path(value).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigurationError(f"{variable} {path}: exists and is not a folder") from None
    except OSError as exc:
        raise ConfigurationError(
            f"{variable} {path}: cannot create the folder: {exc.strerror or exc}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{variable} {path}: the folder is not writable")
    return path


def shown_url(url: str) -> str:
    """The URL with any password hidden (or just its scheme when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split(":", 1)[0] + ":…"
