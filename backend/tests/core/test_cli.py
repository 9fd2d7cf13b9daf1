"""Operator commands run twice without harm."""

import pytest
import sqlalchemy as sa

from app.auth.models import User
from tests.conftest import unique_email

pytestmark = pytest.mark.postgres


def test_init_db_is_idempotent(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        assert "latest migration" in result.output


def test_create_admin_twice_creates_one_admin(app, db_session):
    email = unique_email("admin")
    runner = app.test_cli_runner()
    args = ["create-admin", "--email", email, "--password", "Sturdy-Ledger-Pass-42"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=args)
    assert second.exit_code == 0, second.output
    assert "already exists" in second.output
    users = db_session.scalars(sa.select(User).where(User.email == email)).all()
    assert len(users) == 1 and users[0].roles == ["admin"]
    assert users[0].password_hash.startswith("$argon2id$")
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_create_admin_prompts_for_missing_values(app, db_session):
    email = unique_email("prompted")
    result = app.test_cli_runner().invoke(
        args=["create-admin"], input=f"{email}\nSturdy-Ledger-Pass-42\nSturdy-Ledger-Pass-42\n"
    )
    assert result.exit_code == 0, result.output
    assert db_session.scalar(sa.select(User).where(User.email == email)).roles == ["admin"]


@pytest.mark.parametrize("role", ["compliance_officer", "card_processor", "customer"])
def test_create_user_with_role_twice(app, db_session, role):
    email = unique_email(role)
    args = ["create-user", "--email", email, "--password", "Sturdy-Ledger-Pass-42", "--role", role]
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
    assert db_session.scalar(sa.select(User).where(User.email == email)).roles == [role]


def test_create_user_refuses_an_unknown_role(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", unique_email(), "--password", "x" * 16, "--role", "root"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output


def test_create_admin_refuses_a_weak_password_and_creates_nobody(app, db_session):
    email = unique_email("weak")
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", email, "--password", "password1234"]
    )
    assert result.exit_code == 1
    assert "does not meet the policy" in result.output
    assert "commonly used" in result.output
    assert db_session.scalar(sa.select(User).where(User.email == email)) is None
