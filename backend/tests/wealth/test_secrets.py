"""Broker credentials cannot be read from a database dump or from Redis, nor from the API."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
import zlib
from urllib.parse import urlparse

import pytest
import redis as redis_lib
import sqlalchemy as sa

from app.wealth import vault
from app.wealth.models import Broker, LinkedAccount
from tests.wealth.conftest import link

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _pg_dump(pg_url: str) -> bytes:
    url = urlparse(pg_url)
    return subprocess.run(
        [
            "pg_dump",
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "--data-only",
            url.path.lstrip("/"),
        ],
        check=True,
        capture_output=True,
    ).stdout


def _redis_contents(redis_url: str) -> bytes:
    """Every key of our Redis database: its DUMP, its values, and zlib-inflated values (RQ
    compresses job data), so a secret cannot hide behind an encoding."""
    client = redis_lib.Redis.from_url(redis_url)
    chunks: list[bytes] = []
    for key in client.scan_iter(count=500):
        chunks.append(key)
        chunks.append(client.dump(key) or b"")
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        elif kind == b"stream":
            values = [
                v for _, fields in client.xrange(key) for pair in fields.items() for v in pair
            ]
        else:
            values = []
        for value in values:
            chunks.append(value)
            with contextlib.suppress(zlib.error):
                chunks.append(zlib.decompress(value))
    client.close()
    return b"\n".join(chunks)


def test_credentials_are_not_readable_in_a_pg_dump_or_in_redis(
    app, client, customer, pg_url, redis_url, sync_jobs
):
    username = f"user-{uuid.uuid4().hex}"
    password = f"pw-{uuid.uuid4().hex}"
    response = link(client, customer, "sandbox", username=f"2fa-{username}", password=password)
    assert response.status_code == 202
    link_id = response.get_json()["linked_account"]["id"]
    sync_jobs()  # a 2FA challenge: broker session state sealed too
    code_response = client.post(
        f"/api/v1/linked-accounts/{link_id}/2fa",
        json={"code": "123456"},
        headers=customer.headers,
    )
    assert code_response.status_code == 202
    # The answer is queued but not yet run: the code is at rest now.
    dump = _pg_dump(pg_url)
    in_redis = _redis_contents(redis_url)
    sync_jobs()
    dump_after = _pg_dump(pg_url)
    in_redis_after = _redis_contents(redis_url)

    # The scans see what they should: the linked account and its jobs are there.
    assert link_id.encode() in dump
    assert code_response.get_json()["job_id"].encode() in in_redis
    assert b"sync_linked_account" in in_redis_after  # inside RQ's compressed job data
    for secret in (username, password):
        for blob in (dump, dump_after, in_redis, in_redis_after):
            assert secret.encode() not in blob
    # Jobs carry the linked account's id and nothing else (no credential, no 2FA code).
    from rq.job import Job

    for job_id in (response.get_json()["job_id"], code_response.get_json()["job_id"]):
        job = Job.fetch(job_id, connection=app.extensions["flowlet_redis"])
        assert len(job.args) == 1 and isinstance(job.args[0], int)
        assert job.kwargs == {}

    listed = client.get("/api/v1/linked-accounts", headers=customer.headers)
    assert password not in listed.get_data(as_text=True)


def test_a_sealed_credential_does_not_open_in_another_row(app, db_session, customer):
    broker_id = db_session.scalar(sa.select(Broker.id).where(Broker.code == "sandbox"))
    first = LinkedAccount(public_id=uuid.uuid4(), user_id=customer.id, broker_id=broker_id)
    second = LinkedAccount(public_id=uuid.uuid4(), user_id=customer.id, broker_id=broker_id)
    db_session.add_all([first, second])
    db_session.flush()
    vault.store_credentials(db_session, first, {"username": "u", "password": "p"})
    assert vault.load_credentials(db_session, first) == {"username": "u", "password": "p"}
    second.credentials_encrypted = first.credentials_encrypted
    with pytest.raises(vault.VaultError):
        vault.load_credentials(db_session, second)
    db_session.rollback()
