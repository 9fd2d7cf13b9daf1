"""The read replica, against a real streaming replica built here: a private primary on its own
port and a `pg_basebackup -R` standby of it (tests/pg_cluster.py), removed afterwards.

The named reads (audit list and export, statements, the CTR report, wealth history, rule
backtests) run on the replica; a paused, lagging or unreachable replica sends them to the
primary and counts it; a request that writes never reads from the replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from prometheus_client import REGISTRY

from app import create_app
from app.compliance import tasks as compliance_tasks
from app.core import audit, replica, uow
from app.core.extensions import db
from tests.conftest import IN_CI, make_config, migrate
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post, send_transfer
from tests.pg_cluster import PrivateReplication, _free_ports, start_replication

pytestmark = pytest.mark.postgres

AUDIT = "/api/v1/compliance/audit-logs"
MAX_LAG = 1.0


@pytest.fixture(scope="module")
def replication() -> Iterator[PrivateReplication]:
    try:
        cluster = start_replication()
    except (OSError, RuntimeError) as exc:
        if IN_CI:
            pytest.fail(f"cannot build a private replica: {exc}", pytrace=False)
        pytest.skip(f"cannot build a private replica: {exc}")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def rapp(replication: PrivateReplication) -> Iterator[Flask]:
    """The app on the private primary, its lag-tolerant reads on the replica (checked per read)."""
    replication.execute(replication.primary_port, "CREATE DATABASE flowlet")
    app = create_app(
        make_config(
            replication.url(replication.primary_port, "flowlet"),
            DATABASE_REPLICA_URL=replication.url(replication.replica_port, "flowlet"),
            REPLICA_MAX_LAG_SECONDS=MAX_LAG,
            REPLICA_CHECK_SECONDS=0,
        )
    )
    migrate(app)
    replication.wait_replayed()
    yield app
    with app.app_context():
        # Every replica session was closed once its response was sent or its job ended.
        assert db.engines[replica.REPLICA].pool.checkedout() == 0
        for engine in db.engines.values():
            engine.dispose()


class Probe:
    """The statements each engine ran (the replica's lag check left out)."""

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engines = {"primary": db.engine, "replica": db.engines[replica.REPLICA]}
        self.seen: dict[str, list[str]] = {"primary": [], "replica": []}
        self._recorders = {name: self._recorder(name) for name in self.engines}
        for name, record in self._recorders.items():
            sa.event.listen(self.engines[name], "before_cursor_execute", record)

    def _recorder(self, name: str):
        def record(conn, cursor, statement, *args):
            if "pg_is_in_recovery" not in statement:
                self.seen[name].append(statement)

        return record

    def ran(self, where: str, fragment: str) -> bool:
        return any(fragment in s for s in self.seen[where])

    def clear(self) -> None:
        self.seen = {"primary": [], "replica": []}

    def close(self) -> None:
        for name, record in self._recorders.items():
            sa.event.remove(self.engines[name], "before_cursor_execute", record)


@pytest.fixture
def probe(rapp: Flask) -> Iterator[Probe]:
    watcher = Probe(rapp)
    yield watcher
    watcher.close()


@pytest.fixture(scope="module")
def people(rapp: Flask):
    """An officer's headers, and a customer with a funded account and their headers."""
    with rapp.app_context():
        session = db.session()
        officer = make_user(session, role="compliance_officer")
        customer = make_user(session)
        account = make_account(session, customer, balance="5000.00")
        other = make_account(session, customer)
        result = (
            auth_headers(rapp, officer),
            auth_headers(rapp, customer),
            account.public_id,
            other.public_id,
        )
        db.session.remove()
    return result


def _fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("flowlet_replica_fallbacks_total", {"reason": reason}) or 0.0


def _record(app: Flask, resource_id: str) -> None:
    with app.app_context():
        audit.record(db.session(), "probe.replica", resource_type="probe", resource_id=resource_id)
        uow.commit(db.session())
        db.session.remove()


def _listed(app: Flask, headers: dict, resource_id: str) -> bool:
    query = {"resource_type": "probe"}
    with app.test_client().get(AUDIT, query_string=query, headers=headers) as answer:
        assert answer.status_code == 200, answer.json
        return any(item["resource_id"] == resource_id for item in answer.json["items"])


def test_a_named_read_gets_a_session_on_the_standby(rapp):
    with rapp.test_request_context("/", method="GET"):
        reader = replica.tolerating_lag(db.session())
        assert reader is not db.session()
        assert reader.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one() is True
        assert db.session.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one() is False


def test_the_named_read_paths_run_on_the_replica(rapp, replication, people, probe):
    officer, customer, account, _ = people
    replication.wait_replayed()
    client = rapp.test_client()
    today = datetime.now(UTC).date()
    statement = f"/api/v1/accounts/{account}/statement"
    probe.clear()
    reads = {
        "audit list": (AUDIT, "ORDER BY audit_log.txid DESC"),
        "audit export": (f"{AUDIT}/export?format=jsonl", "FROM audit_seal JOIN audit_log"),
        "statement": (f"{statement}?format=csv", "ledger_entries"),
        "ctr": (f"/api/v1/compliance/reports/ctr?from={today}&to={today}", "journal_"),
        "wealth history": (f"/api/v1/wealth/history?from={today}&to={today}", "ledger_entries"),
    }
    for name, (url, fragment) in reads.items():
        headers = customer if name in {"statement", "wealth history"} else officer
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, (name, answer.json)
        answer.get_data()  # a streamed body reads as it is sent,
        answer.close()  # and its context (with the replica's session) ends when it is closed
        assert probe.ran("replica", fragment), name
        assert not probe.ran("primary", fragment), name
        probe.clear()
    rapp.config["STATEMENT_PDF_INLINE_LINES"] = 0  # a PDF built by a job (inline: no Redis)
    try:
        with client.get(f"{statement}?format=pdf", headers=customer) as answer:
            assert answer.status_code == 202, answer.json
    finally:
        rapp.config["STATEMENT_PDF_INLINE_LINES"] = 2000
    with client.get(answer.json["url"], headers=customer) as document:
        assert document.status_code == 200
    assert probe.ran("replica", "ledger_entries")
    assert not probe.ran("primary", "ledger_entries")
    assert probe.ran("primary", "INSERT INTO statement_documents")
    probe.clear()
    with rapp.app_context():  # a worker runs a job in an app context, outside any request
        start, end = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC)
        params = {"threshold": "7000"}
        compliance_tasks.run_rule_backtest(
            "cash_threshold", params, start.isoformat(), end.isoformat()
        )
        db.session.remove()
    assert probe.ran("replica", "aml_postings"), probe.seen
    assert not probe.ran("primary", "aml_postings")


