"""Which request claimed a pending action: the same request run again after a crash resumes it.

Revision ID: pending_claims
Revises: inbox
"""

import sqlalchemy as sa
from alembic import op

revision = "pending_claims"
down_revision = "inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pending_actions") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_actions") as batch:
        batch.drop_column("claimed_by")
