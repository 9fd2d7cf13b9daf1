"""A rule backtest's report (the job `tasks.run_rule_backtest`): the proposed parameters over a
period of the stored history, next to the current ones and to the alerts actually raised
(`aml.backtest`), as JSON with public ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance.aml.backtest import Found, Tally, run
from app.compliance.aml.params import apply, params_of, validate
from app.compliance.aml.versions import defaults, latest_versions, settings_from
from app.compliance.models import AmlRuleBacktest
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import NotFound
from app.ledger.models import JournalTransaction


class BacktestNotFound(NotFound):
    code, message = "backtest_not_found", "The backtest was not found."


def keep_report(session: Session, *, backtest_id: str, report: dict[str, Any]) -> None:
    """Keep a finished backtest's report with it (audited)."""
    backtest = session.get(AmlRuleBacktest, backtest_id, with_for_update=True)
    if backtest is None:
        return
    backtest.result, backtest.finished_at = report, utcnow()
    audit.record(
        session,
        "compliance.rule_backtest_finished",
        resource_type="aml_rule_backtest",
        resource_id=backtest_id,
        changes={"rule": backtest.rule, "counts": report["counts"]},
    )
    uow.commit(session)


def get_backtest(session: Session, *, backtest_id: str) -> AmlRuleBacktest:
    """A backtest and, once its job ran, its report."""
    backtest = session.get(AmlRuleBacktest, backtest_id)
    if backtest is None:
        raise BacktestNotFound()
    return backtest


LISTS = (
    ("alerts_proposed", "proposed"),
    ("alerts_actual", "actual"),
    ("alerts_added", "added"),
    ("alerts_removed", "removed"),
)


def backtest_report(
    session: Session, *, rule: str, params: dict[str, Any], start: datetime, end: datetime
) -> dict[str, Any]:
    """Run the rule with `params` and with its current version over [start, end)."""
    versions = latest_versions(session)
    current = settings_from(versions, defaults())
    proposed = apply(current, rule, validate(rule, params))
    row = versions.get(rule)
    tally = run(
        session,
        rule=rule,
        proposed=proposed,
        current=current,
        start=start,
        end=end,
        listed=current_app.config["AML_BACKTEST_LISTED"],
    )
    names = _public_names(session, tally)
    counts = tally.counts
    return {
        "rule": rule,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "params": params_of(proposed, rule),
        "current_params": params_of(current, rule),
        "current_version": row.version if row is not None else 1,
        **{key: [_item(f, rule, names) for f in tally.lists.get(name, [])] for key, name in LISTS},
        "added": counts["added"],
        "removed": counts["removed"],
        "counts": {
            name: counts[name]
            for name in ("proposed", "actual", "added", "removed", "current", "current_differs")
        },
        "truncated": any(counts[name] > len(tally.lists.get(name, [])) for _, name in LISTS),
        "postings_read": tally.postings,
        "finished_at": utcnow().isoformat(),
    }


def _public_names(session: Session, tally: Tally) -> dict[str, dict[int, Any]]:
    """The public ids of the customers and transactions of the listed alerts (two reads)."""
    listed = [f for items in tally.lists.values() for f in items]
    users = {f.user_id for f in listed}
    txns = {t for f in listed for t in f.transaction_ids}
    return {
        "users": _by_id(session, User.id, User.public_id, users),
        "transactions": _by_id(session, JournalTransaction.id, JournalTransaction.public_id, txns),
    }


def _by_id(session: Session, key: Any, value: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row[0]: row[1] for row in session.execute(sa.select(key, value).where(key.in_(ids)))}


def _item(found: Found, rule: str, names: dict[str, dict[int, Any]]) -> dict[str, Any]:
    return {
        "customer_id": str(names["users"].get(found.user_id, "")),
        "rule": rule,
        "at": found.at.isoformat(),
        "transaction_ids": sorted(
            str(names["transactions"].get(t, "")) for t in set(found.transaction_ids)
        ),
    }
