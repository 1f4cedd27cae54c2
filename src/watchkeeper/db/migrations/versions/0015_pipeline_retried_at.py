"""notification outbox: `retried_at`, the operator's retry as a field instead of error text

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 11:30:00

Before this, `POST /notifications/{id}/retry` wrote a marker at the start of `last_error`
and the delivery worker read it to let the retried row past the anti-spam gate. Rows that
carry the marker get `retried_at` (their `next_attempt_at`, the time of the retry), so a
retry queued before the upgrade keeps its exemption.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE notification_outbox SET retried_at = next_attempt_at "
        "WHERE last_error LIKE 'retry requested%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_column("retried_at")
