"""Audit trail, processed Slack events, pending confirmations, secret messages.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_email", sa.String(320)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64)),
        sa.Column("target_user_id", sa.String(128)),
        sa.Column("target", sa.String(320)),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_records_at", "audit_records", ["at"])
    op.create_index("ix_audit_records_correlation_id", "audit_records", ["correlation_id"])
    op.create_index("ix_audit_actor_action_at", "audit_records", ["actor", "action", "at"])
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_index("ix_processed_events_received_at", "processed_events", ["received_at"])
    op.create_table(
        "pending_actions",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("slack_user", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_index("ix_pending_actions_slack_user", "pending_actions", ["slack_user"])
    op.create_table(
        "secret_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("hide_at", TZ, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("replacement", sa.Text, nullable=False),
    )
    op.create_index("ix_secret_messages_hide_at", "secret_messages", ["hide_at"])


def downgrade() -> None:
    for table in ("secret_messages", "pending_actions", "processed_events", "audit_records"):
        op.drop_table(table)
