"""Money-moving use cases: deposits, withdrawals, transfers, reviews, settlement, history.

Each use case is one unit of work: it locks what it changes (the initiating customer's row,
then the customer accounts in ascending id order), checks, posts, audits and commits once.
A refused movement (insufficient funds, limit, frozen account) is audited as a failure in a
transaction of its own and the error is raised to the caller.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from rq import Retry
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy.orm import Session

from app.accounts.errors import AccountNotFound
from app.accounts.models import Account, SystemAccount
from app.accounts.services import get_own_account
from app.auth.models import User
from app.compliance import services as compliance
from app.core import audit
from app.core.db import utcnow
from app.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from app.core.money import configured_amount, format_amount, parse_bound
from app.core.pagination import Page, paginate
from app.core.queue import enqueue
from app.ledger import services as ledger
from app.ledger.errors import AccountFrozen, CurrencyMismatch, FreshTokenRequired
from app.ledger.models import Hold, HoldStatus, JournalTransaction, TxnStatus, TxnType
from app.transactions import fraud, limits
from app.transactions.activity import Activity, outgoing_activity


class TransactionNotFound(NotFound):
    message = "The transaction was not found."


class SettlementRejected(Exception):
    """The outbound payment rail refused a transfer."""


# --- helpers ---------------------------------------------------------------------------------


_LOCK_CUSTOMER = (
    sa.select(User.__table__.c.id)
    .where(User.__table__.c.id == sa.bindparam("user_id"))
    .with_for_update(key_share=True)
)


def _lock_customer(session: Session, user: User) -> None:
    """Serialize one customer's outgoing movements (limits and fraud rules count in turn)."""
    session.connection().execute(_LOCK_CUSTOMER, {"user_id": user.id})


def _activity(session: Session, user: User, currency: str, now: datetime) -> Activity:
    """The customer's outgoing history (one query; call it under the customer's lock)."""
    window = timedelta(seconds=current_app.config["FRAUD_VELOCITY_WINDOW_SECONDS"])
    return outgoing_activity(session, user_id=user.id, currency=currency, now=now, window=window)


def _check_currency(account: Account, currency: str, field: str = "currency") -> None:
    if currency != account.currency:
        raise CurrencyMismatch(
            details={field: [f"The account is in {account.currency}, not {currency}."]}
        )


def _check_step_up(amount: int, currency: str, fresh: bool) -> None:
    threshold = configured_amount(current_app.config["STEP_UP_TRANSFER_THRESHOLD"], currency)
    if threshold is not None and amount > threshold and not fresh:
        raise FreshTokenRequired(
            f"Amounts above {format_amount(threshold, currency)} {currency} need a fresh "
            "token; use /auth/step-up."
        )


def _refused(session: Session, action: str, exc: DomainError, changes: dict) -> None:
    """Audit a refused movement in a transaction of its own (the movement rolled back)."""
    session.rollback()
    audit.record(
        session,
        action,
        resource_type="transaction",
        outcome="failure",
        changes={**changes, "reason": exc.code},
    )
    session.commit()


def _summary(txn: JournalTransaction) -> dict:
    return {
        "type": txn.type,
        "status": txn.status,
        "amount": format_amount(txn.amount, txn.currency),
        "currency": txn.currency,
        "risk_score": txn.risk_score,
        "risk_rules": list(txn.risk_rules or []),
    }


# --- deposits and withdrawals ----------------------------------------------------------------


def deposit(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    reference: str | None = None,
) -> JournalTransaction:
    """Credit the caller's account with money arriving from the external settlement account."""
    account = get_own_account(session, user=user, account_id=account_id)
    _check_currency(account, currency)
    account = ledger.lock_accounts(session, [account.id])[account.id]
    ledger.ensure_can_receive(account)
    return _move_with_outside(
        session,
        user=user,
        account=account,
        txn_type=TxnType.DEPOSIT,
        amount=amount,
        reference=reference,
    )


