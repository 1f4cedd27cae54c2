"""alert dispatch: silences and group state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        _tenant_fk("silences"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index("ix_silences_tenant_ends_at", ["tenant_id", "ends_at"])
        batch_op.create_index(batch_op.f("ix_silences_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "alert_handling_configs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        _tenant_fk("alert_handling_configs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_handling_configs")),
        sa.UniqueConstraint("tenant_id", name="uq_alert_handling_configs_tenant"),
    )
    with op.batch_alter_table("alert_handling_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_handling_configs_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "alert_dispatch_state",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("next_flush_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        _tenant_fk("alert_dispatch_state"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_dispatch_state")),
        sa.UniqueConstraint("tenant_id", name="uq_alert_dispatch_state_tenant"),
    )
    with op.batch_alter_table("alert_dispatch_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_dispatch_state_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    for table in ("alert_dispatch_state", "alert_handling_configs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_tenant_id"))
        op.drop_table(table)
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silences_tenant_id"))
        batch_op.drop_index("ix_silences_tenant_ends_at")
    op.drop_table("silences")
