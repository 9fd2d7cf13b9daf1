"""Transfers: from a customer's account to an account of ours, or out to an IBAN.

The use case resolves the destination and builds the movement; the engine does the rest
(`app.ledger.engine.execute`). An internal transfer completes at once; one to an external IBAN
is held (`pending`) until the settlement job posts it (`settlement.py`).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy.orm import Session

from app.auth import confirmations, passkey_checks
from app.auth.errors import ConfirmationRequired, InvalidToken
from app.auth.models import PaymentConfirmation, User
from app.core import uow
from app.core.errors import ValidationError
from app.core.money import configured_amount, format_amount
from app.ledger import engine, locks
from app.ledger.accounts import Account, SystemAccount
from app.ledger.errors import AccountNotFound, CurrencyMismatch, FreshTokenRequired
from app.ledger.models import JournalTransaction, TxnType

_CUSTOMER = Account.system_code.is_(None)


def _above_step_up(amount: int, currency: str) -> int | None:
    """The step-up threshold when `amount` is above it, else None."""
    threshold = configured_amount(current_app.config["STEP_UP_TRANSFER_THRESHOLD"], currency)
    if threshold is not None and amount > threshold:
        return threshold
    return None


def check_step_up(amount: int, currency: str, fresh: bool) -> None:
    """Amounts above `STEP_UP_TRANSFER_THRESHOLD` need a fresh token (`/auth/step-up`)."""
    threshold = _above_step_up(amount, currency)
    if threshold is not None and not fresh:
        raise FreshTokenRequired(
            f"Amounts above {format_amount(threshold, currency)} {currency} need a fresh "
            "token; use /auth/step-up."
        )


def payee_of(
    *,
    to_account_id: uuid.UUID | None = None,
    to_account_number: str | None = None,
    to_iban: str | None = None,
    beneficiary_name: str | None = None,
) -> dict[str, Any]:
    """A transfer's destination as it is confirmed and compared: exactly what was sent."""
    if to_account_id is not None:
        return {"to_account_id": str(to_account_id)}
    if to_account_number is not None:
        return {"to_account_number": to_account_number}
    return {
        "to_iban": "".join((to_iban or "").split()).upper(),
        "beneficiary_name": beneficiary_name or "",
    }


def confirm_transfer(
    session: Session,
    *,
    user: User,
    kind: str,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    payee: dict[str, Any],
) -> dict[str, Any]:
    """Start the confirmation of a transfer from the caller's account: the passkey will sign
    its amount, currency, account and payee (`auth.confirmations`)."""
    own_account(session, user, account_id, currency)
    return confirmations.create(
        session,
        user=user,
        kind=kind,
        account_id=account_id,
        amount=amount,
        currency=currency,
        payee=payee_of(**payee),
    )


def _require_strong_authentication(
    session: Session, *, user_id: int, amount: int, currency: str, fresh: bool
) -> None:
    """Above `STEP_UP_TRANSFER_THRESHOLD` without a confirmation: a customer with a passkey
    must confirm the payment with it (403 `confirmation_required`); one without keeps the
    fresh token (TOTP or password step-up)."""
    threshold = _above_step_up(amount, currency)
    if threshold is not None and passkey_checks.has_passkey(session, user_id):
        raise ConfirmationRequired(
            f"Amounts above {format_amount(threshold, currency)} {currency} need a "
            "confirmation signed with a passkey; use /transactions/confirmations."
        )
    check_step_up(amount, currency, fresh)


def check_currency(account: Account, currency: str, field: str = "currency") -> None:
    if currency != account.currency:
        raise CurrencyMismatch(
            details={field: [f"The account is in {account.currency}, not {currency}."]}
        )


def own_account(session: Session, user: User, account_id: uuid.UUID, currency: str) -> Account:
    """The caller's account `account_id` in `currency` (anyone else's is "not found")."""
    account = session.scalar(
        sa.select(Account).where(Account.public_id == account_id, Account.user_id == user.id)
    )
    if account is None:
        raise AccountNotFound()
    check_currency(account, currency)
    return account


def _destination(
    session: Session,
    *,
    to_account_id: uuid.UUID | None,
    to_account_number: str | None,
    to_iban: str | None,
) -> tuple[Account | None, str | None]:
    """An account of ours (and the IBAN it was addressed by), or None and an external IBAN."""
    if to_account_id is not None or to_account_number is not None:
        where = (
            Account.public_id == to_account_id
            if to_account_id is not None
            else Account.account_number == to_account_number
        )
        account = session.scalar(sa.select(Account).where(where, _CUSTOMER))
        if account is None:
            raise AccountNotFound("The destination account was not found.")
        return account, None
    try:
        iban = str(IBAN(to_iban or "").compact)
    except SchwiftyException as exc:
        raise ValidationError(
            "The IBAN is not valid.", details={"to_iban": [f"Invalid IBAN: {exc}."]}
        ) from exc
    return session.scalar(sa.select(Account).where(Account.iban == iban, _CUSTOMER)), iban


