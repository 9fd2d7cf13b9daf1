"""movement engine: running balances on entries, two-phase holds, reversal link, movement
attributes, per-account history indexes, and running counters of customer activity

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-01 19:06:18.637727

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None

_USER_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _with_day(sql: str) -> str:
    """`sql` with DAY standing for the UTC day of `t.created_at` in this dialect."""
    if op.get_bind().dialect.name == "postgresql":
        return sql.replace("DAY", "((t.created_at) AT TIME ZONE 'UTC')::date")
    return sql.replace("DAY", "date(t.created_at)")


def upgrade():
    op.create_table(
        "daily_counters",
        sa.Column("user_id", _USER_ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_daily_counters_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "currency", "direction", "day", name=op.f("pk_daily_counters")
        ),
    )
    op.create_table(
        "payees",
        sa.Column("user_id", _USER_ID, nullable=False),
        sa.Column("beneficiary_key", sa.String(length=64), nullable=False),
        sa.Column("first_paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payees_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "beneficiary_key", name=op.f("pk_payees")),
    )
    op.create_table(
        "recent_activity",
        sa.Column("user_id", _USER_ID, nullable=False),
        sa.Column("last_transfer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfer_times", sa.JSON(), nullable=False),
        sa.Column("recent_amounts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recent_activity_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_recent_activity")),
    )
    with op.batch_alter_table("holds") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("captured_amount", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            "captured_within_held",
            "captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= amount)",
        )
        batch_op.create_index("ix_holds_account_released", ["account_id", "released_at"])
        batch_op.create_index("ix_holds_status_expires", ["status", "expires_at"])
    with op.batch_alter_table("journal_transactions") as batch_op:
        batch_op.add_column(
            sa.Column("attributes", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.drop_index("ix_journal_transactions_from_account_id")
        batch_op.drop_index("ix_journal_transactions_to_account_id")
        batch_op.create_index(
            "ix_journal_transactions_from_created", ["from_account_id", "created_at", "public_id"]
        )
        batch_op.create_index(
            "ix_journal_transactions_to_created", ["to_account_id", "created_at", "public_id"]
        )
        batch_op.create_unique_constraint(
            op.f("uq_journal_transactions_reversal_of_id"), ["reversal_of_id"]
        )
    with op.batch_alter_table("journal_transactions") as batch_op:
        batch_op.alter_column("attributes", server_default=None)
    with op.batch_alter_table("ledger_entries") as batch_op:
        batch_op.add_column(sa.Column("balance_after", sa.BigInteger(), nullable=True))

    # Running balances of the entries already booked on customer accounts.
    op.execute(
        """
        UPDATE ledger_entries SET balance_after = (
            SELECT SUM(e2.amount) FROM ledger_entries e2
            WHERE e2.account_id = ledger_entries.account_id
              AND (e2.created_at < ledger_entries.created_at
                   OR (e2.created_at = ledger_entries.created_at AND e2.id <= ledger_entries.id))
        )
        WHERE account_id IN (SELECT id FROM accounts WHERE system_code IS NULL)
        """
    )
    # Counters of what is already on the books (the rules read them from now on).
    op.execute(
        _with_day(
            """
        INSERT INTO daily_counters (user_id, currency, direction, day, amount, count)
        SELECT a.user_id, t.currency, 'out', DAY, SUM(t.amount), COUNT(*)
        FROM journal_transactions t JOIN accounts a ON a.id = t.from_account_id
        WHERE a.user_id IS NOT NULL AND t.type IN ('transfer', 'withdrawal')
          AND t.status IN ('completed', 'pending', 'pending_review')
        GROUP BY a.user_id, t.currency, DAY
        """
        )
    )
    op.execute(
        _with_day(
            """
        INSERT INTO daily_counters (user_id, currency, direction, day, amount, count)
        SELECT a.user_id, t.currency, 'in', DAY, SUM(t.amount), COUNT(*)
        FROM journal_transactions t JOIN accounts a ON a.id = t.to_account_id
        WHERE a.user_id IS NOT NULL AND t.type = 'deposit' AND t.status = 'completed'
        GROUP BY a.user_id, t.currency, DAY
        """
        )
    )
    op.execute(
        """
        INSERT INTO payees (user_id, beneficiary_key, first_paid_at)
        SELECT a.user_id, t.beneficiary_key, MIN(t.created_at)
        FROM journal_transactions t JOIN accounts a ON a.id = t.from_account_id
        WHERE a.user_id IS NOT NULL AND t.type = 'transfer' AND t.beneficiary_key IS NOT NULL
          AND t.status IN ('completed', 'pending')
        GROUP BY a.user_id, t.beneficiary_key
        """
    )


def downgrade():
    with op.batch_alter_table("ledger_entries") as batch_op:
        batch_op.drop_column("balance_after")
    with op.batch_alter_table("journal_transactions") as batch_op:
        batch_op.drop_constraint(op.f("uq_journal_transactions_reversal_of_id"), type_="unique")
        batch_op.drop_index("ix_journal_transactions_to_created")
        batch_op.drop_index("ix_journal_transactions_from_created")
        batch_op.create_index("ix_journal_transactions_to_account_id", ["to_account_id"])
        batch_op.create_index("ix_journal_transactions_from_account_id", ["from_account_id"])
        batch_op.drop_column("attributes")
    with op.batch_alter_table("holds") as batch_op:
        batch_op.drop_index("ix_holds_status_expires")
        batch_op.drop_index("ix_holds_account_released")
        batch_op.drop_constraint("captured_within_held", type_="check")
        batch_op.drop_column("captured_amount")
        batch_op.drop_column("expires_at")
    op.drop_table("recent_activity")
    op.drop_table("payees")
    op.drop_table("daily_counters")
