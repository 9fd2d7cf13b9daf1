"""Tuning the AML rules: an officer proposes new parameters for a rule, a second officer
approves (the proposal becomes the rule's next version and applies at once) or rejects it
(maker-checker). Every step is audited in its own transaction; a backtest shows beforehand
what a proposal would have raised (`aml.backtest`, run as a job).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, selectinload

from app.auth.models import User
from app.compliance import tasks
from app.compliance.aml.params import RULE_NAMES, RULE_PARAMS, params_of, validate
from app.compliance.aml.versions import (
    defaults,
    forget_cached,
    latest_versions,
    seed_row,
    settings_from,
)
from app.compliance.models import AmlRuleBacktest, AmlRuleVersion, RuleChangeStatus
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, ValidationError
from app.core.pagination import Page, paginate
from app.core.queue import enqueue, this_app

PENDING = RuleChangeStatus.PENDING.value


class RuleNotFound(NotFound):
    code, message = "rule_not_found", "There is no such AML rule."


class ProposalNotFound(NotFound):
    code, message = "proposal_not_found", "The rule change proposal was not found."


class OwnProposal(Forbidden):
    code = "proposal_needs_another_officer"
    message = "A rule change is approved or rejected by another officer than its proposer."


class ProposalDecided(Conflict):
    code, message = "proposal_already_decided", "The proposal was decided already."


class ProposalOutdated(Conflict):
    code = "proposal_outdated"
    message = "The rule has a newer version than the one this proposal changes; propose again."


def _known(rule: str) -> str:
    if rule not in RULE_NAMES:
        raise RuleNotFound()
    return rule


def list_rules(session: Session) -> list[dict[str, Any]]:
    """Every AML rule with its current parameters and version (1: the environment's)."""
    versions = latest_versions(session)
    settings = settings_from(versions, defaults())
    rules = []
    for rule in RULE_NAMES:
        row = versions.get(rule)
        rules.append(
            {
                "rule": rule,
                "kind": "aml",
                "version": row.version if row is not None else 1,
                "params": params_of(settings, rule),
                "param_specs": _specs(rule),
                "approved_at": row.decided_at if row is not None else None,
                "approved_by": row.decided_by if row is not None else None,
                "proposed_by": row.proposed_by if row is not None else None,
                "reason": row.reason if row is not None else None,
            }
        )
    return rules


@functools.cache
def _specs(rule: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "kind": p.kind, "min": p.low, "max": p.high, "description": p.description}
        for name, p in RULE_PARAMS[rule].items()
    ]


def _current(session: Session, rule: str) -> tuple[int, dict[str, Any]]:
    """A rule's current version number and parameters (read from the database, not cached)."""
    versions = latest_versions(session)
    row = versions.get(rule)
    return (row.version or 1) if row else 1, params_of(settings_from(versions, defaults()), rule)


def proposed_params(session: Session, rule: str, params: dict[str, Any]) -> dict[str, Any]:
    """The rule's full parameters with `params` (validated) put over the current ones."""
    clean = validate(_known(rule), params)
    return {**_current(session, rule)[1], **clean}


def propose(
    session: Session, *, officer: User, rule: str, params: dict[str, Any], reason: str
) -> AmlRuleVersion:
    """Propose new parameters for a rule (some or all of them); another officer decides."""
    clean = validate(_known(rule), params)
    version, current = _current(session, rule)
    full = {**current, **clean}
    if full == current:
        raise ValidationError(
            "The proposal changes nothing.", details={"params": ["Same as the current version."]}
        )
    proposal = AmlRuleVersion(
        rule=rule,
        status=PENDING,
        base_version=version,
        params=full,
        reason=reason,
        proposed_by_id=officer.id,
        proposed_by=officer,
    )
    session.add(proposal)
    audit.record(
        session,
        "compliance.rule_change_proposed",
        resource_type="aml_rule_version",
        resource=proposal,
        changes={"rule": rule, "base_version": version, "from": current, "to": full},
    )
    uow.commit(session)
    return proposal


