"""The audit log: written with the change or not at all, chained, append-only, verifiable."""

import threading

import psycopg2
import pytest
import sqlalchemy as sa

from app import create_app
from app.core import audit
from app.core.audit import AuditChainHead, AuditLog
from app.extensions import db
from tests.conftest import create_pg_database, drop_pg_database, make_config, migrate, worker_id

pytestmark = pytest.mark.postgres


def _count(session, **where):
    query = sa.select(sa.func.count()).select_from(AuditLog)
    for key, value in where.items():
        query = query.where(getattr(AuditLog, key) == value)
    return session.scalar(query)


def test_committed_change_has_its_record_and_rolled_back_change_has_none(db_session):
    audit.record(
        db_session,
        "probe.committed",
        resource_type="probe",
        resource_id="p-1",
        changes={"email": "jane.doe@example.com", "password": "hunter2", "amount": "10.00"},
    )
    db_session.commit()
    audit.record(db_session, "probe.rolled_back", resource_type="probe", resource_id="p-2")
    db_session.rollback()
    db_session.commit()  # an empty commit must not resurrect the dropped record

    assert _count(db_session, action="probe.rolled_back") == 0
    entry = db_session.scalars(
        sa.select(AuditLog)
        .where(AuditLog.action == "probe.committed")
        .order_by(AuditLog.sequence.desc())
    ).first()
    assert entry.changes == {
        "email": "j***@example.com",
        "password": "[REDACTED]",
        "amount": "10.00",
    }
    assert entry.actor_role == "system"
    assert entry.outcome == "success"
    assert len(entry.hash) == 64 and entry.hash != entry.prev_hash
    assert audit.verify(db_session).valid


def test_record_carries_request_context(app, client, db_session):
    # /health writes nothing; drive a record through a real request context instead.
    with app.test_request_context(
        "/x",
        headers={"X-Request-ID": "rid-audit-1", "User-Agent": "pytest-agent/1.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    ):
        from flask import g

        g.request_id = "rid-audit-1"
        from app.core import context

        context.set_actor("11111111-1111-1111-1111-111111111111", "customer")
        audit.record(db.session, "probe.request", resource_type="probe", resource_id="r-1")
        db.session.commit()
        db.session.remove()
    entry = db_session.scalars(
        sa.select(AuditLog).where(AuditLog.request_id == "rid-audit-1")
    ).one()
    assert (entry.ip, entry.user_agent, entry.actor_role) == (
        "203.0.113.7",
        "pytest-agent/1.0",
        "customer",
    )
    assert entry.actor_id == "11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged' WHERE sequence = (SELECT max(sequence) FROM audit_log)",  # noqa: E501
        "DELETE FROM audit_log WHERE sequence = (SELECT max(sequence) FROM audit_log)",
        "TRUNCATE audit_log",
    ],
)
def test_database_rejects_update_delete_and_truncate(db_session, statement):
    audit.record(db_session, "probe.guard")
    db_session.commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db_session.execute(sa.text(statement))
    db_session.rollback()


def test_concurrent_writers_keep_one_unbroken_chain(app, db_session):
    before = db_session.scalar(sa.select(AuditChainHead.sequence))
    errors = []

    def writer(n):
        try:
            with app.app_context():
                for i in range(10):
                    audit.record(db.session, "probe.concurrent", resource_id=f"{n}-{i}")
                    audit.record(db.session, "probe.concurrent.pair", resource_id=f"{n}-{i}")
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db_session.expire_all()
    assert db_session.scalar(sa.select(AuditChainHead.sequence)) == before + 160
    result = audit.verify(db_session)
    assert result.valid, result.reason
    assert result.records_checked == before + 160


def test_audit_verify_cli_catches_a_hand_edited_record():
    """Tamper with a record behind the trigger's back: `flask audit verify` exits 1 naming it."""
    name = f"flowlet_tamper_{worker_id()}"
    url = create_pg_database(name)
    try:
        app = create_app(make_config(url))
        migrate(app)
        with app.app_context():
            for n in range(5):
                audit.record(db.session, "probe.tamper", resource_id=str(n), changes={"n": n})
                db.session.commit()
            runner = app.test_cli_runner()
            ok = runner.invoke(args=["audit", "verify"])
            assert ok.exit_code == 0, ok.output
            assert "audit chain valid: 5 records" in ok.output
            victim = db.session.scalars(sa.select(AuditLog).where(AuditLog.sequence == 3)).one()
            victim_id = str(victim.public_id)
            db.engine.dispose()

        conn = psycopg2.connect(url.replace("+psycopg2", ""))
        with conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
            cur.execute("""UPDATE audit_log SET changes = '{"n": 99}' WHERE sequence = 3""")
            cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
        conn.close()

        with app.app_context():
            broken = app.test_cli_runner().invoke(args=["audit", "verify"])
            result = audit.verify(db.session)
            db.engine.dispose()
        assert result.valid is False
        assert result.first_invalid_id == victim_id
        assert result.first_invalid_sequence == 3
        assert broken.exit_code == 1
        assert victim_id in broken.output
    finally:
        drop_pg_database(name)


def test_audit_verify_detects_a_deleted_tail_record():
    name = f"flowlet_tail_{worker_id()}"
    url = create_pg_database(name)
    try:
        app = create_app(make_config(url))
        migrate(app)
        with app.app_context():
            for n in range(3):
                audit.record(db.session, "probe.tail", resource_id=str(n))
            db.session.commit()
            db.engine.dispose()
        conn = psycopg2.connect(url.replace("+psycopg2", ""))
        with conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
            cur.execute("DELETE FROM audit_log WHERE sequence = 3")
        conn.close()
        with app.app_context():
            result = audit.verify(db.session)
            db.engine.dispose()
        assert result.valid is False
        assert "removed" in result.reason
    finally:
        drop_pg_database(name)
