"""lookup indexes: the per-transient reads of the web API and the host de-duplication

Revision ID: 0003_lookup_indexes
Revises: 0002_recovery
Create Date: 2026-12-02 15:50:00

Neither SQLite nor PostgreSQL indexes a foreign key by itself: with 1,000 stored transients the
science payload scanned ~130,000 apertures and ~240,000 photometry rows per request.
"""

from alembic import op

revision = "0003_lookup_indexes"
down_revision = "0002_recovery"
branch_labels = None
depends_on = None

#: (table, column) of every index, named ``ix_<table>_<column>`` as ``index=True`` names them.
INDEXES = (
    ("apertures", "transient_id"),
    ("aperture_photometry", "transient_id"),
    ("aliases", "transient_id"),
    ("aliases", "host_id"),
    ("star_formation_history_results", "transient_id"),
    ("star_formation_history_results", "sed_fitting_result_id"),
    ("hosts", "dec_deg"),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in INDEXES:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