def withdraw(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    reference: str | None = None,
    fresh: bool = False,
) -> JournalTransaction:
    """Pay money out of the caller's account to the external settlement account."""
    account = get_own_account(session, user=user, account_id=account_id)
    _check_currency(account, currency)
    _check_step_up(amount, currency, fresh)
    try:
        _lock_customer(session, user)
        account = ledger.lock_accounts(session, [account.id])[account.id]
        history = _activity(session, user, currency, utcnow())
        limits.check_outgoing(
            kyc_status=user.kyc_status,
            kyc_level=user.kyc_level,
            currency=currency,
            amount=amount,
            sent_today=history.sent_today,
        )
        ledger.ensure_can_debit(account, amount)
    except DomainError as exc:
        _refused(
            session,
            "transaction.withdrawal",
            exc,
            {"account_id": str(account_id), "amount": format_amount(amount, currency)},
        )
        raise
    return _move_with_outside(
        session,
        user=user,
        account=account,
        txn_type=TxnType.WITHDRAWAL,
        amount=amount,
        reference=reference,
    )


def _move_with_outside(
    session: Session,
    *,
    user: User,
    account: Account,
    txn_type: TxnType,
    amount: int,
    reference: str | None,
) -> JournalTransaction:
    """Post a deposit (money in) or withdrawal (money out) against the settlement account.

    `account` is locked and checked; this writes the movement, audits it and commits.
    """
    incoming = txn_type == TxnType.DEPOSIT
    settlement = ledger.system_account(session, SystemAccount.SETTLEMENT, account.currency)
    txn = JournalTransaction(
        type=txn_type.value,
        status=TxnStatus.COMPLETED.value,
        amount=amount,
        currency=account.currency,
        to_account=account if incoming else None,
        from_account=None if incoming else account,
        initiated_by_id=user.id,
        description=reference or txn_type.value.title(),
        reference=reference,
        risk_rules=[],
    )
    session.add(txn)
    legs = [(settlement, -amount), (account, amount)]
    ledger.post(session, txn, legs if incoming else [(a, -n) for a, n in legs])
    audit.record(
        session,
        f"transaction.{txn_type.value}",
        resource_type="transaction",
        resource=txn,
        changes=_summary(txn),
    )
    ledger.commit(session)
    return txn


# --- transfers -------------------------------------------------------------------------------


@dataclass
class _Destination:
    account: Account | None  # an account of ours, or None for an external IBAN
    iban: str | None = None
    name: str | None = None

    @property
    def key(self) -> str:
        return str(self.account.public_id) if self.account else f"iban:{self.iban}"


def _resolve_destination(
    session: Session,
    *,
    to_account_id: uuid.UUID | None,
    to_account_number: str | None,
    to_iban: str | None,
    beneficiary_name: str | None,
) -> _Destination:
    customer = Account.system_code.is_(None)
    if to_account_id is not None:
        account = session.scalar(
            sa.select(Account).where(Account.public_id == to_account_id, customer)
        )
        if account is None:
            raise AccountNotFound("The destination account was not found.")
        return _Destination(account)
    if to_account_number is not None:
        account = session.scalar(
            sa.select(Account).where(Account.account_number == to_account_number, customer)
        )
        if account is None:
            raise AccountNotFound("The destination account was not found.")
        return _Destination(account)
    try:
        iban = str(IBAN(to_iban or "").compact)
    except SchwiftyException as exc:
        raise ValidationError(
            "The IBAN is not valid.", details={"to_iban": [f"Invalid IBAN: {exc}."]}
        ) from exc
    account = session.scalar(sa.select(Account).where(Account.iban == iban, customer))
    if account is not None:
        return _Destination(account, iban=iban, name=beneficiary_name)
    if not beneficiary_name:
        raise ValidationError(
            "A transfer to an IBAN needs the beneficiary's name.",
            details={"beneficiary_name": ["Required with to_iban."]},
        )
    return _Destination(None, iban=iban, name=beneficiary_name)


