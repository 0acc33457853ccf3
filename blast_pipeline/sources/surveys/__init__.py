"""One client per survey cutout service, each a ``CutoutSource`` (reference section 1.4)."""

from blast_pipeline.sources.surveys.galex import GalexCutouts
from blast_pipeline.sources.surveys.legacy_survey import LegacySurveyCutouts
from blast_pipeline.sources.surveys.panstarrs import PanstarrsCutouts
from blast_pipeline.sources.surveys.sdss import SdssCutouts
from blast_pipeline.sources.surveys.twomass import TwoMassCutouts
from blast_pipeline.sources.surveys.wise import WiseCutouts

__all__ = [
    "GalexCutouts",
    "LegacySurveyCutouts",
    "PanstarrsCutouts",
    "SdssCutouts",
    "TwoMassCutouts",
    "WiseCutouts",
]
