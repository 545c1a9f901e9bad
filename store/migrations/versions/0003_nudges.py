"""Password-expiry nudges: one row per user, password and threshold; runs; the sweep lease;
the cached Slack directory (email to user id) and how far its listing got.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "password_nudges",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("password_version", sa.String(64), primary_key=True),
        sa.Column("threshold", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("slack_user", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("ts", sa.String(32)),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("claimed_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
    )
    op.create_index("ix_password_nudges_run_id", "password_nudges", ["run_id"])
    op.create_index(
        "ix_password_nudges_state_claimed", "password_nudges", ["state", "claimed_at"]
    )
    op.create_table(
        "nudge_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("slot", TZ),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_nudge_runs_slot", "nudge_runs", ["slot"])
    op.create_index("ix_nudge_runs_started_at", "nudge_runs", ["started_at"])
    op.create_table(
        "nudge_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_table(
        "slack_directory",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("user_id", sa.String(64)),
        sa.Column("seen_at", TZ, nullable=False),
    )
    op.create_index("ix_slack_directory_seen_at", "slack_directory", ["seen_at"])
    op.create_table(
        "slack_directory_listing",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.Text),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("completed_at", TZ),
    )


def downgrade() -> None:
    op.drop_index("ix_nudge_runs_started_at", table_name="nudge_runs")
    op.drop_index("ix_nudge_runs_slot", table_name="nudge_runs")
    op.drop_index("ix_password_nudges_state_claimed", table_name="password_nudges")
    op.drop_index("ix_password_nudges_run_id", table_name="password_nudges")
    op.drop_index("ix_slack_directory_seen_at", table_name="slack_directory")
    for table in (
        "slack_directory_listing", "slack_directory", "nudge_leases", "nudge_runs",
        "password_nudges",
    ):
        op.drop_table(table)
