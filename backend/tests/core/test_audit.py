"""The audit log: written with the change or not at all, sealed into one chain, verifiable."""

import threading
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from app import create_app
from app.core import audit, uow
from app.core.audit import AuditChainHead, AuditLog, AuditSeal
from app.core.extensions import db
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
    uow.commit(db_session)
    audit.record(db_session, "probe.rolled_back", resource_type="probe", resource_id="p-2")
    db_session.rollback()
    uow.commit(db_session)  # an empty commit must not resurrect the dropped record

    assert _count(db_session, action="probe.rolled_back") == 0
    entry = db_session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "probe.committed").order_by(AuditLog.id.desc())
    ).first()
    # The hashed part holds no personal value; the masked value sits beside it.
    assert entry.changes == {"email": "[personal]", "password": "[REDACTED]", "amount": "10.00"}
    assert entry.personal == {"/email": "j***@example.com"}
    assert audit.join_personal(entry.changes, entry.personal)["email"] == "j***@example.com"
    assert entry.actor_role == "system"
    assert entry.outcome == "success"
    assert entry.seal is None  # written without touching the chain head
    assert audit.verify(db_session).valid
    db_session.expire_all()
    entry = db_session.get(AuditLog, entry.id)
    assert entry.seal is not None and len(entry.hash) == 64 and entry.hash != entry.prev_hash


def test_unknown_logins_and_account_names_are_masked(app):
    with app.app_context():
        masked = audit.mask_pii(
            {
                "reason": "unknown_user",
                "username": "janedoe",
                "name": {"old": "Rent", "new": "Holiday"},
            }
        )
        assert masked == {
            "reason": "unknown_user",
            "username": "j***",
            "name": {"old": "R***", "new": "H***"},
        }
        assert audit.mask_pii({"login": "jane@example.com"}) == {"login": "j***@example.com"}


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
        uow.commit(db.session)
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
    assert entry.personal_digest is not None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged' WHERE id = (SELECT max(id) FROM audit_log)",
        "UPDATE audit_log SET ip = '198.51.100.1' WHERE id = (SELECT max(id) FROM audit_log)",
        "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
        "TRUNCATE audit_log",
        "UPDATE audit_seal SET hash = 'x' WHERE sequence = (SELECT max(sequence) FROM audit_seal)",
        "DELETE FROM audit_seal WHERE sequence = (SELECT max(sequence) FROM audit_seal)",
    ],
)
def test_database_rejects_update_delete_and_truncate(db_session, statement):
    audit.record(db_session, "probe.guard")
    uow.commit(db_session)
    audit.seal(db.engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db_session.execute(sa.text(statement))
    db_session.rollback()


def test_erasing_personal_values_is_the_one_update_allowed(db_session):
    audit.record(db_session, "probe.erase", resource_id="e-1", changes={"email": "a@b.example"})
    uow.commit(db_session)
    db_session.execute(
        sa.text(
            "UPDATE audit_log SET ip = NULL, user_agent = NULL, personal = NULL "
            "WHERE resource_id = 'e-1'"
        )
    )
    uow.commit(db_session)
    assert audit.verify(db_session).valid


def test_concurrent_writers_seal_into_one_chain_with_no_record_lost(app, db_session):
    """32 writers at once (the chain head is never locked by them), a sealer running alongside."""
    before = _count(db_session)
    errors = []
    done = threading.Event()

    def writer(n):
        try:
            with app.app_context():
                for i in range(5):
                    audit.record(db.session, "probe.concurrent", resource_id=f"{n}-{i}")
                    audit.record(db.session, "probe.concurrent.pair", resource_id=f"{n}-{i}")
                    uow.commit(db.session)
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def sealer():
        with app.app_context():
            while not done.is_set():
                audit.seal(db.engine)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(32)]
    sealing = threading.Thread(target=sealer)
    sealing.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    sealing.join()
    assert errors == []
    result = audit.verify(db_session)
    assert result.valid, result.reason
    assert result.unsealed == 0
    assert _count(db_session) == before + 320
    assert result.records_checked == before + 320
    sealed = db_session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditSeal)
        .join(AuditLog, AuditLog.id == AuditSeal.record_id)
        .where(AuditLog.action.like("probe.concurrent%"))
    )
    assert sealed == 320
    head = db_session.scalar(sa.select(AuditChainHead.sequence))
    assert head == result.records_checked


