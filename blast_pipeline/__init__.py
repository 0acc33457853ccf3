"""blast-pipeline: Blast's transient host-galaxy workflow, orchestrated by Dagster."""

__version__ = "0.1.0"
