"""The durable inbox: ``inbox_events``, Slack requests recorded before they are acknowledged.

Revision ID: inbox
Revises: delivery
"""

import sqlalchemy as sa
from alembic import op

revision = "inbox"
down_revision = "delivery"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
        sa.Column("owner", sa.String(128)),
        sa.Column("lease_until", TZ),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.UniqueConstraint("key", name="uq_inbox_events_key"),
    )
    op.create_index("ix_inbox_events_state_id", "inbox_events", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_events_state_id", table_name="inbox_events")
    op.drop_table("inbox_events")