def test_a_paused_replica_sends_reads_to_the_primary_until_it_resumes(rapp, replication, people):
    officer = people[0]
    before = _fallbacks("paused")
    replication.execute(replication.replica_port, "SELECT pg_wal_replay_pause()")
    try:
        _record(rapp, "while-paused")
        (seen_on_standby,) = replication.execute(
            replication.replica_port,
            "SELECT count(*) FROM audit_log WHERE resource_id = 'while-paused'",
            dbname="flowlet",
        )
        assert seen_on_standby == 0  # the write is only on the primary
        assert _listed(rapp, officer, "while-paused")
        assert _fallbacks("paused") == before + 1
        health = rapp.test_client().get("/health/detailed").json["components"]["replica"]
        assert health["status"] == "paused" and health["reads"] == "primary"
    finally:
        replication.execute(replication.replica_port, "SELECT pg_wal_replay_resume()")
    replication.wait_replayed()
    counted = _fallbacks("paused")
    probe = Probe(rapp)
    try:
        assert _listed(rapp, officer, "while-paused")
        assert probe.ran("replica", "ORDER BY audit_log.txid DESC")
    finally:
        probe.close()
    assert _fallbacks("paused") == counted
    health = rapp.test_client().get("/health/detailed").json["components"]["replica"]
    assert health["status"] == "ok" and health["reads"] == "replica"


