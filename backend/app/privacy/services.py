"""Personal data export (GDPR articles 15 and 20) and erasure (article 17).

Every domain that holds personal data takes part through a section of
`app.core.personal_data`, added from its own `init_app`: an exporter (one key of
`/privacy/export`), an eraser that pseudonymizes what it holds, and a hold (the reasons the
person may not be erased yet: a balance, an open case). This module runs them in their order.

The ledger and the audit log stay: ledger entries carry no personal data of their own, and
audit records keep their personal values beside the hashed part, so erasing those values leaves
`ledger verify` and `audit verify` clean.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, events, uow
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationError
from app.core.pagination import Page, paginate
from app.core.personal_data import PersonalData, Section, personal_data
from app.privacy.models import ErasureRequest, ErasureStatus

_OPEN = (ErasureStatus.PENDING.value, ErasureStatus.LEGAL_HOLD.value)


def _sections() -> tuple[Section[User], ...]:
    registry: PersonalData[User] = personal_data(current_app)
    return registry.sections


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
    for section in _sections():
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


# --- erasure -----------------------------------------------------------------------------------


def request_erasure(session: Session, *, user: User) -> ErasureRequest:
    """Ask to be erased; an open request is returned as it is."""
    existing = session.scalar(
        sa.select(ErasureRequest).where(
            ErasureRequest.user_id == user.id,
            ErasureRequest.status.in_(list(_OPEN)),
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
    session: Session, *, limit: int, status: str | None = None, cursor: str | None = None
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
    for section in _sections():
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
    request, user = _lock_open_request(session, request_id, officer)
    if decision == "reject":
        return _reject(session, request, user, officer, reason)
    _refuse_under_legal_hold(session, request, user, officer, reason)
    return _erase(session, request, user, officer, reason)


def _lock_open_request(
    session: Session, request_id: uuid.UUID, officer: User
) -> tuple[ErasureRequest, User]:
    """The request and its person, both locked; refused when decided already or one's own."""
    request = session.scalar(
        sa.select(ErasureRequest).where(ErasureRequest.public_id == request_id).with_for_update()
    )
    if request is None:
        raise ErasureRequestNotFound()
    if request.status not in _OPEN:
        raise AlreadyDecided()
    user = session.scalar(
        sa.select(User)
        .where(User.id == request.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:  # the foreign key keeps the user while a request names them
        raise RuntimeError(f"erasure request {request.id} names no user")
    if user.id == officer.id:
        raise ValidationError("An officer may not decide their own erasure request.")
    return request, user


def _reject(
    session: Session, request: ErasureRequest, user: User, officer: User, reason: str
) -> dict[str, Any]:
    request.status = ErasureStatus.REJECTED.value
    _decided(request, officer, reason)
    audit.record(
        session,
        "privacy.erasure_rejected",
        resource_type="erasure_request",
        resource=request,
        changes={"reason": reason},
    )
    _erasure_event(session, request, user)
    uow.commit(session)
    return present(request, user.public_id)


def _refuse_under_legal_hold(
    session: Session, request: ErasureRequest, user: User, officer: User, reason: str
) -> None:
    """When something holds the person, the request is kept on legal hold and 409 is raised."""
    reasons = hold_reasons(session, user=user)
    if not reasons:
        return
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


def _erase(
    session: Session, request: ErasureRequest, user: User, officer: User, reason: str
) -> dict[str, Any]:
    """Every section pseudonymizes what it holds, in order; the request is approved."""
    sections = _sections()
    pseudonym = f"erased-{user.public_id.hex[:12]}"
    for section in sections:
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
        changes={
            "erasure_request": str(request.public_id),
            "sections": [section.name for section in sections],
        },
    )
    _erasure_event(session, request, None)
    uow.commit(session)
    return present(request, user.public_id)


def _erasure_event(session: Session, request: ErasureRequest, user: User | None) -> None:
    """`erasure.decided` for the compliance queue and, when the person stays, for them."""
    data = {"erasure_request_id": str(request.public_id), "status": request.status}
    events.emit(session, "erasure.decided", data, audience="compliance")
    if user is not None:
        events.emit(session, "erasure.decided", data, user_id=user.id)


def _decided(request: ErasureRequest, officer: User, reason: str) -> None:
    request.decided_by_id = officer.id
    request.decided_at = utcnow()
    request.decision_reason = reason
