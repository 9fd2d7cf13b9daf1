"""Payment confirmations: a passkey signs the very payment it allows (dynamic linking).

PSD2 RTS art. 5: the authentication code is specific to the amount and the payee. The
WebAuthn challenge of a confirmation is an HMAC over the canonical form of its id, kind, paying
account, amount (minor units), currency and payee, and a random nonce; the browser signs it,
so the signature commits to exactly that payment. `consume` accepts the signed confirmation
once, before it expires, and only for that payment: another amount, currency, account or
payee voids it (422 `confirmation_mismatch`). It flushes only: the payment's use case commits
it with the payment, in one unit of work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session
from webauthn import generate_authentication_options
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.structs import UserVerificationRequirement

from app.auth import attempts, passkey_checks
from app.auth.errors import ConfirmationMismatch, ConfirmationRequired
from app.auth.models import PaymentConfirmation, User
from app.auth.tokens import now
from app.auth.users import lock_user
from app.core import audit, uow
from app.core.db import for_update
from app.core.errors import Conflict

TRANSFER = "transfer"
PENDING, USED, VOIDED = "pending", "used", "voided"


def canonical_payee(payee: dict[str, Any]) -> str:
    """The payee as one canonical JSON text (sorted keys, no spaces, strings only)."""
    return json.dumps(
        {key: str(value) for key, value in payee.items() if value is not None},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _challenge(
    *,
    public_id: uuid.UUID,
    kind: str,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    payee: str,
    nonce: bytes,
) -> bytes:
    """HMAC-SHA256 over the canonical payment and a nonce: what the passkey signs."""
    payment = json.dumps(
        {
            "id": str(public_id),
            "kind": kind,
            "account_id": str(account_id),
            "amount": amount,
            "currency": currency,
            "payee": payee,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    key = hashlib.sha256(
        b"flowlet.payment-confirmation:" + current_app.config["SECRET_KEY"].encode()
    ).digest()
    return hmac.new(key, payment + b"|" + nonce, hashlib.sha256).digest()


def create(
    session: Session,
    *,
    user: User,
    kind: str,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    payee: dict[str, Any],
) -> dict[str, Any]:
    """A pending confirmation of one payment and the WebAuthn options that sign it."""
    allowed = passkey_checks.descriptors(session, user)
    if not allowed:
        raise Conflict("Register a passkey first; without one, step up with /auth/step-up.")
    public_id = uuid.uuid4()
    payee_text = canonical_payee(payee)
    challenge = _challenge(
        public_id=public_id,
        kind=kind,
        account_id=account_id,
        amount=amount,
        currency=currency,
        payee=payee_text,
        nonce=secrets.token_bytes(16),
    )
    moment = now()
    row = PaymentConfirmation(
        public_id=public_id,
        user_id=user.id,
        kind=kind,
        account_id=account_id,
        amount=amount,
        currency=currency,
        payee=payee_text,
        challenge_hash=passkey_checks.digest(challenge),
        status=PENDING,
        created_at=moment,
        expires_at=moment + timedelta(seconds=current_app.config["PAYMENT_CONFIRMATION_SECONDS"]),
    )
    session.add(row)
    session.flush()
    options = generate_authentication_options(
        rp_id=passkey_checks.rp_id(),
        challenge=challenge,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    audit.record(
        session,
        "auth.payment_confirmation_created",
        resource_type="payment_confirmation",
        resource=row,
        changes={"kind": kind, "account_id": str(account_id), "currency": currency},
    )
    uow.commit(session)
    return {"id": public_id, "webauthn_options": options_to_json_dict(options)}


def _refuse(
    session: Session, row: PaymentConfirmation | None, message: str, reason: str
) -> NoReturn:
    audit.fail(
        session,
        ConfirmationRequired(message),
        "auth.payment_confirmation_used",
        resource_type="payment_confirmation",
        resource_id=str(row.public_id) if row is not None else None,
        changes={"reason": reason},
    )


def consume(
    session: Session,
    *,
    user_id: int,
    confirmation_id: uuid.UUID,
    credential: dict[str, Any],
    kind: str,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    payee: dict[str, Any],
) -> PaymentConfirmation:
    """Accept a signed confirmation for exactly this payment, once (flushes only).

    Refused (403 `confirmation_required`) when unknown, used, void, expired or not signed by
    one of the user's passkeys; a payment other than the confirmed one voids it (422
    `confirmation_mismatch`). Every refusal is audited and committed before it is raised.
    """
    row = _pending(session, user_id=user_id, confirmation_id=confirmation_id)
    _check_signature(session, row, user_id=user_id, credential=credential)
    _check_payment(
        session,
        row,
        {
            "kind": kind,
            "account_id": account_id,
            "amount": amount,
            "currency": currency,
            "payee": canonical_payee(payee),
        },
    )
    row.status = USED
    row.used_at = now()
    audit.record(
        session,
        "auth.payment_confirmation_used",
        resource_type="payment_confirmation",
        resource_id=str(row.public_id),
    )
    session.flush()
    return row


def _pending(session: Session, *, user_id: int, confirmation_id: uuid.UUID) -> PaymentConfirmation:
    """The user's confirmation, locked, while it can still be used."""
    row = session.scalar(
        for_update(
            sa.select(PaymentConfirmation).where(
                PaymentConfirmation.public_id == confirmation_id,
                PaymentConfirmation.user_id == user_id,
            )
        )
    )
    if row is None:
        _refuse(session, None, "The confirmation was not found.", "unknown")
    if row.status != PENDING:
        _refuse(session, row, f"The confirmation was already {row.status}.", row.status)
    if row.expires_at <= now():
        _refuse(session, row, "The confirmation has expired; confirm again.", "expired")
    return row


