"""The Blast database: SQLAlchemy models, Alembic migrations, and the queries the tasks share."""

from blast_pipeline.db.engine import (
    BlastDatabase,
    UnmigratedDatabase,
    head_revision,
    normalise_database_url,
)

__all__ = ["BlastDatabase", "UnmigratedDatabase", "head_revision", "normalise_database_url"]
