"""The transactional outbox: a committed request succeeds whatever Redis does, and its jobs
run once Redis is back (issue: IBAN transfer, register, password reset and change answered
500 with Redis down, and the settlement was never queued again)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from app.auth.models import EmailOutbox
from app.core import uow
from app.core.extensions import db
from app.core.outbox import DONE, PENDING, SENT, JobOutbox, backlog, resolve
from app.core.queue import enqueue, func_path
from app.worker import run_maintenance_round
from tests.auth.helpers import STRONG_PASSWORD, next_ip, registration
from tests.conftest import unique_email
from tests.core.test_queue import record_probe
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user
from tests.money_helpers import assert_ledger_consistent, balance_of, make_account, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

QUEUES = ["default", "sync", "notifications", "maintenance"]


def _work(app) -> None:
    with app.app_context():
        redis = app.extensions["flowlet_redis"]
        SimpleWorker([Queue(q, connection=redis) for q in QUEUES], connection=redis).work(
            burst=True
        )


def _relay(app) -> None:
    """What the worker's relay thread does every second, once, due or not."""
    with app.app_context():
        db.session.execute(
            sa.update(JobOutbox)
            .where(JobOutbox.status == PENDING)
            .values(next_attempt_at=sa.func.now())
        )
        uow.commit(db.session)
    run_maintenance_round(app, QUEUES)


def _rows(app, **where) -> list[JobOutbox]:
    with app.app_context():
        rows = db.session.scalars(sa.select(JobOutbox).filter_by(**where)).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_iban_transfer_with_redis_down_succeeds_and_settles_when_redis_returns(
    outage_app, private_redis
):
    app, client = outage_app, outage_app.test_client()
    with app.app_context():
        user = make_user(db.session)
        src = make_account(db.session, user, balance="100.00")
        headers = auth_headers(app, user)
    private_redis.stop()
    body = {
        "from_account_id": str(src.public_id),
        "to_iban": "GB33BUKB20201555555555",
        "beneficiary_name": "Jane Doe",
        "amount": "40.00",
        "currency": "USD",
    }
    response = post(client, "/api/v1/transactions/transfer", headers, body)
    assert response.status_code == 201, response.json
    assert response.json["status"] == "pending"
    (row,) = _rows(app, owner_id=user.id, func="app.transactions.tasks.settle_external_transfer")
    assert row.status == PENDING and row.queue == "default"

    # Redis still down: the relay backs off and keeps the row.
    _relay(app)
    (row,) = _rows(app, id=row.id)
    assert row.status == PENDING and row.attempts == 1 and row.last_error

    health = client.get("/health/detailed").json
    assert health["components"]["outbox"]["backlog"] >= 1

    private_redis.start()
    _relay(app)
    (row,) = _rows(app, id=row.id)
    assert row.status == SENT
    _work(app)
    shown = client.get(f"/api/v1/transactions/{response.json['id']}", headers=headers).json
    assert shown["status"] == "completed"
    assert balance_of(app, src.public_id) == (6000, 0)
    assert_ledger_consistent(app)


def _emails(app, to: str) -> list[EmailOutbox]:
    with app.app_context():
        rows = db.session.scalars(sa.select(EmailOutbox).filter_by(to_address=to)).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_identity_requests_with_redis_down_succeed_and_mail_goes_out_later(
    outage_app, private_redis
):
    app, client = outage_app, outage_app.test_client()
    with app.app_context():
        user = make_user(db.session)
        email = user.email
        headers = auth_headers(app, user, fresh=True)
    private_redis.stop()
    ip = {"REMOTE_ADDR": next_ip()}

    new = registration()
    assert client.post("/api/v1/auth/register", json=new, environ_base=ip).status_code == 201
    reset = client.post(
        "/api/v1/auth/password-reset/request", json={"email": email}, environ_base=ip
    )
    assert reset.status_code == 202
    changed = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD},
        headers=headers,
        environ_base=ip,
    )
    assert changed.status_code == 204, changed.json

    waiting = _emails(app, new["email"]) + _emails(app, email)
    assert waiting and all(m.status == "pending" for m in waiting)

    private_redis.start()
    _relay(app)
    _work(app)
    delivered = _emails(app, new["email"]) + _emails(app, email)
    assert len(delivered) == len(waiting)
    assert all(m.status == "logged" for m in delivered)  # no SMTP_HOST in tests


def test_a_committed_job_is_pushed_at_once_when_redis_is_up(outage_app):
    app = outage_app
    marker = uuid.uuid4().hex
    with app.app_context():
        job_id = enqueue(db.session, record_probe, marker, queue="maintenance")
        uow.commit(db.session)
        db.session.remove()
    (row,) = _rows(app, id=job_id)
    assert row.status == SENT and row.sent_at is not None
    queue = Queue("maintenance", connection=app.extensions["flowlet_redis"])
    assert queue.fetch_job(job_id).get_status() == "queued"
    # A relay pass does not push a sent row again.
    _relay(app)
    assert queue.count == 1


