"""sanctions list versions: one active version per source, counts, published date, diffs,
and the screenings with the versions they were made against

Existing versions get their kind from their source (`ofac-sdn:SDN.CSV` → `ofac-sdn`; our CSV
and the demo fixture → `flowlet-csv`) and their alias count from their entries.

Revision ID: 0080
Revises: 0070
Create Date: 2026-12-05 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0080"
down_revision = "0070"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KINDS = ("ofac-sdn", "ofac-cons", "un", "eu", "uk")


def upgrade():
    op.drop_index("uq_sanctions_lists_active", table_name="sanctions_lists")
    with op.batch_alter_table("sanctions_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        for column in ("alias_count", "added_count", "removed_count", "changed_count"):
            batch_op.add_column(sa.Column(column, sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("previous_id", BIGINT, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sanctions_lists_previous_id_sanctions_lists"),
            "sanctions_lists",
            ["previous_id"],
            ["id"],
        )
    _backfill()
    with op.batch_alter_table("sanctions_lists", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=16), nullable=False)
    op.create_index(
        "uq_sanctions_lists_active_kind",
        "sanctions_lists",
        ["kind"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
    _create_changes()
    _create_screenings()


def _backfill():
    bind = op.get_bind()
    lists = sa.table(
        "sanctions_lists",
        sa.column("id", BIGINT),
        sa.column("source", sa.String),
        sa.column("kind", sa.String),
        sa.column("alias_count", sa.Integer),
    )
    entries = sa.table("sanctions_entries", sa.column("list_id", BIGINT), sa.column("aliases"))
    for list_id, source in bind.execute(sa.select(lists.c.id, lists.c.source)).all():
        prefix = (source or "").split(":", 1)[0]
        kind = prefix if prefix in KINDS else "flowlet-csv"
        aliases = bind.execute(sa.select(entries.c.aliases).where(entries.c.list_id == list_id))
        count = sum(len(a or []) for (a,) in aliases)
        bind.execute(
            lists.update().where(lists.c.id == list_id).values(kind=kind, alias_count=count)
        )


def _create_changes():
    op.create_table(
        "sanctions_list_changes",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("list_id", BIGINT, nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.Column("source_uid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=350), nullable=False),
        sa.Column("entry_id", BIGINT, nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["sanctions_entries.id"],
            name=op.f("fk_sanctions_list_changes_entry_id_sanctions_entries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["sanctions_lists.id"],
            name=op.f("fk_sanctions_list_changes_list_id_sanctions_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions_list_changes")),
    )
    op.create_index("ix_sanctions_list_changes_list", "sanctions_list_changes", ["list_id", "id"])
    op.create_index("ix_sanctions_list_changes_entry", "sanctions_list_changes", ["entry_id"])


def _create_screenings():
    op.create_table(
        "sanctions_screenings",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("user_id", BIGINT, nullable=True),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("context", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=350), nullable=False),
        sa.Column("list_ids", sa.JSON(), nullable=False),
        sa.Column("match_count", sa.Integer(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sanctions_screenings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions_screenings")),
    )
    op.create_index(
        "ix_sanctions_screenings_user", "sanctions_screenings", ["user_id", "screened_at"]
    )
    op.create_index(
        "ix_sanctions_screenings_subject", "sanctions_screenings", ["subject", "screened_at"]
    )


def downgrade():
    op.drop_index("ix_sanctions_screenings_subject", table_name="sanctions_screenings")
    op.drop_index("ix_sanctions_screenings_user", table_name="sanctions_screenings")
    op.drop_table("sanctions_screenings")
    op.drop_index("ix_sanctions_list_changes_entry", table_name="sanctions_list_changes")
    op.drop_index("ix_sanctions_list_changes_list", table_name="sanctions_list_changes")
    op.drop_table("sanctions_list_changes")
    op.drop_index("uq_sanctions_lists_active_kind", table_name="sanctions_lists")
    with op.batch_alter_table("sanctions_lists", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sanctions_lists_previous_id_sanctions_lists"), type_="foreignkey"
        )
        for column in ("previous_id", "published_at", "changed_count", "removed_count"):
            batch_op.drop_column(column)
        for column in ("added_count", "alias_count", "kind"):
            batch_op.drop_column(column)
    # Only one version may stay active under the old index: keep the newest.
    op.execute(
        "UPDATE sanctions_lists SET active = false WHERE active AND id <> "
        "(SELECT max(id) FROM sanctions_lists WHERE active)"
    )
    op.create_index(
        "uq_sanctions_lists_active",
        "sanctions_lists",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
