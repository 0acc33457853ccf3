"""Dagster resources: the one place configuration enters the pipeline.

Every value can come from the environment (``EnvVar``); the defaults give the embedded setup
(SQLite, local files, simulated sky under ``.blast_home``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from blast_pipeline.services import PipelineServices, PipelineSettings

DEFAULT_HOME = ".blast_home"
DEFAULT_WEB_URL = "http://127.0.0.1:8000"
#: Smallest accepted value of the integer variables.
_INT_MINIMUM = {"BLAST_SKY_SEED": 0, "BLAST_WORKFLOW_BATCH_SIZE": 1, "BLAST_API_THREADS": 1}


class ConfigurationError(ValueError):
    """A ``BLAST_*`` variable has an unusable value; the message names the variable."""


class BlastResource(dg.ConfigurableResource):
    """The Blast database, file store and data sources (simulated sky or online services)."""

    home: str = DEFAULT_HOME
    database_url: str = ""
    data_root: str = ""
    sky: str = "simulated"
    #: -1: the seed the simulated sky in BLAST_HOME was created with (42 for a new one).
    sky_seed: int = -1
    cutout_fov_arcsec: float = 360.0
    dust_map_dir: str = ""
    catalog_file: str = ""
    #: Online galaxy catalogue for host matching: glade | legacy_survey | panstarrs ("": GLADE+
    #: online, the sky's catalogue in simulated mode).
    catalog: str = ""
    #: Transients per batch run when several wait for the sensor (1: one run per transient).
    workflow_batch_size: int = 20
    #: Base URL of the project's web service: every partition's metadata links to the
    #: transient's page there (``<web_url>/transients/<name>/``).
    web_url: str = DEFAULT_WEB_URL

    _services: PipelineServices | None = PrivateAttr(default=None)

    def settings(self) -> PipelineSettings:
        home = Path(self.home).expanduser().resolve()
        overrides: dict = {"sky": self.sky}
        if self.sky_seed >= 0:
            overrides["sky_seed"] = self.sky_seed
        overrides["cutout_fov_arcsec"] = self.cutout_fov_arcsec
        if self.database_url:
            overrides["database_url"] = self.database_url
        if self.data_root:
            overrides["data_root"] = Path(self.data_root).expanduser().resolve()
        if self.dust_map_dir:
            overrides["dust_map_dir"] = Path(self.dust_map_dir).expanduser().resolve()
        if self.catalog_file:
            overrides["catalog_file"] = Path(self.catalog_file).expanduser().resolve()
        if self.catalog:
            overrides["catalog"] = self.catalog
        return PipelineSettings.embedded(home, **overrides)

    def services(self) -> PipelineServices:
        """Open (once per process) the database and data sources."""
        if self._services is None:
            from blast_pipeline.config_check import open_services

            self._services = open_services(self)
        return self._services


def _env(name: str, default, resolve: bool = False):
    """``EnvVar(name)`` when the variable is set, so the UI shows where the value came from;
    with ``resolve``, the plain value (for use outside Dagster, e.g. the CLI)."""
    if name in os.environ:
        if isinstance(default, int) and not isinstance(default, bool):
            value = env_number(name, int)  # checked now, so a bad value names its variable
            return value if resolve else dg.EnvVar.int(name)
        return os.environ[name] if resolve else dg.EnvVar(name)
    return default


def env_number(name: str, kind: type[int] | type[float]) -> int | float:
    """The variable as a plain ASCII number (``ConfigurationError`` naming it otherwise)."""
    raw = os.environ[name].strip()
    pattern = r"[+-]?[0-9]+" if kind is int else r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    if not re.fullmatch(pattern, raw):
        what = "an integer" if kind is int else "a number"
        raise ConfigurationError(f"{name} must be {what}, got {os.environ[name]!r}")
    value = kind(raw)
    minimum = _INT_MINIMUM.get(name, 0)
    if value < minimum or (kind is float and value == 0):
        raise ConfigurationError(
            f"{name} must be {'>=' if kind is int else '>'} {minimum}, got {raw}"
        )
    return value


def blast_resource_from_env(resolve: bool = False) -> BlastResource:
    """The resource as configured by ``BLAST_*`` environment variables (see README).

    ``resolve=True`` reads the values now (outside Dagster); otherwise set variables become
    ``EnvVar`` references that Dagster resolves at run time.
    """
    return BlastResource(
        home=_env("BLAST_HOME", DEFAULT_HOME, resolve),
        database_url=_env("BLAST_DATABASE_URL", "", resolve),
        data_root=_env("BLAST_DATA_ROOT", "", resolve),
        sky=_env("BLAST_SKY", "simulated", resolve),
        sky_seed=_env("BLAST_SKY_SEED", -1, resolve),
        cutout_fov_arcsec=(
            env_number("BLAST_CUTOUT_FOV_ARCSEC", float)
            if "BLAST_CUTOUT_FOV_ARCSEC" in os.environ
            else 360.0
        ),
        dust_map_dir=_env("BLAST_DUST_MAP_DIR", "", resolve),
        catalog_file=_env("BLAST_CATALOG_FILE", "", resolve),
        catalog=_env("BLAST_CATALOG", "", resolve),
        workflow_batch_size=_env("BLAST_WORKFLOW_BATCH_SIZE", 20, resolve),
        web_url=_env("BLAST_WEB_URL", DEFAULT_WEB_URL, resolve),
    )
