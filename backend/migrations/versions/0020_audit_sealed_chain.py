"""audit log chained after commit by a sealer; personal values kept beside the hashed record

Writers no longer lock `audit_chain_head`: each record carries its transaction id and the
SHA-256 digest of its canonical form, and `audit_seal` chains committed records in
`(txid, id)` order. `ip`, `user_agent` and the personal values of `changes` leave the hashed
part (their keyed digest stays in it), so erasure can clear them.

Existing records are checked against the old chain first (the upgrade stops on a broken chain),
then digested and sealed in their old order.

Revision ID: 0020
Revises: 0031
Create Date: 2026-12-01 19:30:00

"""

import hashlib
import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0031"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
OLD_FIELDS = (
    "public_id",
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "changes",
)
NEW_FIELDS = (
    "public_id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "changes",
    "personal_digest",
)


def _time(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _old_hash(prev_hash, row):
    doc = {}
    for name in OLD_FIELDS:
        value = row[name]
        if name == "occurred_at":
            value = _time(value)
        elif name == "public_id":
            value = str(uuid.UUID(str(value)))
        doc[name] = value
    return hashlib.sha256(prev_hash.encode() + b"\n" + _json(doc).encode()).hexdigest()


def _new_digest(row, changes_text):
    parts = []
    for name in NEW_FIELDS:
        value = row.get(name)
        if name == "changes":
            parts.append(changes_text if changes_text is not None else "null")
        elif value is None:
            parts.append("null")
        else:
            if name == "occurred_at":
                value = _time(value)
            elif name == "public_id":
                value = str(uuid.UUID(str(value)))
            parts.append(json.dumps(str(value), ensure_ascii=False))
    return hashlib.sha256(("[" + ", ".join(parts) + "]").encode()).hexdigest()


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"

    op.create_table(
        "audit_seal",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_audit_seal")),
        sa.UniqueConstraint("record_id", name=op.f("uq_audit_seal_record_id")),
    )
    with op.batch_alter_table("audit_chain_head") as batch_op:
        batch_op.add_column(
            sa.Column("last_txid", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("last_record_id", sa.BigInteger(), nullable=False, server_default="0")
        )

    _drop_guard(pg)
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("personal", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("personal_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))

    # Check the old chain, then digest and seal every record in its old order.
    log = sa.table(
        "audit_log",
        *[sa.column(n) for n in OLD_FIELDS],
        sa.column("id"),
        sa.column("prev_hash"),
        sa.column("hash"),
        sa.column("txid"),
        sa.column("digest"),
    )
    rows = bind.execute(
        sa.select(
            *[
                sa.type_coerce(log.c[n], sa.Text).label(n) if n == "changes" else log.c[n]
                for n in OLD_FIELDS
            ],
            log.c.id,
            log.c.prev_hash,
            log.c.hash,
        ).order_by(log.c.sequence)
    ).all()
    prev_old = GENESIS
    prev_new = GENESIS
    seals = []
    now = datetime.now(UTC)
    for number, entry in enumerate(rows, start=1):
        row = entry._asdict()
        raw = row["changes"]
        changes = json.loads(raw) if isinstance(raw, str) else raw  # the driver parses json
        check = {**row, "changes": changes}
        if (
            row["sequence"] != number
            or row["prev_hash"] != prev_old
            or _old_hash(prev_old, check) != row["hash"]
        ):
            raise RuntimeError(
                f"audit chain broken at sequence {row['sequence']} ({row['public_id']}); "
                "run `flask audit verify` on the previous release before upgrading"
            )
        prev_old = row["hash"]
        changes_text = _json(changes) if changes is not None else None
        digest = _new_digest({**row, "personal_digest": None}, changes_text)
        update = {"txid": 0, "digest": digest}
        if pg:
            bind.execute(
                sa.text(
                    "UPDATE audit_log SET txid = 0, digest = :digest, "
                    "changes = CAST(:changes AS JSON) WHERE id = :id"
                ),
                {"digest": digest, "changes": changes_text, "id": row["id"]},
            )
        else:
            bind.execute(
                sa.text(
                    "UPDATE audit_log SET txid = 0, digest = :digest, changes = :changes "
                    "WHERE id = :id"
                ),
                {**update, "changes": changes_text, "id": row["id"]},
            )
        prev_new_hash = hashlib.sha256(f"{prev_new}\n{number}\n{digest}".encode()).hexdigest()
        seals.append(
            {
                "sequence": number,
                "record_id": row["id"],
                "txid": 0,
                "prev_hash": prev_new,
                "hash": prev_new_hash,
                "sealed_at": now,
            }
        )
        prev_new = prev_new_hash
    if seals:
        seal = sa.table(
            "audit_seal",
            sa.column("sequence"),
            sa.column("record_id"),
            sa.column("txid"),
            sa.column("prev_hash"),
            sa.column("hash"),
            sa.column("sealed_at", sa.DateTime(timezone=True)),
        )
        op.bulk_insert(seal, seals)
    last_id = rows[-1].id if rows else 0
    # Legacy records all carry txid 0: their (txid, id) order is their id order.
    bind.execute(
        sa.text(
            "UPDATE audit_chain_head SET sequence = :seq, hash = :hash, last_txid = 0, "
            "last_record_id = :last WHERE id = 1"
        ),
        {"seq": len(seals), "hash": prev_new, "last": max((r.id for r in rows), default=last_id)},
    )

    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.alter_column("txid", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint("uq_audit_log_sequence", type_="unique")
        batch_op.drop_constraint("uq_audit_log_hash", type_="unique")
        batch_op.drop_column("sequence")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("hash")
        batch_op.create_index("ix_audit_log_txid_id", ["txid", "id"], unique=False)
    with op.batch_alter_table("audit_chain_head") as batch_op:
        batch_op.alter_column("last_txid", server_default=None)
        batch_op.alter_column("last_record_id", server_default=None)
    _create_guard(pg)


# Only one UPDATE is allowed on audit_log: erasing the personal values kept beside a record
# (ip, user_agent, personal set to NULL, every other column unchanged). audit_seal takes none.
_PG_HASHED = (
    "id",
    "txid",
    "public_id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "personal_digest",
    "digest",
)


def _create_guard(pg):
    if pg:
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _PG_HASHED)
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION audit_log_reject_change() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_log' THEN
                    IF {same}
                       AND NEW.changes::text IS NOT DISTINCT FROM OLD.changes::text
                       AND NEW.ip IS NULL AND NEW.user_agent IS NULL
                       AND NEW.personal IS NULL THEN
                        RETURN NEW;
                    END IF;
                END IF;
                RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in ("audit_log", "audit_seal"):
            op.execute(
                f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change()"
            )
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in (*_PG_HASHED, "changes"))
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            f"WHEN {changed} OR NEW.ip IS NOT NULL OR NEW.user_agent IS NOT NULL "
            "OR NEW.personal IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed'); END"
        )
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_seal_no_{operation.lower()} BEFORE {operation} "
                "ON audit_seal BEGIN SELECT RAISE(ABORT, "
                f"'audit_seal is append-only: {operation} is not allowed'); END"
            )


def _drop_guard(pg):
    if pg:
        for table in ("audit_log", "audit_seal"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
    else:
        for name in ("audit_log_no_update", "audit_log_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for name in ("audit_seal_no_update", "audit_seal_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def downgrade():
    """Back to one locked chain: records re-chained with the old hash in their sealed order."""
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    _drop_guard(pg)
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    rows = bind.execute(
        sa.text(
            "SELECT l.id, l.public_id, l.occurred_at, l.actor_id, l.actor_role, l.action, "
            "l.resource_type, l.resource_id, l.outcome, l.ip, l.user_agent, l.request_id, "
            "l.changes FROM audit_log l LEFT JOIN audit_seal s ON s.record_id = l.id "
            "ORDER BY s.sequence IS NULL, s.sequence, l.txid, l.id"
        )
    ).all()
    prev = GENESIS
    for number, entry in enumerate(rows, start=1):
        row = {**entry._asdict(), "sequence": number}
        if isinstance(row["changes"], str):
            row["changes"] = json.loads(row["changes"])
        digest = _old_hash(prev, row)
        bind.execute(
            sa.text("UPDATE audit_log SET sequence = :n, prev_hash = :p, hash = :h WHERE id = :id"),
            {"n": number, "p": prev, "h": digest, "id": row["id"]},
        )
        prev = digest
    bind.execute(
        sa.text("UPDATE audit_chain_head SET sequence = :n, hash = :h WHERE id = 1"),
        {"n": len(rows), "h": prev},
    )
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_txid_id")
        batch_op.alter_column("sequence", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_audit_log_sequence", ["sequence"])
        batch_op.create_unique_constraint("uq_audit_log_hash", ["hash"])
        batch_op.drop_column("digest")
        batch_op.drop_column("personal_digest")
        batch_op.drop_column("personal")
        batch_op.drop_column("txid")
    with op.batch_alter_table("audit_chain_head") as batch_op:
        batch_op.drop_column("last_record_id")
        batch_op.drop_column("last_txid")
    op.drop_table("audit_seal")
    if pg:
        op.execute(
            """
            CREATE OR REPLACE FUNCTION audit_log_reject_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {operation} is not "
                "allowed'); END"
            )