def test_an_open_transaction_holds_back_sealing_and_is_reported_as_unsealed(app, db_session):
    """Records of later transactions wait behind an older open one (that is the xmin rule)."""
    with db.engine.connect() as older:
        older.execute(sa.text("SELECT pg_current_xact_id()"))  # an xid older than what follows
        audit.record(db_session, "probe.behind", resource_id="later")
        uow.commit(db_session)
        result = audit.verify(db_session, settle_seconds=0)
        assert result.valid and result.unsealed >= 1
        assert result.unsealed_oldest_seconds is not None
        later = db_session.scalars(sa.select(AuditLog).where(AuditLog.action == "probe.behind"))
        assert all(row.seal is None for row in later)
        older.rollback()
    result = audit.verify(db_session)
    assert result.valid and result.unsealed == 0


@pytest.fixture
def scratch():
    """A database of its own with five sealed records (tampering needs the triggers off)."""
    name = f"flowlet_tamper_{worker_id()}"
    url = create_pg_database(name)
    app = create_app(make_config(url))
    migrate(app)
    with app.app_context():
        for n in range(5):
            audit.record(db.session, "probe.tamper", resource_id=str(n), changes={"n": n})
            uow.commit(db.session)
        assert audit.verify(db.session).records_checked == 5
        ids = {
            seal.sequence: (seal.record_id, str(log.public_id))
            for seal, log in db.session.execute(
                sa.select(AuditSeal, AuditLog).join(AuditLog, AuditLog.id == AuditSeal.record_id)
            )
        }
        db.session.remove()
        db.engine.dispose()
    try:
        yield app, url.replace("+psycopg", ""), ids
    finally:
        drop_pg_database(name)


def _psql(url, *statements):
    conn = psycopg.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        cur.execute("ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete")
        for statement in statements:
            cur.execute(statement)
    conn.close()


def _verify_cli(app):
    with app.app_context():
        output = app.test_cli_runner().invoke(args=["audit", "verify"])
        result = audit.verify(db.session)
        db.session.remove()
        db.engine.dispose()
    return output, result


def test_audit_verify_cli_names_a_hand_edited_record(scratch):
    app, url, ids = scratch
    ok, _ = _verify_cli(app)
    assert ok.exit_code == 0, ok.output
    assert "audit chain valid: 5 records" in ok.output
    record_id, public_id = ids[3]
    _psql(url, f"""UPDATE audit_log SET changes = '{{"n":99}}' WHERE id = {record_id}""")
    broken, result = _verify_cli(app)
    assert result.valid is False
    assert (result.first_invalid_id, result.first_invalid_sequence) == (public_id, 3)
    assert result.reason == "record content does not match its digest"
    assert broken.exit_code == 1
    assert public_id in broken.output


def test_audit_verify_names_a_deleted_record(scratch):
    app, url, ids = scratch
    record_id, _ = ids[2]
    _psql(url, f"DELETE FROM audit_log WHERE id = {record_id}")
    broken, result = _verify_cli(app)
    assert result.valid is False
    assert result.first_invalid_sequence == 2
    assert "removed" in result.reason
    assert broken.exit_code == 1 and "sequence 2" in broken.output


def test_audit_verify_names_a_record_deleted_with_its_seal(scratch):
    app, url, ids = scratch
    record_id, _ = ids[4]
    _psql(
        url,
        f"DELETE FROM audit_log WHERE id = {record_id}",
        "DELETE FROM audit_seal WHERE sequence = 4",
    )
    _, result = _verify_cli(app)
    assert result.valid is False
    assert result.first_invalid_sequence == 5
    assert result.reason == "sequence gap: expected 4, found 5"


def test_audit_verify_detects_a_deleted_tail_record(scratch):
    app, url, ids = scratch
    record_id, _ = ids[5]
    _psql(
        url,
        f"DELETE FROM audit_log WHERE id = {record_id}",
        "DELETE FROM audit_seal WHERE sequence = 5",
    )
    _, result = _verify_cli(app)
    assert result.valid is False
    assert "removed from the end" in result.reason


def test_audit_verify_names_a_record_inserted_behind_the_chain(scratch):
    """A forged record dated into the sealed past can never be sealed in order: it is named."""
    app, url, ids = scratch
    _psql(
        url,
        "INSERT INTO audit_log (public_id, txid, occurred_at, action, outcome, digest) "
        "SELECT 'aaaaaaaa-0000-0000-0000-000000000001', txid, occurred_at, 'probe.forged', "
        "'success', digest FROM audit_log WHERE id = " + str(ids[2][0]),
        # with a digest that matches its content: only its place gives it away
        f"UPDATE audit_log l SET digest = {audit.DIGEST_SQL} WHERE action = 'probe.forged'",
    )
    broken, result = _verify_cli(app)
    assert result.valid is False
    assert result.first_invalid_id == "aaaaaaaa-0000-0000-0000-000000000001"
    assert "inserted" in result.reason
    assert "aaaaaaaa-0000-0000-0000-000000000001" in broken.output


