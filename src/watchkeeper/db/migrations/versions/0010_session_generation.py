"""session generation: a per-user token version that ends every session when bumped

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(
            sa.Column("user_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("user_version")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
