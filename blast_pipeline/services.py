"""The services a task uses (database, file store, data sources), independent of Dagster.

Dagster resources build one ``PipelineServices`` (see ``resources.py``); benchmarks and plain
Python loops build the same object directly, so the science runs identically with or without
the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from blast_pipeline.db import BlastDatabase
from blast_pipeline.sources.base import CutoutSource, GalaxyCatalogSource, RedshiftSource

SkyMode = Literal["simulated", "online", "none"]

#: Online galaxy catalogues for host matching (``BLAST_CATALOG``), by name.
GALAXY_CATALOGS: tuple[str, ...] = ("glade", "legacy_survey", "panstarrs")
DEFAULT_ONLINE_CATALOG = "glade"


def check_catalog_name(name: str) -> str:
    """The catalogue name, normalised (lower case); ``ValueError`` listing the choices when it
    is not one of ``GALAXY_CATALOGS``. "" means the default."""
    normalised = name.strip().lower()
    if normalised and normalised not in GALAXY_CATALOGS:
        raise ValueError(
            f"unknown galaxy catalogue {name!r} (BLAST_CATALOG); "
            f"expected one of: {', '.join(GALAXY_CATALOGS)}"
        )
    return normalised


def galaxy_catalog_source(name: str) -> GalaxyCatalogSource:
    """The online client of a catalogue in ``GALAXY_CATALOGS`` (``ValueError`` otherwise):
    GLADE+ via VizieR, Legacy Surveys DR10/DR9 via NOIRLab Data Lab, Pan-STARRS1 DR2 via MAST."""
    name = check_catalog_name(name) or DEFAULT_ONLINE_CATALOG
    from blast_pipeline.sources.catalogs import (
        LegacySurveyCatalogSource,
        PanSTARRSCatalogSource,
        VizierGladeSource,
    )

    classes = {
        "glade": VizierGladeSource,
        "legacy_survey": LegacySurveyCatalogSource,
        "panstarrs": PanSTARRSCatalogSource,
    }
    return classes[name]()


@dataclass(frozen=True)
class PipelineSettings:
    """Everything configurable about where data lives and which services answer."""

    database_url: str
    data_root: Path
    sky: SkyMode = "simulated"
    sky_root: Path | None = None
    #: None: the seed the sky under ``sky_root`` was created with, or 42 for a new sky.
    sky_seed: int | None = None
    cutout_fov_arcsec: float = 360.0
    dust_map_dir: Path | None = None
    #: A local galaxy catalogue (Parquet/CSV, see sources/catalogs/local.py) used for host
    #: matching instead of the sky's or VizieR's.
    catalog_file: Path | None = None
    #: An online galaxy catalogue (one of ``GALAXY_CATALOGS``) for host matching. "": GLADE+
    #: online, the sky's own catalogue in simulated mode. ``catalog_file`` wins over it.
    catalog: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalog", check_catalog_name(self.catalog))

    @classmethod
    def embedded(cls, home: Path, **overrides) -> PipelineSettings:
        """The embedded default: SQLite, local files and the simulated sky under ``home``."""
        home = Path(home).resolve()
        values = dict(
            database_url=f"sqlite:///{home / 'blast.sqlite'}",
            data_root=home / "data",
            sky="simulated",
            sky_root=home / "sky",
        )
        values.update(overrides)
        return cls(**values)


@dataclass
class PipelineServices:
    """Live handles: the database, the file store root and the three data sources."""

    settings: PipelineSettings
    database: BlastDatabase
    cutouts: CutoutSource | None = None
    catalogs: GalaxyCatalogSource | None = None
    redshifts: RedshiftSource | None = None
    #: The SED posterior and forward model (``tasks.sed_inference.SEDEngine``); None = the
    #: shipped posterior, loaded once per process on first use.
    sed_engine: Any = None

    @property
    def data_root(self) -> Path:
        return self.settings.data_root

    @property
    def dust_map_dir(self) -> Path | None:
        return self.settings.dust_map_dir


def build_services(settings: PipelineSettings) -> PipelineServices:
    """Open the database and connect the configured data sources. The embedded SQLite database
    is migrated here; any other must already be at head (``UnmigratedDatabase`` otherwise:
    ``blast-pipeline migrate`` is an explicit production step)."""
    database = BlastDatabase(settings.database_url)
    try:
        database.open_for_work()
    except BaseException:
        database.dispose()
        raise
    settings.data_root.mkdir(parents=True, exist_ok=True)
    services = PipelineServices(settings=settings, database=database)
    _attach_sources(services)
    if settings.catalog_file is not None:
        from blast_pipeline.sources.catalogs import LocalCatalogSource

        # indexed once under the data root, which every worker shares
        services.catalogs = LocalCatalogSource(
            settings.catalog_file, cache_dir=settings.data_root / "catalog_index"
        )
    elif settings.catalog and settings.sky != "online":  # online: chosen in _attach_sources
        services.catalogs = galaxy_catalog_source(settings.catalog)
    return services


def _attach_sources(services: PipelineServices) -> None:
    settings = services.settings
    if settings.sky == "simulated":
        try:
            from blast_pipeline.sources.sky import SimulatedSky
        except ImportError:  # the simulated sky is optional until it is installed
            return
        root = settings.sky_root or settings.data_root / "sky"
        seed = settings.sky_seed if settings.sky_seed is not None else stored_sky_seed(root)
        sky = SimulatedSky(root, seed=seed, fov_arcsec=settings.cutout_fov_arcsec)
        services.cutouts = services.catalogs = services.redshifts = sky
        if settings.dust_map_dir is None:
            services.settings = _with(settings, dust_map_dir=sky.write_dust_map())
    elif settings.sky == "none":  # database-only work (tests of the orchestration, CLI listing)
        return
    elif settings.sky == "online":
        from blast_pipeline.sources.online import OnlineCutoutSource, OnlineRedshiftSource

        services.cutouts = OnlineCutoutSource()
        if settings.catalog_file is None:  # else build_services attaches the local file
            services.catalogs = galaxy_catalog_source(settings.catalog)
        services.redshifts = OnlineRedshiftSource()
    else:
        raise ValueError(
            f"unknown sky mode {settings.sky!r}; expected 'simulated', 'online' or 'none'"
        )


DEFAULT_SKY_SEED = 42


def stored_sky_seed(root: Path) -> int:
    """The seed a simulated sky folder was created with (42 when there is none yet)."""
    import json

    from blast_pipeline.sources.sky.sky import MANIFEST_NAME

    try:
        return int(json.loads((root / MANIFEST_NAME).read_text())["seed"])
    except FileNotFoundError:
        return DEFAULT_SKY_SEED
    except (ValueError, KeyError) as exc:
        raise ValueError(f"cannot read the simulated sky's seed in {root}: {exc}") from None


def _with(settings: PipelineSettings, **changes) -> PipelineSettings:
    from dataclasses import replace

    return replace(settings, **changes)
