"""Transfers spread over two web instances, one killed (SIGKILL, the whole instance) halfway:
every acknowledged transfer is in the ledger once, nothing is invented, and the ledger and
the audit chain verify."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
import pytest

from app.core.extensions import db
from tests.factories import login_tokens, make_user
from tests.lease.instances import NO_RULES, Instance, call, start_instance
from tests.money_helpers import make_account
from tests.server_helpers import BACKEND

CUSTOMERS = 4
THREADS = 4
LOAD_SECONDS = 8.0
TRANSFER = "/api/v1/transactions/transfer"


@dataclass
class Load:
    instances: list[Instance]
    customers: list[dict]
    attempted: set[str] = field(default_factory=set)
    acked: dict[str, str] = field(default_factory=dict)  # transaction id → key
    looked_up: set[str] = field(default_factory=set)
    retries: int = 0
    dead: set[int] = field(default_factory=set)  # ports that refused a connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def port(self, turn: int) -> int:
        alive = [i.port for i in self.instances if i.port not in self.dead] or [
            i.port for i in self.instances
        ]
        return alive[turn % len(alive)]

    def transfer(self, rnd: random.Random, turn: int) -> None:
        who = rnd.choice(self.customers)
        key = str(uuid.uuid4())
        body = {
            "from_account_id": who["a"],
            "to_account_id": who["b"],
            "amount": f"{rnd.randint(1, 20)}.00",
            "currency": "USD",
            "description": f"lease {key}",
        }
        headers = {"Authorization": f"Bearer {who['token']}", "Idempotency-Key": key}
        with self.lock:
            self.attempted.add(key)
        for attempt in range(60):
            port = self.port(turn + attempt)
            try:
                status, data = call(port, "POST", TRANSFER, body, headers)
            except OSError:
                status, data = None, {}
                with self.lock:
                    self.dead.add(port)
            if status == 201:
                with self.lock:
                    self.acked[data["id"]] = key
                return
            message = (data.get("error") or {}).get("message", "")
            if status == 409 and "carried out" in message:
                with self.lock:  # done, its answer lost with the killed process
                    self.looked_up.add(key)
                return
            assert status is None or status >= 500 or status == 409, (status, data)
            with self.lock:
                self.retries += 1
            time.sleep(0.1)  # the same key, on the next live instance
        raise AssertionError(f"transfer {key} never answered")

    def run(self, seed: int) -> None:
        rnd, turn = random.Random(seed), seed
        while not self.stop.is_set():
            turn += 1
            self.transfer(rnd, turn)


@pytest.fixture
def customers(own_app) -> list[dict]:
    out = []
    with own_app.app_context():
        for _ in range(CUSTOMERS):
            user = make_user(db.session)
            a = make_account(db.session, user, balance="9000.00")
            b = make_account(db.session, user, account_type="savings")
            token = login_tokens(own_app, user).access_token
            out.append({"token": token, "a": str(a.public_id), "b": str(b.public_id)})
        db.session.remove()
    return out


def flask_cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLOWLET_ENV": "testing", "DATABASE_URL": db_url, "LOG_LEVEL": "ERROR"}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "main", *args],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def customer_money(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return int(
            conn.execute(
                "SELECT coalesce(sum(balance), 0) FROM accounts WHERE system_code IS NULL"
            ).fetchone()[0]
        )


def test_killing_one_of_two_instances_halfway_loses_and_invents_nothing(
    own_db, redis_url, customers
) -> None:
    before = customer_money(own_db)
    instances = [start_instance(own_db, redis_url, **NO_RULES) for _ in range(2)]
    load = Load(instances, customers)
    threads = [threading.Thread(target=load.run, args=(i,)) for i in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS / 2)
        instances[0].kill()  # master, workers and relay, mid-request
        time.sleep(LOAD_SECONDS / 2)
        load.stop.set()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for instance in instances:
            instance.kill()
    print(
        f"attempted {len(load.attempted)}, acked {len(load.acked)}, looked up "
        f"{len(load.looked_up)}, retried {load.retries}"
    )
    assert instances[0].port in load.dead  # the kill really cut requests off
    assert len(load.acked) > 20

    with psycopg.connect(own_db) as conn:
        rows = conn.execute(
            "SELECT public_id::text, description FROM journal_transactions"
            " WHERE description LIKE 'lease %'"
        ).fetchall()
    by_key: dict[str, list[str]] = {}
    for public_id, description in rows:
        by_key.setdefault(description.removeprefix("lease "), []).append(public_id)
    assert set(by_key) <= load.attempted  # nothing invented
    assert all(len(ids) == 1 for ids in by_key.values())  # nothing twice
    for transaction_id, key in load.acked.items():  # nothing acknowledged is missing
        assert by_key.get(key) == [transaction_id]
    assert load.looked_up <= set(by_key)
    assert customer_money(own_db) == before  # own-account transfers: the sum stays

    ledger = flask_cli(own_db, "ledger", "verify")
    assert ledger.returncode == 0, ledger.stderr
    audit = flask_cli(own_db, "audit", "verify")
    assert audit.returncode == 0, audit.stderr
