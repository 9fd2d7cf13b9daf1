"""AML rule settings in the database: proposals and versions (maker-checker), backtests

Version 1 of each rule (the environment's AML_* settings) is written by the reference seeder
(`flask init-db`) or on the first read, not here: the migration does not know the environment.

Revision ID: 0082
Revises: 0081
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0082"
down_revision = "0081"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "aml_rule_versions",
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by_id", _ID, nullable=True),
        sa.Column("decided_by_id", _ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("id", _ID, nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_aml_rule_versions_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["users.id"],
            name=op.f("fk_aml_rule_versions_proposed_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aml_rule_versions")),
        sa.UniqueConstraint("rule", "version", name=op.f("uq_aml_rule_versions_rule")),
    )
    op.create_index(
        "ix_aml_rule_versions_created_public",
        "aml_rule_versions",
        ["created_at", "public_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_aml_rule_versions_status"), "aml_rule_versions", ["status"], unique=False
    )
    op.create_index(
        op.f("ix_aml_rule_versions_public_id"), "aml_rule_versions", ["public_id"], unique=True
    )

    op.create_table(
        "aml_rule_backtests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_aml_rule_backtests_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aml_rule_backtests")),
    )
    op.create_index(
        op.f("ix_aml_rule_backtests_created_at"), "aml_rule_backtests", ["created_at"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_aml_rule_backtests_created_at"), table_name="aml_rule_backtests")
    op.drop_table("aml_rule_backtests")
    op.drop_index(op.f("ix_aml_rule_versions_public_id"), table_name="aml_rule_versions")
    op.drop_index(op.f("ix_aml_rule_versions_status"), table_name="aml_rule_versions")
    op.drop_index("ix_aml_rule_versions_created_public", table_name="aml_rule_versions")
    op.drop_table("aml_rule_versions")
