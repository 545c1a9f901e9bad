"""Slack profiles and DM channels, shared by replicas: ``slack_profiles``, ``slack_dm_channels``.

Revision ID: delivery
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "delivery"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slack_profiles",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("email_confirmed", sa.Boolean),
        sa.Column("real_name", sa.String(256), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("is_bot", sa.Boolean, nullable=False),
        sa.Column("is_restricted", sa.Boolean, nullable=False),
        sa.Column("is_ultra_restricted", sa.Boolean, nullable=False),
        sa.Column("is_external", sa.Boolean, nullable=False),
        sa.Column("tz", sa.String(64)),
        sa.Column("locale", sa.String(16)),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("stored_at", TZ, nullable=False),
    )
    op.create_index("ix_slack_profiles_email", "slack_profiles", ["email"])
    op.create_table(
        "slack_dm_channels",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_dm_channels")
    op.drop_index("ix_slack_profiles_email", table_name="slack_profiles")
    op.drop_table("slack_profiles")
