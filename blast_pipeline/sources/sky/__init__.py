"""A seeded, deterministic simulated sky that stands in for the survey services offline.

``SimulatedSky`` implements the cutout, galaxy-catalogue and redshift interfaces of
``blast_pipeline.sources.base`` and records the truth (hosts, fluxes, E(B-V)) for scoring.
"""

from blast_pipeline.sources.sky.population import SimulatedTransient
from blast_pipeline.sources.sky.sky import SimulatedSky, UnknownTransientError

__all__ = ["SimulatedSky", "SimulatedTransient", "UnknownTransientError"]
