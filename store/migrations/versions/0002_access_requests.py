"""Group access requests: the request state machine, approvers, decisions, message refs, jobs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _request_fk() -> sa.ForeignKey:
    return sa.ForeignKey("access_requests.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("requester_email", sa.String(320), nullable=False),
        sa.Column("directory_user_id", sa.String(128), nullable=False),
        sa.Column("group_key", sa.String(128), nullable=False),
        sa.Column("group_name", sa.String(256), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_group", sa.String(256), nullable=False),
        sa.Column("provider_group_id", sa.String(256), nullable=False),
        sa.Column("justification", sa.Text),
        sa.Column("duration_seconds", sa.Integer),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("approvals_required", sa.Integer, nullable=False),
        sa.Column("approvals", sa.Integer, nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("reason", sa.Text),
        # "<requester>:<group>" while pending or approved, NULL afterwards: the unique
        # constraint keeps one open request per person and group, across replicas.
        sa.Column("open_key", sa.String(200), unique=True),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("decided_at", TZ),
        sa.Column("fulfilled_at", TZ),
        sa.Column("access_until", TZ),
        sa.Column("revoked_at", TZ),
    )
    op.create_index("ix_access_requests_requester", "access_requests", ["requester"])
    op.create_index("ix_access_requests_state", "access_requests", ["state"])
    op.create_table(
        "access_approvers",
        sa.Column("request_id", sa.String(32), _request_fk(), primary_key=True),
        sa.Column("approver", sa.String(64), primary_key=True),
    )
    op.create_index("ix_access_approvers_approver", "access_approvers", ["approver"])
    op.create_table(
        "access_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), _request_fk(), nullable=False),
        sa.Column("approver", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", TZ, nullable=False),
        sa.UniqueConstraint("request_id", "approver", name="uq_access_decisions_request_approver"),
    )
    op.create_table(
        "access_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), _request_fk(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(64)),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
    )
    op.create_index("ix_access_messages_request_id", "access_messages", ["request_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("locked_until", TZ),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.UniqueConstraint("request_id", "kind", name="uq_jobs_request_kind"),
    )
    op.create_index("ix_jobs_state_run_at", "jobs", ["state", "run_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_state_run_at", table_name="jobs")
    for table in (
        "jobs", "access_messages", "access_decisions", "access_approvers", "access_requests"
    ):
        op.drop_table(table)
