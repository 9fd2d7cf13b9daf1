"""The e-mail outbox: an RQ job delivers over SMTP, or logs (masked outside development)."""

import email
import email.policy
import logging
import re
import socket
import time

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.auth.models import EmailOutbox
from tests.auth.helpers import STRONG_PASSWORD, login, registration
from tests.conftest import unique_email
from tests.factories import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode("utf8"))
        )
        return "250 Message accepted for delivery"

    def for_address(self, address: str) -> list[str]:
        return [content for _, rcpts, content in self.messages if address in rcpts]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1, and the app pointed at it."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", port)
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "SMTP_FROM", "Flowlet <no-reply@flowlet.test>")
    yield inbox
    controller.stop()


def _token(content: str) -> str:
    message = email.message_from_string(content, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    return re.search(r"token=([A-Za-z0-9_.\-]+)", text).group(1)


def _wait_for(inbox: Inbox, address: str, count: int = 1) -> list[str]:
    for _ in range(50):
        found = inbox.for_address(address)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no mail for {address}")


def test_registration_mail_is_delivered_by_a_worker_and_verifies(
    client, smtp, run_jobs, db_session
):
    body = registration()
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    assert smtp.for_address(body["email"]) == []  # sent by the worker, not the request
    run_jobs()
    mail = _wait_for(smtp, body["email"])[0]
    assert "Subject: Confirm your e-mail address" in mail
    assert "From: Flowlet <no-reply@flowlet.test>" in mail
    response = client.post("/api/v1/auth/verify-email", json={"token": _token(mail)})
    assert response.status_code == 204
    db_session.expire_all()
    message = db_session.scalar(
        sa.select(EmailOutbox).where(EmailOutbox.to_address == body["email"])
    )
    assert message.status == "sent" and message.sent_at is not None and message.attempts == 1


def test_password_reset_by_mail(client, smtp, run_jobs, db_session):
    user = make_user(db_session)
    session_before = login(client, user.email).get_json()
    answers = []
    for address in (user.email, unique_email("nobody")):
        response = client.post("/api/v1/auth/password-reset/request", json={"email": address})
        assert response.status_code == 202
        answers.append(response.get_data())
    assert answers[0] == answers[1]  # no account enumeration
    run_jobs()
    mail = _wait_for(smtp, user.email)[0]
    token = _token(mail)
    assert len(smtp.messages) == len({m[2] for m in smtp.messages})  # nothing sent twice

    weak = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "password123"}
    )
    assert weak.status_code == 422
    done = client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": STRONG_PASSWORD},
    )
    assert done.status_code == 204
    again = client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": STRONG_PASSWORD},
    )
    assert again.status_code == 422
    assert login(client, user.email, STRONG_PASSWORD).status_code == 200
    # Every session from before the reset is revoked.
    old = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {session_before['access_token']}"}
    )
    assert old.get_json()["error"]["code"] == "token_revoked"


def test_reset_link_expires(client, smtp, run_jobs, db_session, app, clock):
    user = make_user(db_session)
    client.post("/api/v1/auth/password-reset/request", json={"email": user.email})
    run_jobs()
    token = _token(_wait_for(smtp, user.email)[0])
    clock.advance(seconds=app.config["PASSWORD_RESET_SECONDS"] + 1)
    late = client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": STRONG_PASSWORD},
    )
    assert late.status_code == 422


def test_without_smtp_the_message_is_logged_masked_outside_development(
    client, run_jobs, caplog, app, db_session
):
    body = registration()
    assert app.config["SMTP_HOST"] is None
    with caplog.at_level(logging.INFO, logger="flowlet.auth"):
        assert client.post("/api/v1/auth/register", json=body).status_code == 201
        run_jobs()
    records = [r for r in caplog.records if r.name == "flowlet.auth" and "e-mail" in r.getMessage()]
    assert records
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    assert "token=" not in text and body["email"] not in text
    db_session.expire_all()
    message = db_session.scalar(
        sa.select(EmailOutbox).where(EmailOutbox.to_address == body["email"])
    )
    assert message.status == "logged"


def test_without_smtp_in_development_the_message_is_logged_in_full(
    client, run_jobs, caplog, app, monkeypatch
):
    monkeypatch.setitem(app.config, "FLOWLET_ENV", "development")
    body = registration()
    with caplog.at_level(logging.INFO, logger="flowlet.auth"):
        assert client.post("/api/v1/auth/register", json=body).status_code == 201
        run_jobs()
    records = [r for r in caplog.records if getattr(r, "to", None) == body["email"]]
    assert records and "token=" in records[-1].email_body
