"""customer risk: ratings, periodic reviews, enhanced due diligence, the PEP declaration

Revision ID: 0081
Revises: 0080
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0081"
down_revision = "0080"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("kyc_cases") as batch:
        batch.add_column(
            sa.Column(
                "politically_exposed", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.create_table(
        "customer_risk",
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("rated_at", NOW, nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("next_review_due", sa.Date(), nullable=False),
        sa.Column("edd_status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_customer_risk_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_customer_risk")),
    )
    op.create_index(op.f("ix_customer_risk_level"), "customer_risk", ["level"])
    op.create_index(op.f("ix_customer_risk_next_review_due"), "customer_risk", ["next_review_due"])
    _reviews()
    _edd()


def _reviews():
    op.create_table(
        "risk_reviews",
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_by_id", BIGINT, nullable=True),
        sa.Column("completed_at", NOW, nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["completed_by_id"], ["users.id"], name=op.f("fk_risk_reviews_completed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_risk_reviews_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reviews")),
    )
    op.create_index("ix_risk_reviews_created_public", "risk_reviews", ["created_at", "public_id"])
    op.create_index(op.f("ix_risk_reviews_public_id"), "risk_reviews", ["public_id"], unique=True)
    op.create_index(op.f("ix_risk_reviews_status"), "risk_reviews", ["status"])
    op.create_index(op.f("ix_risk_reviews_user_id"), "risk_reviews", ["user_id"])
    op.create_index(
        "uq_risk_reviews_open",
        "risk_reviews",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'completed'"),
        sqlite_where=sa.text("status <> 'completed'"),
    )


def _edd():
    op.create_table(
        "edd_reviews",
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by_id", BIGINT, nullable=False),
        sa.Column("decided_by_id", BIGINT, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", NOW, nullable=True),
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_edd_reviews_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["users.id"], name=op.f("fk_edd_reviews_proposed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_edd_reviews_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edd_reviews")),
    )
    op.create_index(op.f("ix_edd_reviews_public_id"), "edd_reviews", ["public_id"], unique=True)
    op.create_index(op.f("ix_edd_reviews_user_id"), "edd_reviews", ["user_id"])
    op.create_index(
        "uq_edd_reviews_proposed",
        "edd_reviews",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'proposed'"),
        sqlite_where=sa.text("status = 'proposed'"),
    )


def downgrade():
    op.drop_table("edd_reviews")
    op.drop_table("risk_reviews")
    op.drop_index(op.f("ix_customer_risk_next_review_due"), table_name="customer_risk")
    op.drop_index(op.f("ix_customer_risk_level"), table_name="customer_risk")
    op.drop_table("customer_risk")
    with op.batch_alter_table("kyc_cases") as batch:
        batch.drop_column("politically_exposed")