def _locked_proposal(session: Session, proposal_id: uuid.UUID) -> AmlRuleVersion:
    proposal = session.scalar(
        sa.select(AmlRuleVersion)
        .where(AmlRuleVersion.public_id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if proposal is None:
        raise ProposalNotFound()
    return proposal


def decide(
    session: Session, *, officer: User, proposal_id: uuid.UUID, decision: str, reason: str
) -> AmlRuleVersion:
    """Approve (the rule's next version, applied at once) or reject a pending proposal; never
    by its proposer."""
    proposal = _locked_proposal(session, proposal_id)
    if proposal.proposed_by_id == officer.id:
        raise OwnProposal()
    if proposal.status != PENDING:
        raise ProposalDecided(f"The proposal was {proposal.status} already.")
    previous = None
    if decision == "approve":
        previous = _approve(session, proposal)
    else:
        proposal.status = RuleChangeStatus.REJECTED.value
    proposal.decided_by_id, proposal.decided_by = officer.id, officer
    proposal.decided_at, proposal.decision_reason = utcnow(), reason
    audit.record(
        session,
        f"compliance.rule_change_{proposal.status}",
        resource_type="aml_rule_version",
        resource=proposal,
        changes={
            "rule": proposal.rule,
            "version": proposal.version,
            "reason": reason,
            **({"from": previous, "to": proposal.params} if previous is not None else {}),
        },
    )
    uow.of(session).after_commit(functools.partial(forget_cached, this_app()))
    uow.commit(session)
    return proposal


def _approve(session: Session, proposal: AmlRuleVersion) -> dict[str, Any]:
    """Make the proposal the rule's next version (approvals of one rule are serialized by
    the lock on its current version); the parameters it replaces."""
    current = session.scalar(
        sa.select(AmlRuleVersion)
        .where(
            AmlRuleVersion.rule == proposal.rule,
            AmlRuleVersion.status == RuleChangeStatus.APPROVED.value,
        )
        .order_by(AmlRuleVersion.version.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if current is None:  # the environment was version 1 until now: it is written down first
        current = seed_row(proposal.rule)
        session.add(current)
    if current.version != proposal.base_version:
        raise ProposalOutdated()
    proposal.status = RuleChangeStatus.APPROVED.value
    proposal.version = (current.version or 1) + 1
    return dict(current.params)


def list_proposals(
    session: Session,
    *,
    status: str | None = None,
    rule: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> Page:
    """Rule change proposals newest first (the seeded versions 1 are not proposals)."""
    stmt = (
        sa.select(AmlRuleVersion)
        .where(AmlRuleVersion.proposed_by_id.is_not(None))
        .options(selectinload(AmlRuleVersion.proposed_by), selectinload(AmlRuleVersion.decided_by))
    )
    if status:
        stmt = stmt.where(AmlRuleVersion.status == status)
    if rule:
        stmt = stmt.where(AmlRuleVersion.rule == _known(rule))
    return paginate(session, stmt, model=AmlRuleVersion, limit=limit, cursor=cursor)


def start_backtest(
    session: Session,
    *,
    officer: User,
    rule: str,
    params: dict[str, Any],
    start: datetime,
    end: datetime,
) -> dict[str, str]:
    """Queue a backtest of `params` for a rule over [start, end); the job is the officer's."""
    full = proposed_params(session, rule, params) if params else _current(session, _known(rule))[1]
    _check_period(start, end)
    job_id = str(uuid.uuid4())
    session.add(
        AmlRuleBacktest(
            id=job_id,
            rule=rule,
            params=full,
            period_start=start,
            period_end=end,
            requested_by_id=officer.id,
        )
    )
    enqueue(
        session,
        tasks.run_rule_backtest,
        rule,
        full,
        start.isoformat(),
        end.isoformat(),
        backtest_id=job_id,
        queue="maintenance",
        retry=1,  # it only reads (and keeps its report), so it may run again
        owner_id=officer.id,
        job_id=job_id,
    )
    audit.record(
        session,
        "compliance.rule_backtest_started",
        resource_type="aml_rule",
        resource_id=rule,
        changes={"params": full, "from": start.isoformat(), "to": end.isoformat(), "job": job_id},
    )
    uow.commit(session)
    return {"job_id": job_id}


def _check_period(start: datetime, end: datetime) -> None:
    most = timedelta(days=current_app.config["AML_BACKTEST_MAX_DAYS"])
    if end <= start:
        raise ValidationError(details={"to": ["After from."]})
    if end - start > most:
        raise ValidationError(details={"to": [f"At most {most.days} days after from."]})
