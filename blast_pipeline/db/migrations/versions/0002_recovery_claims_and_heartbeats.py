"""recovery: task claims and run heartbeats

Revision ID: 0002_recovery
Revises: 0001
Create Date: 2026-12-02 07:30:00

* ``task_register.claim``: the token of the task attempt that set the row "processing"; a
  finishing attempt writes its result only while it still holds the claim.
* ``run_heartbeats``: the last sign of life of every workflow run's worker (the retrigger sweep
  fails runs whose heartbeat stopped and retriggers their transients).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_recovery"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_register", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim", sa.String(length=64), nullable=True))
    op.create_table(
        "run_heartbeats",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )


def downgrade() -> None:
    op.drop_table("run_heartbeats")
    with op.batch_alter_table("task_register", schema=None) as batch_op:
        batch_op.drop_column("claim")