def test_a_replica_behind_by_more_than_the_limit_is_skipped(rapp, replication):
    port = replication.replica_port
    replication.execute(port, "ALTER SYSTEM SET recovery_min_apply_delay = '1min'")
    replication.execute(port, "SELECT pg_reload_conf()")
    try:
        time.sleep(0.2)
        _record(rapp, "delayed")
        time.sleep(MAX_LAG + 0.5)
        with rapp.app_context():
            state = replica.of(rapp).check()
        assert state.reason == "lag" and state.lag_seconds > MAX_LAG
    finally:
        replication.execute(port, "ALTER SYSTEM RESET recovery_min_apply_delay")
        replication.execute(port, "SELECT pg_reload_conf()")
    replication.wait_replayed()
    time.sleep(MAX_LAG + 0.5)  # an idle primary writes nothing: a replica caught up is current
    with rapp.app_context():
        state = replica.of(rapp).check()
    assert state.usable and state.lag_seconds == 0


def test_the_state_is_checked_at_most_once_per_interval(rapp, replication):
    with rapp.app_context():
        guard = replica.Replica(db.engines[replica.REPLICA], max_lag=MAX_LAG, check_every=60)
    first = guard.state()
    assert first.usable
    replication.execute(replication.replica_port, "SELECT pg_wal_replay_pause()")
    try:
        assert guard.state() is first  # no new check within the interval
        guard.forget()
        assert guard.state().reason == "paused"
    finally:
        replication.execute(replication.replica_port, "SELECT pg_wal_replay_resume()")


def test_an_unreachable_replica_sends_reads_to_the_primary(replication):
    (nobody,) = _free_ports(1)
    app = create_app(
        make_config(
            replication.url(replication.primary_port, "flowlet"),
            DATABASE_REPLICA_URL=replication.url(nobody, "flowlet"),
            REPLICA_CHECK_SECONDS=0,
        )
    )
    before = _fallbacks("unreachable")
    with app.test_request_context("/", method="GET"):
        assert replica.tolerating_lag(db.session()) is db.session()
        db.session.remove()
    assert _fallbacks("unreachable") == before + 1
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def test_a_request_that_writes_never_reads_from_the_replica(rapp, replication, people, probe):
    officer, customer, account, other = people
    replication.wait_replayed()
    probe.clear()
    client = rapp.test_client()
    assert send_transfer(client, customer, account, other, "5.00").status_code in {200, 201}
    balance = client.get(f"/api/v1/accounts/{account}/balance", headers=customer)
    assert balance.status_code == 200
    start = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"from": start, "to": datetime.now(UTC).isoformat(), "params": {"threshold": "7000"}}
    backtest = post(client, "/api/v1/compliance/rules/cash_threshold/backtest", officer, body)
    assert backtest.status_code == 202, backtest.json  # its job runs inline, in this request
    assert probe.seen["primary"]
    assert probe.seen["replica"] == []
    with rapp.test_request_context("/", method="POST"):
        before = _fallbacks("writing_request")
        assert replica.tolerating_lag(db.session()) is db.session()
        assert _fallbacks("writing_request") == before + 1
        db.session.remove()


def test_without_a_replica_every_read_stays_on_the_primary(app, client):
    """The suite's own app has no DATABASE_REPLICA_URL: the named reads use the session given."""
    with app.test_request_context("/", method="GET"):
        assert replica.of(app) is None
        assert replica.tolerating_lag(db.session()) is db.session()
        db.session.remove()
    component = client.get("/health/detailed").json["components"]["replica"]
    assert component == {"status": "not_configured", "reads": "primary"}