def transfer(
    session: Session,
    *,
    user: User,
    from_account_id: uuid.UUID,
    amount: int,
    currency: str,
    description: str | None = None,
    to_account_id: uuid.UUID | None = None,
    to_account_number: str | None = None,
    to_iban: str | None = None,
    beneficiary_name: str | None = None,
    fresh: bool = False,
) -> JournalTransaction:
    """Move money from the caller's account to an account of ours or out to an IBAN."""
    _check_step_up(amount, currency, fresh)
    destination: _Destination | None = None
    dest_id = to_account_id
    if to_account_id is None:
        destination = _resolve_destination(
            session,
            to_account_id=None,
            to_account_number=to_account_number,
            to_iban=to_iban,
            beneficiary_name=beneficiary_name,
        )
        dest_id = destination.account.public_id if destination.account else None
    if dest_id == from_account_id:
        raise ValidationError(
            "Source and destination are the same account.",
            details={"to_account_id": ["Must differ from from_account_id."]},
        )
    now = utcnow()
    # Lock first (customer, then accounts by id), check after: no read before the lock.
    _lock_customer(session, user)
    locked = ledger.lock_accounts_by_public_id(session, [from_account_id, dest_id])
    src = locked.get(from_account_id)
    if src is None or src.user_id != user.id:
        raise AccountNotFound()
    _check_currency(src, currency)
    dst = None
    if dest_id is not None:
        dst = locked.get(dest_id)
        if dst is None:
            raise AccountNotFound("The destination account was not found.")
        _check_currency(dst, currency, "to_account_id")
    if destination is None:
        destination = _Destination(dst)
    refused = {
        "from_account_id": str(from_account_id),
        "amount": format_amount(amount, currency),
        "currency": currency,
    }
    try:
        history = _activity(session, user, currency, now)
        limits.check_outgoing(
            kyc_status=user.kyc_status,
            kyc_level=user.kyc_level,
            currency=currency,
            amount=amount,
            sent_today=history.sent_today,
        )
        ledger.ensure_can_debit(src, amount)
        if dst is not None:
            ledger.ensure_can_receive(dst)
    except DomainError as exc:
        _refused(session, "transaction.transfer", exc, refused)
        raise
    assessment = fraud.assess(
        fraud.TransferContext(
            session=session,
            user=user,
            amount=amount,
            currency=currency,
            beneficiary_key=destination.key,
            own_beneficiary=dst is not None and dst.user_id == user.id,
            now=now,
            activity=history,
        )
    )
    txn = JournalTransaction(
        type=TxnType.TRANSFER.value,
        amount=amount,
        currency=currency,
        from_account=src,
        to_account=dst,
        initiated_by_id=user.id,
        description=description or "Transfer",
        counterparty_iban=destination.iban if dst is None else None,
        counterparty_name=destination.name if dst is None else None,
        beneficiary_key=destination.key,
        risk_score=assessment.score,
        risk_rules=assessment.rules,
        created_at=now,
    )
    if assessment.needs_review:
        session.add(txn)
        txn.status = TxnStatus.PENDING_REVIEW.value
        ledger.place_hold(session, src, txn, amount, "review")
        compliance.raise_transaction_alert(
            session,
            user_id=user.id,
            transaction=txn,
            score=assessment.score,
            rules=assessment.rules,
        )
    elif dst is None:
        session.add(txn)
        txn.status = TxnStatus.PENDING.value
        ledger.place_hold(session, src, txn, amount, "settlement")
    else:
        txn.status = TxnStatus.COMPLETED.value
        ledger.post_between(session, txn, src, dst, amount)
    session.flush()
    if txn.status == TxnStatus.PENDING.value:
        _enqueue_settlement(session, txn)
    audit.record(
        session,
        "transaction.transfer",
        resource_type="transaction",
        resource=txn,
        changes={**_summary(txn), "to_iban": txn.counterparty_iban},
    )
    ledger.commit(session)
    return txn


def _enqueue_settlement(session: Session, txn: JournalTransaction) -> None:
    from app.transactions.tasks import settle_external_transfer

    enqueue(
        session,
        settle_external_transfer,
        txn.id,
        queue="high",
        retry=Retry(max=3, interval=[10, 60, 300]),
    )


# --- compliance review -----------------------------------------------------------------------


def _lock_transaction(session: Session, transaction_id: uuid.UUID) -> JournalTransaction:
    txn = session.scalar(
        sa.select(JournalTransaction)
        .where(JournalTransaction.public_id == transaction_id)
        .with_for_update(of=JournalTransaction)
        .execution_options(populate_existing=True)
    )
    if txn is None:
        raise TransactionNotFound()
    return txn


def _reviewable(session: Session, officer: User, transaction_id: uuid.UUID) -> JournalTransaction:
    txn = _lock_transaction(session, transaction_id)
    if txn.status != TxnStatus.PENDING_REVIEW:
        raise Conflict(f"The transaction is {txn.status}, not pending_review.")
    if txn.initiated_by_id == officer.id:
        raise Forbidden("You may not decide a transaction you initiated.")
    return txn