def _check_signature(
    session: Session, row: PaymentConfirmation, *, user_id: int, credential: dict[str, Any]
) -> None:
    """One of the user's passkeys signed this confirmation's challenge (on the one counter)."""
    error = ConfirmationRequired("The confirmation's passkey signature is not valid.")
    parsed = passkey_checks.parse_assertion(credential)
    passkey = passkey_checks.find_passkey(session, parsed)
    if parsed is None or passkey is None or passkey.user_id != user_id:
        user = lock_user(session, user_id)
        attempts.refuse_if_locked(session, user, method="confirmation")
        attempts.failed(
            session,
            user,
            reason="unknown_passkey",
            method="confirmation",
            error=error,
            action="auth.payment_confirmation_used",
        )
    challenge = passkey_checks.client_challenge(parsed) or b""
    passkey_checks.check_assertion(
        session,
        passkey=passkey,
        parsed=parsed,
        challenge_ok=hmac.compare_digest(passkey_checks.digest(challenge), row.challenge_hash),
        method="confirmation",
        error=error,
        action="auth.payment_confirmation_used",
    )


def _check_payment(session: Session, row: PaymentConfirmation, sent: dict[str, Any]) -> None:
    """The payment sent is the one confirmed; any other voids the confirmation (kept)."""
    confirmed = {
        "kind": row.kind,
        "account_id": row.account_id,
        "amount": row.amount,
        "currency": row.currency,
        "payee": row.payee,
    }
    differ = sorted(key for key in confirmed if confirmed[key] != sent[key])
    if differ:
        row.status = VOIDED
        row.used_at = now()
        audit.fail(
            session,
            ConfirmationMismatch(details={key: ["Not the confirmed value."] for key in differ}),
            "auth.payment_confirmation_used",
            resource_type="payment_confirmation",
            resource_id=str(row.public_id),
            changes={"reason": "mismatch", "fields": differ},
        )


def link_transaction(
    session: Session, confirmation: PaymentConfirmation, transaction_id: uuid.UUID
) -> None:
    """Note the payment a used confirmation allowed (flushes)."""
    confirmation.transaction_id = transaction_id
    session.flush()
