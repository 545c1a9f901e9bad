"""One lease table and generic jobs: ``action_leases`` becomes ``leases`` (the nudge sweep's
``nudge_leases`` goes: a sweep is a job now); ``jobs`` gains a unique ``key`` and a
``payload``, its lease columns become ``owner``/``lease_until``, and ``request_id`` is
optional (only access jobs have one) and references its request.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.rename_table("action_leases", "leases")
    with op.batch_alter_table("leases") as batch:
        batch.alter_column("key", new_column_name="name", existing_type=sa.String(200),
                           existing_nullable=False)
        batch.alter_column("holder", type_=sa.String(128), existing_type=sa.String(64),
                           existing_nullable=False)
    op.drop_table("nudge_leases")

    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("key", sa.String(200)))
        batch.add_column(sa.Column("payload", sa.JSON))
        batch.alter_column("lease_owner", new_column_name="owner", type_=sa.String(128),
                           existing_type=sa.String(64))
        batch.alter_column("locked_until", new_column_name="lease_until", existing_type=TZ)
        batch.alter_column("request_id", nullable=True, existing_type=sa.String(32))
        batch.drop_constraint("uq_jobs_request_kind", type_="unique")
    # Every existing job is an access job: its key is its kind and request.
    op.execute("UPDATE jobs SET key = kind || ':' || request_id")
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("key", nullable=False, existing_type=sa.String(200))
        batch.create_unique_constraint("uq_jobs_key", ["key"])
        batch.create_foreign_key(
            "fk_jobs_request_id", "access_requests", ["request_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_jobs_request_id", ["request_id"])


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE request_id IS NULL")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_request_id")
        batch.drop_constraint("fk_jobs_request_id", type_="foreignkey")
        batch.drop_constraint("uq_jobs_key", type_="unique")
        batch.alter_column("request_id", nullable=False, existing_type=sa.String(32))
        batch.alter_column("lease_until", new_column_name="locked_until", existing_type=TZ)
        batch.alter_column("owner", new_column_name="lease_owner", type_=sa.String(64),
                           existing_type=sa.String(128))
        batch.drop_column("payload")
        batch.drop_column("key")
        batch.create_unique_constraint("uq_jobs_request_kind", ["request_id", "kind"])
    op.create_table(
        "nudge_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    with op.batch_alter_table("leases") as batch:
        batch.alter_column("holder", type_=sa.String(64), existing_type=sa.String(128),
                           existing_nullable=False)
        batch.alter_column("name", new_column_name="key", existing_type=sa.String(200),
                           existing_nullable=False)
    op.rename_table("leases", "action_leases")
