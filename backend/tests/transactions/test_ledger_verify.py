"""`flask ledger verify` recomputes balances from the entries and names any difference."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core import uow
from app.ledger.accounts import Account
from tests.factories import make_user
from tests.money_helpers import make_account

pytestmark = pytest.mark.postgres


def test_verify_names_a_tampered_account(app, db_session):
    account = make_account(db_session, make_user(db_session), balance="10.00")
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["ledger", "verify"])
    assert clean.exit_code == 0 and "ledger consistent" in clean.output
    db_session.execute(
        sa.update(Account).where(Account.id == account.id).values(balance=Account.balance + 1)
    )
    uow.commit(db_session)
    try:
        broken = runner.invoke(args=["ledger", "verify"])
        assert broken.exit_code == 1
        assert account.account_number in broken.output
        assert "balance 1001 != ledger 1000" in broken.output
    finally:
        db_session.execute(sa.update(Account).where(Account.id == account.id).values(balance=1000))
        uow.commit(db_session)
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


def test_the_database_refuses_an_overdraft(app, db_session):
    account = make_account(db_session, make_user(db_session), balance="10.00")
    with pytest.raises(sa.exc.IntegrityError, match="funds_floor"):
        db_session.execute(sa.update(Account).where(Account.id == account.id).values(balance=-1))
        db_session.flush()
    db_session.rollback()
