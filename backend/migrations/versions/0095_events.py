"""Events: what happened, in the transaction that made it happen, numbered in commit order

Revision ID: 0095
Revises: 0092
Create Date: 2026-12-05 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0095"
down_revision = "0092"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=48), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("public_id", name=op.f("uq_events_public_id")),
        sa.UniqueConstraint("position", name=op.f("uq_events_position")),
    )
    op.create_index("ix_events_user_position", "events", ["user_id", "position"], unique=False)
    op.create_index("ix_events_audience_position", "events", ["audience", "position"], unique=False)
    op.create_index(
        "ix_events_unsequenced",
        "events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("position IS NULL"),
        sqlite_where=sa.text("position IS NULL"),
    )


def downgrade():
    op.drop_index("ix_events_unsequenced", table_name="events")
    op.drop_index("ix_events_audience_position", table_name="events")
    op.drop_index("ix_events_user_position", table_name="events")
    op.drop_table("events")
