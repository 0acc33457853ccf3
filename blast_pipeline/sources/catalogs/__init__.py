"""Galaxy catalogues for host association (``GalaxyCatalogSource`` implementations).

* ``LocalCatalogSource``: a local Parquet/CSV file (our columns, or a GLADE+ extract);
* ``VizierGladeSource``: GLADE+ (VizieR VII/291) by cone search, sizes from HyperLEDA (VII/237);
* ``PanSTARRSCatalogSource``: Pan-STARRS1 DR2 stack detections from the MAST catalogs API;
* ``LegacySurveyCatalogSource``: Legacy Surveys DR10/DR9 Tractor galaxies (NOIRLab Data Lab TAP).
"""

from blast_pipeline.sources.catalogs.legacy_survey import LegacySurveyCatalogSource
from blast_pipeline.sources.catalogs.local import LocalCatalogSource
from blast_pipeline.sources.catalogs.panstarrs import PanSTARRSCatalogSource
from blast_pipeline.sources.catalogs.table import (
    GLADE_PLUS_COLUMNS,
    cone_select,
    empty_galaxy_table,
    glade_plus_to_catalog,
    make_galaxy_table,
)
from blast_pipeline.sources.catalogs.vizier import VizierGladeSource

__all__ = [
    "GLADE_PLUS_COLUMNS",
    "LegacySurveyCatalogSource",
    "LocalCatalogSource",
    "PanSTARRSCatalogSource",
    "VizierGladeSource",
    "cone_select",
    "empty_galaxy_table",
    "glade_plus_to_catalog",
    "make_galaxy_table",
]
