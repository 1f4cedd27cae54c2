"""incidents, timeline, correlation, classification

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_alertname_firings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alertname", sa.String(length=200), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_alertname_firings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_alertname_firings")),
        sa.UniqueConstraint("tenant_id", "alertname", name="uq_incident_alertname_firings_name"),
    )
    with op.batch_alter_table("incident_alertname_firings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_alertname_firings_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "incident_category_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_category_corrections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_category_corrections")),
    )
    with op.batch_alter_table("incident_category_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_category_corrections_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "incident_cooccurrence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name_a", sa.String(length=200), nullable=False),
        sa.Column("name_b", sa.String(length=200), nullable=False),
        sa.Column("together", sa.Float(), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_cooccurrence_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_cooccurrence")),
        sa.UniqueConstraint("tenant_id", "name_a", "name_b", name="uq_incident_cooccurrence_pair"),
    )
    with op.batch_alter_table("incident_cooccurrence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_cooccurrence_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "incident_correlation_cursors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("last_transition_id", sa.Integer(), nullable=False),
        sa.Column("pending", sa.JSON(), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_correlation_cursors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_correlation_cursors")),
        sa.UniqueConstraint("tenant_id", name="uq_incident_correlation_cursors_tenant"),
    )
    with op.batch_alter_table("incident_correlation_cursors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_correlation_cursors_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("category_confidence", sa.Float(), nullable=False),
        sa.Column("category_source", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=32), nullable=True),
        sa.Column("correlation_key", sa.String(length=500), nullable=False),
        sa.Column("correlation_reason", sa.Text(), nullable=False),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("notify_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incidents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("tenant_id", "number", name="uq_incidents_number"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_incidents_tenant_status", ["tenant_id", "status"], unique=False)

    op.create_table(
        "incident_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("group_name", sa.String(length=200), nullable=False),
        sa.Column("alertname", sa.String(length=200), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_alerts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_alerts")),
        sa.UniqueConstraint("incident_id", "fingerprint", name="uq_incident_alerts_member"),
    )
    with op.batch_alter_table("incident_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_alerts_fingerprint", ["tenant_id", "fingerprint"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_alerts_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_alerts_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_events_incident", ["tenant_id", "incident_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_events_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_events_tenant_id"))
        batch_op.drop_index("ix_incident_events_incident")

    op.drop_table("incident_events")
    with op.batch_alter_table("incident_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_alerts_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_incident_alerts_incident_id"))
        batch_op.drop_index("ix_incident_alerts_fingerprint")

    op.drop_table("incident_alerts")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_tenant_status")
        batch_op.drop_index(batch_op.f("ix_incidents_tenant_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("incident_correlation_cursors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_correlation_cursors_tenant_id"))

    op.drop_table("incident_correlation_cursors")
    with op.batch_alter_table("incident_cooccurrence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_cooccurrence_tenant_id"))

    op.drop_table("incident_cooccurrence")
    with op.batch_alter_table("incident_category_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_category_corrections_tenant_id"))

    op.drop_table("incident_category_corrections")
    with op.batch_alter_table("incident_alertname_firings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_alertname_firings_tenant_id"))

    op.drop_table("incident_alertname_firings")