def approve_review(
    session: Session, *, officer: User, transaction_id: uuid.UUID, notes: str | None = None
) -> JournalTransaction:
    """Complete a transfer held for review (an external one goes on to settlement)."""
    txn = _reviewable(session, officer, transaction_id)
    locked = ledger.lock_accounts(session, [txn.from_account_id, txn.to_account_id])
    src = locked[txn.from_account_id]
    if src.status != "active":
        raise AccountFrozen("The paying account is no longer active; reject the transfer.")
    if txn.to_account_id is None:
        txn.status = TxnStatus.PENDING.value  # the hold stays until settlement
    else:
        dst = locked[txn.to_account_id]
        ledger.release_holds(session, txn, locked, status=HoldStatus.CAPTURED)
        ledger.ensure_can_debit(src, txn.amount)
        ledger.ensure_can_receive(dst)
        ledger.post(session, txn, [(src, -txn.amount), (dst, txn.amount)])
        txn.status = TxnStatus.COMPLETED.value
    compliance.resolve_transaction_alerts(
        session, transaction_id=txn.id, resolution="approved", officer_id=officer.id, notes=notes
    )
    if txn.status == TxnStatus.PENDING.value:
        _enqueue_settlement(session, txn)
    audit.record(
        session,
        "transaction.review_approved",
        resource_type="transaction",
        resource=txn,
        changes={**_summary(txn), "notes": notes},
    )
    session.commit()
    return txn


def reject_review(
    session: Session, *, officer: User, transaction_id: uuid.UUID, notes: str | None = None
) -> JournalTransaction:
    """Refuse a transfer held for review: the held funds are released."""
    txn = _reviewable(session, officer, transaction_id)
    locked = ledger.lock_accounts(session, [txn.from_account_id])
    ledger.release_holds(session, txn, locked)
    txn.status = TxnStatus.REJECTED.value
    txn.failure_reason = "rejected by compliance"
    compliance.resolve_transaction_alerts(
        session, transaction_id=txn.id, resolution="rejected", officer_id=officer.id, notes=notes
    )
    audit.record(
        session,
        "transaction.review_rejected",
        resource_type="transaction",
        resource=txn,
        changes={**_summary(txn), "notes": notes},
    )
    session.commit()
    return txn


# --- settlement of external transfers --------------------------------------------------------


def submit_to_rail(txn: JournalTransaction) -> None:
    """Hand a posted transfer to the outbound payment rail; raise SettlementRejected if refused.

    The rail of this deployment refuses the IBAN countries in SETTLEMENT_REJECTED_COUNTRIES.
    """
    country = (txn.counterparty_iban or "")[:2]
    if country in current_app.config["SETTLEMENT_REJECTED_COUNTRIES"]:
        raise SettlementRejected(f"payments to {country} are not served by the rail")


def settle_external_transfer(session: Session, *, transaction_id: int) -> JournalTransaction | None:
    """Post a pending external transfer to the settlement account; reverse it if the rail refuses.

    Safe to run twice: a transaction that is no longer `pending` is left alone.
    """
    txn = session.scalar(
        sa.select(JournalTransaction)
        .where(JournalTransaction.id == transaction_id)
        .with_for_update(of=JournalTransaction)
        .execution_options(populate_existing=True)
    )
    if txn is None or txn.status != TxnStatus.PENDING.value:
        return txn
    settlement = ledger.system_account(session, SystemAccount.SETTLEMENT, txn.currency)
    locked = ledger.lock_accounts(session, [txn.from_account_id])
    src = locked[txn.from_account_id]
    ledger.release_holds(session, txn, locked, status=HoldStatus.CAPTURED)
    ledger.post(session, txn, [(src, -txn.amount), (settlement, txn.amount)])
    txn.status = TxnStatus.COMPLETED.value
    audit.record(
        session,
        "transaction.settled",
        resource_type="transaction",
        resource=txn,
        changes=_summary(txn),
    )
    session.commit()
    try:
        submit_to_rail(txn)
    except SettlementRejected as exc:
        return reverse_transaction(session, transaction_id=txn.id, reason=str(exc))
    return txn


