"""audit hardening: chain checkpoints, row salt and seal, per-tenant event ids, retention

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 05:00:00

Existing events keep their global id as their per-tenant `seq` (and each tenant's counter
starts above its highest), so a client that saw an id before the upgrade resumes after it.
Existing audit rows keep their hashes (no salt, the pre-0012 format `verify` still reads);
the head checkpoint is written by the first audited request after the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("salt", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("seal", sa.String(length=64), nullable=True))

    op.create_table(
        "audit_checkpoints",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_checkpoints")),
    )

    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    op.execute("UPDATE event_log SET seq = id")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint("uq_event_log_tenant_seq", ["tenant_id", "seq"])

    op.create_table(
        "event_sequences",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_event_sequences_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_event_sequences")),
    )
    op.execute(
        "INSERT INTO event_sequences (tenant_id, last_seq) "
        "SELECT tenant_id, MAX(seq) FROM event_log GROUP BY tenant_id"
    )

    op.create_table(
        "tenant_retention",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_days", sa.Integer(), nullable=True),
        sa.Column("incidents_days", sa.Integer(), nullable=True),
        sa.Column("anomalies_days", sa.Integer(), nullable=True),
        sa.Column("alert_history_days", sa.Integer(), nullable=True),
        sa.Column("notifications_days", sa.Integer(), nullable=True),
        sa.Column("metrics_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_retention_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_retention")),
        sa.UniqueConstraint("tenant_id", name="uq_tenant_retention_tenant"),
    )
    with op.batch_alter_table("tenant_retention", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tenant_retention_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tenant_retention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_retention_tenant_id"))
    op.drop_table("tenant_retention")
    op.drop_table("event_sequences")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_event_log_tenant_seq", type_="unique")
        batch_op.drop_column("seq")
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("seal")
        batch_op.drop_column("salt")
