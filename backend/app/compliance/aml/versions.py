"""The AML rules' current settings: the latest approved version of each rule's parameters
(`aml_rule_versions`) over the environment's `AML_*` settings, the defaults.

Version 1 of a rule is the environment's values: written by the reference seeder
(`flask init-db`), or with the rule's first approved change; until then the environment is read
as version 1. The running rules ask `current_settings` for each movement; it answers from a
per-process cache, and at most every `AML_RULES_CACHE_SECONDS` reads one number (how many
versions were ever approved) to see whether another process approved one since. An approval
in this process empties the cache as it commits, so the very next posting uses it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.compliance.aml.params import RULE_NAMES, apply, params_of
from app.compliance.aml.rules import Settings
from app.compliance.models import AmlRuleVersion, RuleChangeStatus
from app.core import uow
from app.core.db import utcnow
from app.core.queue import this_app

_EXTENSION = "flowlet_aml_rule_settings"
_APPROVED = RuleChangeStatus.APPROVED.value
SEED_REASON = "The environment's AML_* settings (version 1)."


@dataclass(frozen=True)
class _Cached:
    marker: int  # approved versions ever, when read
    checked_at: float  # time.monotonic()
    settings: Settings


def defaults() -> Settings:
    """The environment's settings: every rule's version 1."""
    return Settings.from_config(current_app.config)


def latest_versions(session: Session) -> dict[str, AmlRuleVersion]:
    """Each rule's latest approved version row (rules never changed nor seeded are absent)."""
    latest = (
        sa.select(AmlRuleVersion.rule, sa.func.max(AmlRuleVersion.version).label("version"))
        .where(AmlRuleVersion.status == _APPROVED)
        .group_by(AmlRuleVersion.rule)
        .subquery()
    )
    rows = session.scalars(
        sa.select(AmlRuleVersion).join(
            latest,
            sa.and_(
                AmlRuleVersion.rule == latest.c.rule, AmlRuleVersion.version == latest.c.version
            ),
        )
    )
    return {row.rule: row for row in rows}


def settings_from(versions: dict[str, AmlRuleVersion], base: Settings) -> Settings:
    """`base` with each rule's version's parameters put in."""
    settings = base
    for rule, row in versions.items():
        if rule in RULE_NAMES:
            settings = apply(settings, rule, row.params)
    return settings


def _marker(session: Session) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(AmlRuleVersion)
            .where(AmlRuleVersion.status == _APPROVED)
        )
        or 0
    )


def current_settings(session: Session) -> Settings:
    """The settings the rules run with now (cached per process; see the module's docstring)."""
    app = this_app()
    cached: _Cached | None = app.extensions.get(_EXTENSION)
    now = time.monotonic()
    ttl = float(app.config["AML_RULES_CACHE_SECONDS"])
    if cached is not None and now - cached.checked_at < ttl:
        return cached.settings
    marker = _marker(session)
    if cached is not None and cached.marker == marker:
        app.extensions[_EXTENSION] = _Cached(marker, now, cached.settings)
        return cached.settings
    settings = settings_from(latest_versions(session), defaults())
    app.extensions[_EXTENSION] = _Cached(marker, now, settings)
    return settings


def forget_cached(app: Flask) -> None:
    """Empty this process's cache: the next read takes the versions from the database."""
    app.extensions.pop(_EXTENSION, None)


def seed_row(rule: str, *, now: Any = None) -> AmlRuleVersion:
    """Version 1 of a rule: the environment's values, no proposer, no approver."""
    at = now or utcnow()
    return AmlRuleVersion(
        rule=rule,
        status=_APPROVED,
        version=1,
        params=params_of(defaults(), rule),
        reason=SEED_REASON,
        created_at=at,
        decided_at=at,
    )


def seed_versions(session: Session) -> None:
    """Reference seeder: version 1 of each rule that has none, from the environment."""
    present = set(
        session.scalars(sa.select(AmlRuleVersion.rule).where(AmlRuleVersion.version == 1))
    )
    missing = [rule for rule in RULE_NAMES if rule not in present]
    for rule in missing:  # reference data, like the system accounts: not audited
        session.add(seed_row(rule))
    if missing:
        uow.commit(session)
