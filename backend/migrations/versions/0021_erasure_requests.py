"""erasure requests (GDPR article 17) and their decisions

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 19:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "erasure_requests",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "decided_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("hold_reasons", sa.JSON(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_erasure_requests_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_erasure_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    with op.batch_alter_table("erasure_requests") as batch_op:
        batch_op.create_index(
            "ix_erasure_requests_requested_public", ["requested_at", "public_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_erasure_requests_public_id"), ["public_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_erasure_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_erasure_requests_user_id"), ["user_id"], unique=False)


def downgrade():
    op.drop_table("erasure_requests")
