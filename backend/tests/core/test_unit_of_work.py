"""The unit of work: staged writes commit with the change or not at all; no bare commits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core import audit, uow
from app.core.audit import AuditLog
from app.core.outbox import JobOutbox
from app.core.queue import enqueue
from tests.outbox.jobs import failing_probe

APP = Path(__file__).resolve().parents[2] / "app"

pytestmark = pytest.mark.postgres


def test_application_code_commits_only_through_the_unit_of_work():
    bare = [
        f"{path.relative_to(APP)}:{number}"
        for path in APP.rglob("*.py")
        if path.name != "uow.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"(?<![\w.])(?:db\.)?session(?:\(\))?\.commit\(\)", line)
    ]
    assert bare == []


def _count(db_session, model, *where) -> int:
    return db_session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_staged_records_and_jobs_commit_with_the_change_or_not_at_all(app, db_session):
    marker = "uow-test-" + str(id(db_session))
    audit.record(db_session, "test.rolled_back", resource_type="test", resource_id=marker)
    enqueue(db_session, failing_probe, marker, queue="maintenance")
    uow.rollback(db_session)
    assert _count(db_session, AuditLog, AuditLog.resource_id == marker) == 0
    assert _count(db_session, JobOutbox, JobOutbox.args[0].as_string() == marker) == 0

    audit.record(db_session, "test.committed", resource_type="test", resource_id=marker)
    enqueue(db_session, failing_probe, marker, queue="maintenance")
    uow.commit(db_session)
    assert _count(db_session, AuditLog, AuditLog.resource_id == marker) == 1
    assert _count(db_session, JobOutbox, JobOutbox.args[0].as_string() == marker) == 1


def test_a_bare_commit_with_staged_items_is_refused(app, db_session):
    audit.record(db_session, "test.bypass", resource_type="test", resource_id="bypass")
    with pytest.raises(uow.StagedWritesLost):
        db_session.commit()
    uow.rollback(db_session)


class Refused(Exception):
    """What the use case raises."""


def _committed(db_session, marker: str) -> list[tuple]:
    """(action, outcome, changes) of the committed records about `marker`, in order."""
    uow.rollback(db_session)
    rows = db_session.execute(
        sa.select(AuditLog.action, AuditLog.outcome, AuditLog.changes)
        .where(AuditLog.resource_id == marker)
        .order_by(AuditLog.id)
    ).all()
    return [tuple(r) for r in rows]


def test_a_refusal_rolls_the_change_back_and_keeps_only_its_record(app, db_session):
    marker = "refusal-" + str(id(db_session))
    audit.record(db_session, "test.change", resource_type="test", resource_id=marker)
    with pytest.raises(Refused):
        audit.refuse(
            db_session, Refused(), "test.refused", resource_type="test", resource_id=marker
        )
    assert _committed(db_session, marker) == [("test.refused", "failure", None)]


def test_a_refusal_keeps_what_also_writes_before_its_record(app, db_session):
    marker = "refusal-also-" + str(id(db_session))
    audit.record(db_session, "test.change", resource_type="test", resource_id=marker)
    with pytest.raises(Refused):
        audit.refuse(
            db_session,
            Refused(),
            "test.refused",
            also=lambda: audit.record(
                db_session, "test.kept", resource_type="test", resource_id=marker
            ),
            resource_type="test",
            resource_id=marker,
        )
    assert _committed(db_session, marker) == [
        ("test.kept", "success", None),
        ("test.refused", "failure", None),
    ]


def test_a_failed_attempt_keeps_the_change_with_its_record(app, db_session):
    marker = "failure-" + str(id(db_session))
    audit.record(db_session, "test.change", resource_type="test", resource_id=marker)
    with pytest.raises(Refused):
        audit.fail(
            db_session,
            Refused(),
            "test.failed",
            resource_type="test",
            resource_id=marker,
            changes={"reason": "wrong"},
        )
    assert _committed(db_session, marker) == [
        ("test.change", "success", None),
        ("test.failed", "failure", {"reason": "wrong"}),
    ]
