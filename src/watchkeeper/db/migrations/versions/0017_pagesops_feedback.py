"""anomaly feedback: operators' true / false positive verdicts on anomaly events

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "anomaly_feedback",
        sa.Column("anomaly_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["anomaly_id"],
            ["anomaly_events.id"],
            name=op.f("fk_anomaly_feedback_anomaly_id_anomaly_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_anomaly_feedback_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("anomaly_id", name=op.f("pk_anomaly_feedback")),
    )
    with op.batch_alter_table("anomaly_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anomaly_feedback_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("anomaly_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomaly_feedback_tenant_id"))
    op.drop_table("anomaly_feedback")
