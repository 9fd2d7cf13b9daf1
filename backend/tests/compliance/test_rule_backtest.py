"""Rule backtests: alerts raised first by real movements through the per-posting rules (and the
batch), then the rule replayed over the same period as an RQ job on a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.compliance.aml import batch
from app.core.db import utcnow
from app.core.money import parse_amount
from app.transactions.deposits import deposit
from tests.factories import make_user
from tests.money_helpers import make_account, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.usefixtures("aml_rule_params")]

RULES = "/api/v1/compliance/rules"


def _iso(at):
    return at.isoformat().replace("+00:00", "Z")


class Depositor:
    def __init__(self, db_session):
        self.db = db_session
        self.user = make_user(db_session, kyc_status="approved", kyc_level="full")
        self.account = make_account(db_session, self.user, currency="USD")
        self.txns = []

    def cash(self, *amounts):
        for amount in amounts:
            txn = deposit(
                self.db,
                user=self.user,
                account_id=self.account.public_id,
                amount=parse_amount(amount, "USD"),
                currency="USD",
                channel="cash",
            )
            self.txns.append(str(txn.public_id))
        return self


@pytest.fixture
def period(app, db_session):
    """Three customers' cash days, through the engine and its per-posting rules: one over the
    10,000 line (alerted), one at 8,000, one at 6,500 (not alerted); then the nightly batch."""
    start = utcnow()
    people = {
        "over": Depositor(db_session).cash("6000.00", "5000.00"),
        "eight": Depositor(db_session).cash("4000.00", "4000.00"),
        "six": Depositor(db_session).cash("6500.00"),
    }
    end = utcnow() + timedelta(seconds=1)
    with app.app_context():
        from app.core.extensions import db

        assert batch.run_period(db.session, start=start, end=end) == 0  # nothing missed
        db.session.remove()
    return start, end, {name: p for name, p in people.items()}


def _backtest(client, headers, rule, start, end, **params):
    body = {"from": _iso(start), "to": _iso(end)}
    if params:
        body["params"] = params
    return post(client, f"{RULES}/{rule}/backtest", headers, body)


def _result(client, headers, run_jobs, answer):
    """The job's result, once a real worker ran it; the same report is kept with the backtest."""
    assert answer.status_code == 202, answer.json
    kept = f"{RULES}/backtests/{answer.json['job_id']}"
    assert client.get(kept, headers=headers).json["result"] is None
    run_jobs(("maintenance",))
    job = client.get(f"/api/v1/jobs/{answer.json['job_id']}", headers=headers)
    assert job.status_code == 200 and job.json["status"] == "finished", job.json
    assert client.get(kept, headers=headers).json["result"] == job.json["result"]
    return job.json["result"]


def _identities(alerts):
    return sorted((a["customer_id"], tuple(a["transaction_ids"])) for a in alerts)


def _who(person):
    return (str(person.user.public_id), tuple(sorted(person.txns)))


def test_a_backtest_of_the_current_settings_reproduces_the_alerts_raised(
    client, officer, run_jobs, period
):
    start, end, people = period
    _, headers = officer
    result = _result(
        client, headers, run_jobs, _backtest(client, headers, "cash_threshold", start, end)
    )
    assert _identities(result["alerts_actual"]) == [_who(people["over"])]
    assert _identities(result["alerts_proposed"]) == _identities(result["alerts_actual"])
    assert result["added"] == 0 and result["removed"] == 0
    assert result["counts"]["current"] == 1 and result["counts"]["current_differs"] == 0
    assert result["params"] == result["current_params"]
    assert result["postings_read"] >= 5 and result["truncated"] is False


def test_a_looser_threshold_adds_alerts_and_a_tighter_one_removes_them(
    client, officer, run_jobs, period
):
    start, end, people = period
    _, headers = officer
    looser = _result(
        client,
        headers,
        run_jobs,
        _backtest(client, headers, "cash_threshold", start, end, threshold="7000"),
    )
    assert looser["params"] == {"threshold": "7000"}
    assert looser["added"] == 1 and looser["removed"] == 0
    assert _identities(looser["alerts_added"]) == [_who(people["eight"])]
    assert sorted(_identities(looser["alerts_proposed"])) == sorted(
        [_who(people["over"]), _who(people["eight"])]
    )

    tighter = _result(
        client,
        headers,
        run_jobs,
        _backtest(client, headers, "cash_threshold", start, end, threshold="12000"),
    )
    assert tighter["added"] == 0 and tighter["removed"] == 1
    assert _identities(tighter["alerts_removed"]) == [_who(people["over"])]
    assert tighter["alerts_proposed"] == []


def test_a_backtest_of_another_rule_counts_only_that_rule(client, officer, run_jobs, period):
    start, end, people = period
    _, headers = officer
    result = _result(
        client,
        headers,
        run_jobs,
        _backtest(client, headers, "structuring", start, end, near=0.5, min_count=2),
    )
    assert result["rule"] == "structuring" and result["counts"]["actual"] == 0
    # "Just under" is now half the threshold: 6,000 and 5,000 together above it structure;
    # 4,000 twice stays under the threshold.
    assert _identities(result["alerts_added"]) == [_who(people["over"])]
    assert result["removed"] == 0


def test_the_backtest_job_is_its_officers_only(client, officer, other_officer, run_jobs, period):
    start, end, _ = period
    (_, headers), (_, others) = officer, other_officer
    answer = _backtest(client, headers, "velocity", start, end)
    assert answer.status_code == 202
    run_jobs(("maintenance",))
    assert client.get(f"/api/v1/jobs/{answer.json['job_id']}", headers=others).status_code == 404


def test_a_backtest_request_is_validated(client, officer, customer):
    _, headers = officer
    now = utcnow()
    assert _backtest(client, headers, "nope", now - timedelta(days=1), now).status_code == 404
    assert _backtest(client, headers, "velocity", now, now - timedelta(days=1)).status_code == 422
    too_long = _backtest(client, headers, "velocity", now - timedelta(days=5000), now)
    assert too_long.status_code == 422
    bad = _backtest(client, headers, "velocity", now - timedelta(days=1), now, max_count="7")
    assert bad.status_code == 422 and "params.max_count" in bad.json["error"]["details"]
    missing = post(client, f"{RULES}/velocity/backtest", headers, {"from": _iso(now)})
    assert missing.status_code == 422 and "to" in missing.json["error"]["details"]
    _, customer_headers = customer
    assert _backtest(client, customer_headers, "velocity", now, now).status_code == 403
    unknown = client.get(f"{RULES}/backtests/no-such-job", headers=headers)
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "backtest_not_found"
