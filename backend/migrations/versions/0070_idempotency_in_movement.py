"""idempotency keys live in the movement's transaction: no claims to take over

A key is now written once, with its response, in the transaction of the change it answers.
Keys still `in_flight` belong to requests whose change never committed (under the claim design
their change flipped them to `committed`): they are removed, so a retry runs. Keys left
`committed` (the change committed, its answer was not kept) stay and answer 409 until they expire.

Revision ID: 0070
Revises: 0060
Create Date: 2026-12-05 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0070"
down_revision = "0060"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM idempotency_keys WHERE status = 'in_flight'")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("claim_token")
        batch.drop_column("claimed_at")


def downgrade():
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
