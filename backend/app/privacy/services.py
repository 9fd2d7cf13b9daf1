"""Personal data export (GDPR articles 15 and 20) and erasure (article 17).

Every domain that holds personal data takes part through three hooks, registered once:

* an *exporter* `fn(session, user) -> JSON-able`, one section of `/privacy/export`;
* an *eraser* `fn(session, user, pseudonym) -> None` that pseudonymizes what it holds;
* a *hold* `fn(session, user) -> list[str]`, the reasons the person may not be erased yet
  (a balance, an open case).

The ledger and the audit log stay: ledger entries carry no personal data of their own, and
audit records keep their personal values beside the hashed part, so erasing those values leaves
`ledger verify` and `audit verify` clean.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import AuthSession, BackupCode, EmailOutbox, OneTimeToken, User
from app.core import audit, crypto, uow
from app.core.audit import AuditLog
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationError
from app.core.money import format_amount
from app.core.pagination import Page, paginate
from app.ledger.accounts import Account
from app.ledger.models import JournalTransaction
from app.privacy.models import ErasureRequest, ErasureStatus

Exporter = Callable[[Session, User], Any]
Eraser = Callable[[Session, User, str], None]
Hold = Callable[[Session, User], list[str]]


@dataclass
class _Section:
    name: str
    export: Exporter | None
    erase: Eraser | None
    hold: Hold | None


_SECTIONS: dict[str, _Section] = {}


def register_section(
    name: str,
    *,
    export: Exporter | None = None,
    erase: Eraser | None = None,
    hold: Hold | None = None,
    first: bool = False,
) -> None:
    """Take part in the export, the erasure and the legal-hold check (once per name).

    Sections run in the order registered; `first` puts one ahead of the others (an eraser that
    needs the person's name as it was, before the profile is pseudonymized).
    """
    section = _Section(name, export, erase, hold)
    if not first:
        _SECTIONS[name] = section
        return
    others = {key: value for key, value in _SECTIONS.items() if key != name}
    _SECTIONS.clear()
    _SECTIONS[name] = section
    _SECTIONS.update(others)


class ErasureRequestNotFound(NotFound):
    code, message = "not_found", "No such erasure request."


class LegalHold(Conflict):
    code, message = "legal_hold", "The person's data is under legal hold."


class AlreadyDecided(Conflict):
    code, message = "already_decided", "The erasure request was already decided."


# --- export ------------------------------------------------------------------------------------


def export_personal_data(session: Session, *, user: User) -> dict[str, Any]:
    """Every personal datum held about `user`, section by section; the export is audited."""
    body: dict[str, Any] = {"generated_at": audit.format_time(utcnow())}
    for section in _SECTIONS.values():
        if section.export is not None:
            body[section.name] = section.export(session, user)
    audit.record(
        session,
        "privacy.exported",
        resource_type="user",
        resource=user,
        changes={"sections": [name for name in body if name != "generated_at"]},
    )
    uow.commit(session)
    return body


def _time(value) -> str | None:
    return audit.format_time(value) if value is not None else None


def _profile(session: Session, user: User) -> dict[str, Any]:
    return {
        "id": str(user.public_id),
        "email": user.email,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "base_currency": user.base_currency,
        "roles": sorted(user.roles),
        "kyc_status": user.kyc_status,
        "email_verified": user.email_verified,
        "mfa_enabled": user.mfa_enabled,
        "created_at": _time(user.created_at),
        "last_login_at": _time(user.last_login_at),
    }


def _consents(session: Session, user: User) -> dict[str, Any]:
    return {
        "terms_accepted_at": _time(user.terms_accepted_at),
        "privacy_accepted_at": _time(user.privacy_accepted_at),
        "policy_version": user.policy_version,
    }


def _sessions(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(AuthSession).where(AuthSession.user_id == user.id).order_by(AuthSession.id)
    )
    return [
        {
            "id": str(row.public_id),
            "ip": row.ip,
            "user_agent": row.user_agent,
            "created_at": _time(row.created_at),
            "last_used_at": _time(row.last_used_at),
            "expires_at": _time(row.expires_at),
            "revoked_at": _time(row.revoked_at),
        }
        for row in rows
    ]


def _accounts(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(Account).where(Account.user_id == user.id).order_by(Account.id)
    )
    return [
        {
            "id": str(row.public_id),
            "account_number": row.account_number,
            "iban": row.iban,
            "account_type": row.account_type,
            "currency": row.currency,
            "name": row.name,
            "balance": format_amount(row.balance, row.currency),
            "status": row.status,
            "created_at": _time(row.created_at),
        }
        for row in rows
    ]


def _transactions(session: Session, user: User) -> list[dict[str, Any]]:
    own = sa.select(Account.id).where(Account.user_id == user.id)
    rows = session.execute(
        sa.select(JournalTransaction)
        .where(
            sa.or_(
                JournalTransaction.from_account_id.in_(own),
                JournalTransaction.to_account_id.in_(own),
                JournalTransaction.initiated_by_id == user.id,
            )
        )
        .order_by(JournalTransaction.id)
        .execution_options(yield_per=1000)
    ).scalars()
    return [
        {
            "id": str(row.public_id),
            "type": row.type,
            "status": row.status,
            "amount": format_amount(row.amount, row.currency),
            "currency": row.currency,
            "description": row.description,
            "reference": row.reference,
            "counterparty_iban": row.counterparty_iban,
            "counterparty_name": row.counterparty_name,
            "created_at": _time(row.created_at),
        }
        for row in rows
    ]


def _about(user: User) -> sa.ColumnElement[bool]:
    public_id = str(user.public_id)
    return sa.or_(
        AuditLog.actor_id == public_id,
        sa.and_(AuditLog.resource_type == "user", AuditLog.resource_id == public_id),
    )


def _audit_records(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(AuditLog).where(_about(user)).order_by(AuditLog.id))
    return [
        {
            "id": str(row.public_id),
            "occurred_at": _time(row.occurred_at),
            "action": row.action,
            "outcome": row.outcome,
            "resource_type": row.resource_type,
            "resource_id": row.resource_id,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "changes": audit.join_personal(row.changes, row.personal),
        }
        for row in rows
    ]


def _erasure_requests(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(ErasureRequest)
        .where(ErasureRequest.user_id == user.id)
        .order_by(ErasureRequest.id)
    )
    return [
        {"id": str(r.public_id), "status": r.status, "requested_at": _time(r.requested_at)}
        for r in rows
    ]


# --- erasure -----------------------------------------------------------------------------------


def request_erasure(session: Session, *, user: User) -> ErasureRequest:
    """Ask to be erased; an open request is returned as it is."""
    existing = session.scalar(
        sa.select(ErasureRequest).where(
            ErasureRequest.user_id == user.id,
            ErasureRequest.status.in_(
                [ErasureStatus.PENDING.value, ErasureStatus.LEGAL_HOLD.value]
            ),
        )
    )
    if existing is not None:
        return existing
    request = ErasureRequest(user_id=user.id, status=ErasureStatus.PENDING.value)
    session.add(request)
    audit.record(
        session, "privacy.erasure_requested", resource_type="erasure_request", resource=request
    )
    uow.commit(session)
    return request


def list_requests(
    session: Session, *, status: str | None, limit: int, cursor: str | None = None
) -> Page:
    """Erasure requests, newest first."""
    stmt = sa.select(ErasureRequest)
    if status is not None:
        stmt = stmt.where(ErasureRequest.status == status)
    page = paginate(session, stmt, model=_RequestedAt, limit=limit, cursor=cursor)
    owners = dict(
        session.execute(
            sa.select(User.id, User.public_id).where(
                User.id.in_({request.user_id for request in page.items})
            )
        ).all()
    )
    return Page(
        items=[present(r, owners[r.user_id]) for r in page.items], next_cursor=page.next_cursor
    )


def present(request: ErasureRequest, user_public_id: uuid.UUID) -> dict[str, Any]:
    return {
        "public_id": request.public_id,
        "status": request.status,
        "user_id": user_public_id,
        "requested_at": request.requested_at,
        "decided_at": request.decided_at,
        "decision_reason": request.decision_reason,
        "hold_reasons": request.hold_reasons,
    }


class _RequestedAt:
    """`paginate` orders by `created_at`: an erasure request's is its `requested_at`."""

    created_at = ErasureRequest.requested_at
    public_id = ErasureRequest.public_id


def hold_reasons(session: Session, *, user: User) -> list[str]:
    """Why the person may not be erased now (empty: nothing holds them)."""
    reasons: list[str] = []
    for section in _SECTIONS.values():
        if section.hold is not None:
            reasons += section.hold(session, user)
    return reasons


def decide(
    session: Session,
    *,
    officer: User,
    request_id: uuid.UUID,
    decision: str,
    reason: str,
) -> dict[str, Any]:
    """Approve (pseudonymize, unless a legal hold applies) or reject an erasure request."""
    request = session.scalar(
        sa.select(ErasureRequest).where(ErasureRequest.public_id == request_id).with_for_update()
    )
    if request is None:
        raise ErasureRequestNotFound()
    if request.status not in (ErasureStatus.PENDING.value, ErasureStatus.LEGAL_HOLD.value):
        raise AlreadyDecided()
    user = session.scalar(
        sa.select(User)
        .where(User.id == request.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user.id == officer.id:
        raise ValidationError("An officer may not decide their own erasure request.")
    if decision == "reject":
        request.status = ErasureStatus.REJECTED.value
        _decided(request, officer, reason)
        audit.record(
            session,
            "privacy.erasure_rejected",
            resource_type="erasure_request",
            resource=request,
            changes={"reason": reason},
        )
        uow.commit(session)
        return present(request, user.public_id)
    reasons = hold_reasons(session, user=user)
    if reasons:
        request.status = ErasureStatus.LEGAL_HOLD.value
        request.hold_reasons = reasons
        _decided(request, officer, reason)
        audit.fail(
            session,
            LegalHold(
                "The person cannot be erased while " + "; ".join(reasons) + ".",
                details={"reasons": reasons},
            ),
            "privacy.erasure_held",
            resource_type="erasure_request",
            resource=request,
            changes={"hold_reasons": reasons},
        )
    pseudonym = f"erased-{user.public_id.hex[:12]}"
    for section in _SECTIONS.values():
        if section.erase is not None:
            section.erase(session, user, pseudonym)
    request.status = ErasureStatus.APPROVED.value
    request.hold_reasons = None
    _decided(request, officer, reason)
    session.flush()
    audit.record(
        session,
        "privacy.erasure_approved",
        resource_type="user",
        resource_id=str(user.public_id),
        changes={"erasure_request": str(request.public_id), "sections": list(_SECTIONS)},
    )
    uow.commit(session)
    return present(request, user.public_id)


def _decided(request: ErasureRequest, officer: User, reason: str) -> None:
    request.decided_by_id = officer.id
    request.decided_at = utcnow()
    request.decision_reason = reason


def _erase_profile(session: Session, user: User, pseudonym: str) -> None:
    user.email = f"{pseudonym}@erased.invalid"
    user.username = None
    user.first_name = "Erased"
    user.last_name = "Person"
    user.phone = None
    user.is_active = False  # the login is disabled for good
    user.admin_locked_at = user.admin_locked_at or utcnow()
    user.password_hash = "!erased:" + secrets.token_hex(16)  # matches no password
    user.totp_secret = None
    user.totp_pending_secret = None
    user.mfa_enabled = False
    session.execute(sa.delete(BackupCode).where(BackupCode.user_id == user.id))
    session.execute(sa.delete(OneTimeToken).where(OneTimeToken.user_id == user.id))


def _erase_sessions(session: Session, user: User, pseudonym: str) -> None:
    session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user.id)
        .values(
            ip=None,
            user_agent=None,
            revoked_at=sa.func.coalesce(AuthSession.revoked_at, utcnow()),
            revoked_reason=sa.func.coalesce(AuthSession.revoked_reason, "erased"),
        )
    )


def _erase_accounts(session: Session, user: User, pseudonym: str) -> None:
    # A customer-chosen account name may carry their name; the number and IBAN stay (ledger).
    for account in session.scalars(sa.select(Account).where(Account.user_id == user.id)):
        account.name = f"{account.account_type.title()} {account.currency}"


def _erase_outbox(session: Session, user: User, pseudonym: str) -> None:
    """E-mails to the person: the address and the sealed body go; pending ones are cancelled."""
    from app.auth.mail import _OUTBOX_AAD

    emails = session.scalars(
        sa.select(EmailOutbox).where(
            sa.or_(EmailOutbox.user_id == user.id, EmailOutbox.to_address == user.email)
        )
    )
    for message in emails:
        message.to_address = f"{pseudonym}@erased.invalid"
        message.body_encrypted = crypto.encrypt_str("", aad=_OUTBOX_AAD)
        if message.status == "pending":
            message.status = "cancelled"
        message.last_error = None


def _erase_audit(session: Session, user: User, pseudonym: str) -> None:
    """Personal values beside the audit records about the person; the chain is untouched."""
    session.execute(
        sa.update(AuditLog)
        .where(_about(user))
        .where(
            sa.or_(
                AuditLog.ip.is_not(None),
                AuditLog.user_agent.is_not(None),
                AuditLog.personal.is_not(None),
            )
        )
        .values(ip=None, user_agent=None, personal=sa.null())
        .execution_options(synchronize_session=False)
    )


def _balance_hold(session: Session, user: User) -> list[str]:
    rows = session.scalars(
        sa.select(Account).where(
            Account.user_id == user.id, sa.or_(Account.balance != 0, Account.held != 0)
        )
    )
    return [
        f"account ***{a.account_number[-4:]} holds a balance of "
        f"{format_amount(a.balance, a.currency)} {a.currency}"
        + (f" ({format_amount(a.held, a.currency)} held)" if a.held else "")
        for a in rows
    ]


def _open_case_hold(session: Session, user: User) -> list[str]:
    from app.compliance.models import ComplianceAlert

    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(ComplianceAlert)
        .where(ComplianceAlert.user_id == user.id, ComplianceAlert.status != "resolved")
    )
    return [f"{count} compliance case(s) about the person are open"] if count else []


def _pending_transactions_hold(session: Session, user: User) -> list[str]:
    own = sa.select(Account.id).where(Account.user_id == user.id)
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(JournalTransaction)
        .where(
            sa.or_(
                JournalTransaction.from_account_id.in_(own),
                JournalTransaction.to_account_id.in_(own),
            ),
            JournalTransaction.status.in_(["pending", "pending_review"]),
        )
    )
    return [f"{count} transaction(s) are not settled yet"] if count else []


register_section("profile", export=_profile, erase=_erase_profile)
register_section("consents", export=_consents)
register_section("sessions", export=_sessions, erase=_erase_sessions)
register_section("accounts", export=_accounts, erase=_erase_accounts, hold=_balance_hold)
register_section("transactions", export=_transactions, hold=_pending_transactions_hold)
register_section("cases", hold=_open_case_hold)
register_section("email_outbox", erase=_erase_outbox)
register_section("audit_records", export=_audit_records, erase=_erase_audit)
register_section("erasure_requests", export=_erasure_requests)