def _payer(session: Session, user_id: int) -> User:
    """The paying customer, refused (401 `invalid_token`) when disabled or locked since its
    token's session was checked; from the identity map when the accounts' lock loaded it."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.admin_locked_at is not None:
        raise InvalidToken("The token's user is no longer active.")
    return user


def transfer(
    session: Session,
    *,
    user_id: int,
    from_account_id: uuid.UUID,
    amount: int,
    currency: str,
    description: str | None = None,
    to_account_id: uuid.UUID | None = None,
    to_account_number: str | None = None,
    to_iban: str | None = None,
    beneficiary_name: str | None = None,
    fresh: bool = False,
    confirmation: dict[str, Any] | None = None,
) -> JournalTransaction:
    """Move money from the caller's account to an account of ours or out to an IBAN.

    The caller is read as the payer: with its accounts' lock when both accounts are ours (the
    row the lock loaded, no query of its own), and must still be active. A payment
    confirmation (`confirmation`: its id and the passkey's assertion) is spent in the same
    unit of work as the transfer.
    """
    payee = payee_of(
        to_account_id=to_account_id,
        to_account_number=to_account_number,
        to_iban=to_iban,
        beneficiary_name=beneficiary_name,
    )
    if confirmation is None:
        _require_strong_authentication(
            session, user_id=user_id, amount=amount, currency=currency, fresh=fresh
        )
    user, src, dst, iban = _accounts(
        session,
        user_id=user_id,
        from_account_id=from_account_id,
        currency=currency,
        to_account_id=to_account_id,
        to_account_number=to_account_number,
        to_iban=to_iban,
    )
    confirmed = None
    if confirmation is not None:
        confirmed = _spend_confirmation(
            session,
            confirmation,
            user_id=user_id,
            src=src,
            dst=dst,
            lock_first=to_account_id is None,
            amount=amount,
            currency=currency,
            payee=payee,
        )
    if dst is not None and dst.id == src.id:
        raise ValidationError(
            "Source and destination are the same account.",
            details={"to_account_id": ["Must differ from from_account_id."]},
        )
    movement, hold = _movement(
        session, user, src, dst, iban, amount, currency, description, beneficiary_name
    )
    transaction = engine.execute(session, movement, hold=hold).transaction
    if confirmed is not None:
        confirmations.link_transaction(session, confirmed, transaction.public_id)
        uow.commit(session)
    return transaction


def _spend_confirmation(
    session: Session,
    confirmation: dict[str, Any],
    *,
    user_id: int,
    src: Account,
    dst: Account | None,
    lock_first: bool,
    amount: int,
    currency: str,
    payee: dict[str, Any],
) -> PaymentConfirmation:
    """Spend the payment confirmation for exactly this transfer, in its unit of work."""
    if lock_first:
        # The ledger's lock order (accounts, then their customer) before the confirmation
        # locks the customer: two movements of one customer never wait on each other.
        named = [src.public_id] + ([dst.public_id] if dst is not None else [])
        locks.lock_by_public_id(session, named, customer_of=src.public_id)
    return confirmations.consume(
        session,
        user_id=user_id,
        confirmation_id=confirmation["id"],
        credential=confirmation["credential"],
        kind=confirmations.TRANSFER,
        account_id=src.public_id,
        amount=amount,
        currency=currency,
        payee=payee,
    )


def _movement(
    session: Session,
    user: User,
    src: Account,
    dst: Account | None,
    iban: str | None,
    amount: int,
    currency: str,
    description: str | None,
    beneficiary_name: str | None,
) -> tuple[engine.Movement, bool]:
    """The transfer as a movement: to an account of ours, or held to settle out to an IBAN."""
    metadata = {"channel": "transfer", "description": description or "Transfer"}
    if dst is not None:
        check_currency(dst, currency, "to_account_id")
        metadata["beneficiary_key"] = str(dst.public_id)
        credit_id, hold = dst.id, False
    else:
        metadata.update(_outgoing(iban, beneficiary_name))
        credit_id = engine.system_account_id(session, SystemAccount.SETTLEMENT, currency)
        hold = True
    return engine.Movement(
        kind=TxnType.TRANSFER.value,
        debit_account_id=src.id,
        credit_account_id=credit_id,
        amount=amount,
        currency=currency,
        initiator_id=user.id,
        metadata=metadata,
    ), hold


def _accounts(
    session: Session,
    *,
    user_id: int,
    from_account_id: uuid.UUID,
    currency: str,
    to_account_id: uuid.UUID | None,
    to_account_number: str | None,
    to_iban: str | None,
) -> tuple[User, Account, Account | None, str | None]:
    """The payer, the paying account, and the destination: an account of ours, or None and
    the external IBAN. Named by id, both accounts and their payer are locked in one statement."""
    if to_account_id is None:
        user = _payer(session, user_id)
        src = own_account(session, user, from_account_id, currency)
        dst, iban = _destination(
            session, to_account_id=None, to_account_number=to_account_number, to_iban=to_iban
        )
        return user, src, dst, iban
    found = locks.lock_by_public_id(
        session, [from_account_id, to_account_id], customer_of=from_account_id
    )
    paying, dst = found.get(from_account_id), found.get(to_account_id)
    if paying is None or paying.user_id != user_id:
        raise AccountNotFound()
    user = _payer(session, user_id)
    check_currency(paying, currency)
    if dst is None:
        raise AccountNotFound("The destination account was not found.")
    return user, paying, dst, None


def _outgoing(iban: str | None, beneficiary_name: str | None) -> dict[str, str]:
    """What a transfer out to an IBAN carries: it waits (held) for settlement."""
    if not beneficiary_name or iban is None:
        raise ValidationError(
            "A transfer to an IBAN needs the beneficiary's name.",
            details={"beneficiary_name": ["Required with to_iban."]},
        )
    return {
        "beneficiary_key": f"iban:{iban}",
        "counterparty_iban": iban,
        "beneficiary_name": beneficiary_name,
        "hold_reason": "settlement",
        "country": iban[:2],
    }