def test_backlog_and_oldest_age_in_health_and_metrics(outage_app, private_redis):
    app, client = outage_app, outage_app.test_client()
    private_redis.stop()
    with app.app_context():
        enqueue(db.session, record_probe, uuid.uuid4().hex)
        uow.commit(db.session)
        expected = backlog(db.session)
        db.session.remove()
    assert expected.pending >= 1
    outbox = client.get("/health/detailed").json["components"]["outbox"]
    assert outbox["backlog"] >= 1 and outbox["oldest_age_seconds"] >= 0
    text = client.get("/metrics").get_data(as_text=True)
    assert "flowlet_outbox_backlog " in text
    assert "flowlet_outbox_oldest_age_seconds " in text
    value = next(
        line.split()[1] for line in text.splitlines() if line.startswith("flowlet_outbox_backlog ")
    )
    assert float(value) >= 1


def test_job_arguments_must_be_json_values(app):
    with app.app_context(), pytest.raises(TypeError):
        enqueue(db.session, record_probe, object())
    with app.app_context():
        db.session.rollback()
        db.session.remove()


def test_unknown_queue_is_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        enqueue(db.session, record_probe, "x", queue="high")
    with app.app_context():
        db.session.rollback()
        db.session.remove()


def test_register_with_redis_down_in_a_new_email(outage_app, private_redis):
    """The e-mail row and its job are in the same transaction as the user."""
    app, client = outage_app, outage_app.test_client()
    private_redis.stop()
    body = registration(email=unique_email("outage"))
    response = client.post(
        "/api/v1/auth/register", json=body, environ_base={"REMOTE_ADDR": next_ip()}
    )
    assert response.status_code == 201
    (message,) = _emails(app, body["email"])
    rows = _rows(app, func="app.auth.mail.send_outbox_email", status=PENDING)
    (row,) = [r for r in rows if r.args == [message.id]]
    assert row.queue == "notifications" and row.owner_id == message.user_id


def test_a_job_lost_by_redis_is_pushed_again(outage_app, private_redis):
    """Redis restarted without its data: the row was `sent`, the job is gone; the relay
    notices and pushes it again, and the worker's success marks the row done."""
    app = outage_app
    marker = uuid.uuid4().hex
    with app.app_context():
        job_id = enqueue(db.session, record_probe, marker)
        uow.commit(db.session)
        db.session.remove()
    assert _rows(app, id=job_id)[0].status == SENT
    private_redis.stop()
    private_redis.start()  # no persistence: the queued job is gone
    with app.app_context():
        db.session.execute(
            sa.update(JobOutbox)
            .where(JobOutbox.id == job_id)
            .values(sent_at=sa.func.now() - sa.text("interval '1 minute'"))
        )
        uow.commit(db.session)
    _relay(app)  # marks it pending again
    _relay(app)  # and pushes it
    _work(app)
    (row,) = _rows(app, id=job_id)
    assert row.status == DONE and row.finished_at is not None
    with app.app_context():
        assert len(_records_of(marker)) == 1
        db.session.remove()


def _records_of(marker):
    from app.core.audit import AuditLog

    return db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "probe.job", AuditLog.resource_id == marker)
    ).all()


def test_only_task_functions_are_accepted(app):
    def not_a_task():
        return None

    with app.app_context(), pytest.raises(ValueError):
        enqueue(db.session, not_a_task)
    with app.app_context():
        db.session.rollback()
        db.session.remove()


def test_outbox_commands_show_and_relay_the_backlog(outage_app, private_redis):
    app = outage_app
    private_redis.stop()
    with app.app_context():
        job_id = enqueue(db.session, record_probe, uuid.uuid4().hex)
        uow.commit(db.session)
        db.session.remove()
    status = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert status.exit_code == 0 and "pending: " in status.output
    assert int(status.output.split("pending: ")[1].split(",")[0]) >= 1
    private_redis.start()
    with app.app_context():
        db.session.execute(
            sa.update(JobOutbox).where(JobOutbox.id == job_id).values(next_attempt_at=sa.func.now())
        )
        uow.commit(db.session)
    relay = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert relay.exit_code == 0, relay.output
    assert _rows(app, id=job_id)[0].status == SENT


def test_the_queue_module_builds_no_app():
    """Jobs run in the worker's app (`flask worker`), never in one the queue module creates."""
    import ast
    import inspect

    from app.core import queue

    tree = ast.parse(inspect.getsource(queue))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert "create_app" not in imported


@pytest.mark.parametrize(
    ("old_path", "new_path"),
    [
        ("app.auth.tasks.send_outbox_email", "app.auth.mail.send_outbox_email"),
        (
            "app.accounts.tasks.build_statement_document",
            "app.accounts.statements.build_statement_document",
        ),
    ],
)
def test_jobs_stored_under_a_task_s_old_path_still_resolve(old_path, new_path):
    """A job written before its task moved names the old path; it runs the same function."""
    assert resolve(old_path) is resolve(new_path)
    assert func_path(resolve(old_path)) == new_path
