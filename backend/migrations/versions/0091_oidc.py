"""Single sign-on (OpenID Connect): linked identities, logins in flight, SSO-only accounts,
the provider's refresh token kept with each SSO session

Revision ID: 0091
Revises: 0090
Create Date: 2026-12-05 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0091"
down_revision = "0090"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.add_column(
        "users",
        sa.Column("sso_only", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("auth_sessions", sa.Column("oidc_provider", sa.String(length=32), nullable=True))
    op.add_column("auth_sessions", sa.Column("oidc_refresh_token", sa.Text(), nullable=True))
    op.create_table(
        "external_identities",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", _ID, nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_external_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identities")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_external_identities_provider")),
    )
    op.create_index(
        op.f("ix_external_identities_public_id"), "external_identities", ["public_id"], unique=True
    )
    op.create_index(
        op.f("ix_external_identities_user_id"), "external_identities", ["user_id"], unique=False
    )
    op.create_table(
        "oidc_logins",
        sa.Column("id", _ID, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=True),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oidc_logins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_logins")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oidc_logins_code_hash")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oidc_logins_state_hash")),
    )
    op.create_index(op.f("ix_oidc_logins_expires_at"), "oidc_logins", ["expires_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_oidc_logins_expires_at"), table_name="oidc_logins")
    op.drop_table("oidc_logins")
    op.drop_index(op.f("ix_external_identities_user_id"), table_name="external_identities")
    op.drop_index(op.f("ix_external_identities_public_id"), table_name="external_identities")
    op.drop_table("external_identities")
    op.drop_column("auth_sessions", "oidc_refresh_token")
    op.drop_column("auth_sessions", "oidc_provider")
    op.drop_column("users", "sso_only")