def reverse_transaction(
    session: Session, *, transaction_id: int, reason: str
) -> JournalTransaction:
    """Undo a completed transaction with a reversal that mirrors its entries."""
    txn = session.scalar(
        sa.select(JournalTransaction)
        .where(JournalTransaction.id == transaction_id)
        .with_for_update(of=JournalTransaction)
        .execution_options(populate_existing=True)
    )
    if txn is None or txn.status != TxnStatus.COMPLETED.value:
        raise Conflict("Only a completed transaction can be reversed.")
    locked = ledger.lock_accounts(session, [e.account_id for e in txn.entries])
    legs = [
        (locked.get(e.account_id) or session.get(Account, e.account_id), -e.amount)
        for e in txn.entries
    ]
    reversal = JournalTransaction(
        type=TxnType.REVERSAL.value,
        status=TxnStatus.COMPLETED.value,
        amount=txn.amount,
        currency=txn.currency,
        from_account_id=txn.to_account_id,
        to_account_id=txn.from_account_id,
        description=f"Reversal: {reason}"[:255],
        reversal_of_id=txn.id,
        risk_rules=[],
    )
    session.add(reversal)
    ledger.post(session, reversal, legs)
    txn.status = TxnStatus.REVERSED.value
    txn.failure_reason = reason[:255]
    audit.record(
        session,
        "transaction.reversed",
        resource_type="transaction",
        resource=txn,
        changes={**_summary(txn), "reason": reason},
    )
    session.commit()
    return txn


# --- history ---------------------------------------------------------------------------------


def _visible(user: User) -> sa.ColumnElement[bool]:
    own = sa.select(Account.id).where(Account.user_id == user.id).scalar_subquery()
    return sa.or_(
        JournalTransaction.from_account_id.in_(own), JournalTransaction.to_account_id.in_(own)
    )


def get_transaction(
    session: Session, *, user: User, transaction_id: uuid.UUID
) -> JournalTransaction:
    """One transaction touching one of the caller's accounts."""
    txn = session.scalar(
        sa.select(JournalTransaction).where(
            JournalTransaction.public_id == transaction_id, _visible(user)
        )
    )
    if txn is None:
        raise TransactionNotFound()
    return txn


def _day_start(value: date | datetime, *, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        return value
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def list_transactions(
    session: Session,
    *,
    user: User,
    limit: int,
    cursor: str | None = None,
    account_id: uuid.UUID | None = None,
    type: str | None = None,
    status: str | None = None,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
    q: str | None = None,
) -> Page:
    """The caller's transactions, newest first, filtered."""
    stmt = sa.select(JournalTransaction)
    currencies = current_app.config["SUPPORTED_CURRENCIES"]
    if account_id is not None:
        account = get_own_account(session, user=user, account_id=account_id)
        stmt = stmt.where(
            sa.or_(
                JournalTransaction.from_account_id == account.id,
                JournalTransaction.to_account_id == account.id,
            )
        )
        currencies = [account.currency]
    else:
        stmt = stmt.where(_visible(user))
    if type:
        stmt = stmt.where(JournalTransaction.type == type)
    if status:
        stmt = stmt.where(JournalTransaction.status == status)
    if start is not None:
        stmt = stmt.where(JournalTransaction.created_at >= _day_start(start))
    if end is not None:
        stmt = stmt.where(JournalTransaction.created_at < _day_start(end, end=True))
    for bound, upper in ((min_amount, False), (max_amount, True)):
        if bound is None:
            continue
        stmt = stmt.where(
            sa.or_(
                *(
                    sa.and_(
                        JournalTransaction.currency == c,
                        (JournalTransaction.amount <= parse_bound(bound, c, upper=True))
                        if upper
                        else (JournalTransaction.amount >= parse_bound(bound, c, upper=False)),
                    )
                    for c in currencies
                )
            )
        )
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(
                JournalTransaction.description.ilike(pattern, escape="\\"),
                JournalTransaction.reference.ilike(pattern, escape="\\"),
                JournalTransaction.counterparty_name.ilike(pattern, escape="\\"),
            )
        )
    return paginate(session, stmt, model=JournalTransaction, limit=limit, cursor=cursor)


def hold_total(session: Session, *, account_id: int) -> int:
    """Active holds on an account (what `available_balance` subtracts)."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Hold.amount), 0)).where(
                Hold.account_id == account_id, Hold.status == HoldStatus.ACTIVE.value
            )
        )
    )
