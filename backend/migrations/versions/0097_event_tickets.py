"""Event stream tickets where there is no Redis (the embedded default)

Revision ID: 0097
Revises: 0096
Create Date: 2026-12-05 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0097"
down_revision = "0096"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "event_tickets",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_event_tickets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_event_tickets")),
    )
    op.create_index(op.f("ix_event_tickets_user_id"), "event_tickets", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_event_tickets_expires_at"), "event_tickets", ["expires_at"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_event_tickets_expires_at"), table_name="event_tickets")
    op.drop_index(op.f("ix_event_tickets_user_id"), table_name="event_tickets")
    op.drop_table("event_tickets")