def test_audit_verify_names_a_record_inserted_with_a_forged_seal(scratch):
    """Slipping a record and a seal into the middle breaks the links after it."""
    app, url, _ids = scratch
    _psql(
        url,
        "UPDATE audit_seal SET sequence = 6 WHERE sequence = 5",
        "UPDATE audit_seal SET sequence = 5 WHERE sequence = 4",
        "UPDATE audit_seal SET sequence = 4 WHERE sequence = 3",
        "INSERT INTO audit_log (public_id, txid, occurred_at, action, outcome, digest) "
        "VALUES ('aaaaaaaa-0000-0000-0000-000000000002', 1, now(), 'probe.forged', 'success', "
        "'" + "d" * 64 + "')",
        "INSERT INTO audit_seal (sequence, record_id, txid, prev_hash, hash, sealed_at) "
        "SELECT 3, id, txid, (SELECT hash FROM audit_seal WHERE sequence = 2), "
        "'" + "e" * 64 + "', now() FROM audit_log WHERE action = 'probe.forged'",
    )
    _, result = _verify_cli(app)
    assert result.valid is False
    assert result.first_invalid_sequence == 3
    assert result.first_invalid_id == "aaaaaaaa-0000-0000-0000-000000000002"


def test_records_written_before_the_sealed_chain_survive_the_upgrade(scratch):
    """Down to the locked chain and up again: the records are re-chained and verify clean."""
    from flask_migrate import downgrade, upgrade

    app, _, _ = scratch
    with app.app_context():
        directory = app.extensions["migrate"].directory
        downgrade(directory=directory, revision="0004")
        upgrade(directory=directory)
        result = audit.verify(db.session)
        db.session.remove()
        db.engine.dispose()
    assert result.valid, result.reason
    assert result.records_checked == 5


def test_32_concurrent_transfers_each_leave_one_sealed_record(app, db_session, monkeypatch):
    """32 transfers at once through the HTTP stack: the chain verifies and no record is lost."""

    from tests.factories import auth_headers, make_user
    from tests.money_helpers import make_account, post, run_threads

    monkeypatch.setitem(app.config, "FRAUD_VELOCITY_MAX", 10_000)
    payers = [make_user(db_session) for _ in range(4)]
    sources = [make_account(db_session, p, balance="100.00") for p in payers]
    headers = [auth_headers(app, p) for p in payers]
    source_ids = [str(s.public_id) for s in sources]
    target = str(make_account(db_session, make_user(db_session)).public_id)
    barrier = threading.Barrier(32)
    created: list[str] = []
    failures: list[dict] = []

    def pay(i: int) -> None:
        body = {
            "from_account_id": source_ids[i % 4],
            "to_account_id": target,
            "amount": "1.00",
            "currency": "USD",
            "description": f"chain-{i}",
        }
        barrier.wait()
        response = post(app.test_client(), "/api/v1/transactions/transfer", headers[i % 4], body)
        if response.status_code == 201:
            created.append(response.json["id"])
        else:
            failures.append(response.json)

    run_threads([threading.Thread(target=pay, args=(i,)) for i in range(32)])
    assert failures == [] and len(created) == 32
    result = audit.verify(db_session)
    assert result.valid, result.reason
    sealed = db_session.scalars(
        sa.select(AuditLog)
        .join(AuditSeal, AuditSeal.record_id == AuditLog.id)
        .where(AuditLog.action == "transaction.transfer", AuditLog.resource_id.in_(created))
    ).all()
    assert sorted(r.resource_id for r in sealed) == sorted(created)


def test_an_unknown_login_and_an_account_name_are_not_kept_in_clear(app, client, db_session):
    """Issue: the audit log kept attempted unknown logins and account names in clear."""
    from tests.factories import auth_headers, make_user
    from tests.money_helpers import make_account

    attempted = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    response = client.post("/api/v1/auth/login", json={"login": attempted, "password": "x" * 12})
    assert response.status_code == 401
    user = make_user(db_session)
    account = make_account(db_session, user)
    renamed = client.patch(
        f"/api/v1/accounts/{account.public_id}",
        json={"name": "Holiday fund for Jane Roe"},
        headers=auth_headers(app, user),
    )
    assert renamed.status_code == 200, renamed.json
    rows = db_session.execute(
        sa.text(
            "SELECT coalesce(changes::text, '') || coalesce(personal::text, '') FROM audit_log "
            "WHERE action IN ('auth.login', 'account.renamed') ORDER BY id DESC LIMIT 50"
        )
    ).scalars()
    text = " ".join(rows)
    assert attempted not in text and "Holiday fund" not in text and "Jane Roe" not in text
    assert "n***@example.com" in text and "H***" in text
