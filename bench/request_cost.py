"""CPU per request in the app alone: in-process through the Flask test client, no server.

    .venv/bin/python bench/request_cost.py

On the transfer benchmark's database (recreated with 20 customers): a request refused at the
token, `GET /api/v1/accounts`, and a transfer. Prints the process CPU time per request (the
test client included: about 0.08 ms against a bare WSGI app), the floor under which no server
model goes. `BENCH_DB_PREFIX` names the databases, `BENCH_BACKEND` measures another checkout.
Ends with the books checked (`harness.verify_books`): both verifies clean, money unchanged.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid

import transfers
from harness import money, verify_books


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    data = transfers.setup(20)
    users = data["users"]
    before = money(transfers.ENV["DATABASE_URL"])
    env = dict(transfers.ENV)
    os.environ.update(env)
    os.chdir(transfers.BACKEND)
    sys.path.insert(0, str(transfers.BACKEND))
    from main import app

    client = app.test_client()

    def refused() -> int:
        headers = {"Authorization": f"Bearer {random.choice(users)['token']}x"}
        return client.get("/api/v1/accounts", headers=headers).status_code

    def accounts() -> int:
        headers = {"Authorization": f"Bearer {random.choice(users)['token']}"}
        return client.get("/api/v1/accounts", headers=headers).status_code

    def transfer() -> int:
        src, dst = random.sample(users, 2)
        body = {
            "from_account_id": src["account"],
            "to_account_id": dst["account"],
            "amount": "1.00",
            "currency": "USD",
        }
        headers = {"Authorization": f"Bearer {src['token']}", "Idempotency-Key": str(uuid.uuid4())}
        return client.post("/api/v1/transactions/transfer", json=body, headers=headers).status_code

    print("| request | status | CPU ms per request |")
    print("| --- | ---: | ---: |")
    for name, call, expected in (
        ("refused at the token", refused, 401),
        ("GET /api/v1/accounts", accounts, 200),
        ("POST /api/v1/transactions/transfer", transfer, 201),
    ):
        for _ in range(50):  # warm the pools, caches and prepared statements
            assert call() == expected
        started = time.process_time()
        for _ in range(args.requests):
            assert call() == expected
        cpu = (time.process_time() - started) / args.requests
        print(f"| {name} | {expected} | {1000 * cpu:.2f} |")
    print()
    ok = verify_books(transfers.BACKEND, transfers.VENV_BIN, env, money_before=before)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
