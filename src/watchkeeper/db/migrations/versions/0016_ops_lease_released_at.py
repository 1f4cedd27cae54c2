"""worker_leases.released_at: when a replica gave its lease up at a clean shutdown

Additive only (a nullable column), so replicas of the previous release keep working on this
schema during a rolling update (docs/operations.md, "Rolling updates and migrations").

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("worker_leases") as batch:
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_leases") as batch:
        batch.drop_column("released_at")
