"""The audit trail for regulators: list, streamed exports verified offline, verify, access."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.core import audit, uow
from app.core.audit import AuditLog
from app.core.audit.chain import verify_file
from app.core.extensions import db
from tests.conftest import create_pg_database, drop_pg_database, make_config, migrate, worker_id
from tests.factories import auth_headers, make_user
from tests.server_helpers import run_gunicorn

pytestmark = pytest.mark.postgres

BASE = "/api/v1/compliance/audit-logs"
VERIFIER = Path(__file__).resolve().parents[2] / "app" / "core" / "audit" / "chain.py"


@pytest.fixture
def officer(app, db_session):
    user = make_user(db_session, role="compliance_officer")
    return user, auth_headers(app, user)


def _records(db_session, resource_type: str, count: int) -> None:
    for n in range(count):
        audit.record(
            db_session,
            "probe.trail",
            resource_type=resource_type,
            resource_id=str(n),
            changes={"amount": f"{n}.00", "email": f"person{n}@example.com"},
        )
        uow.commit(db_session)


def _pages(client, headers, **query) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {**query, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(BASE, query_string=params, headers=headers)
        assert response.status_code == 200, response.json
        items += response.json["items"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items


def test_list_filters_and_pages_every_record_once(client, db_session, officer):
    _, headers = officer
    kind = f"probe-{uuid.uuid4().hex[:8]}"
    _records(db_session, kind, 5)
    items = _pages(client, headers, resource_type=kind)
    assert [item["resource_id"] for item in items] == ["4", "3", "2", "1", "0"]
    first = items[-1]
    assert first["changes"] == {"amount": "0.00", "email": "p***@example.com"}
    assert first["action"] == "probe.trail" and len(first["hash"]) == 64
    assert items[0]["sequence"] > first["sequence"]
    only = client.get(
        BASE, query_string={"resource_type": kind, "resource_id": "3"}, headers=headers
    )
    assert [item["resource_id"] for item in only.json["items"]] == ["3"]
    bad = client.get(BASE, query_string={"cursor": "not-a-cursor!"}, headers=headers)
    assert bad.status_code == 422


def _export(client, headers, fmt, **query):
    response = client.get(f"{BASE}/export", query_string={"format": fmt, **query}, headers=headers)
    assert response.status_code == 200
    return response


def test_csv_and_jsonl_exports_hold_exactly_the_rows_of_the_filtered_list(
    client, db_session, officer, tmp_path
):
    user, headers = officer
    kind = f"probe-{uuid.uuid4().hex[:8]}"
    _records(db_session, kind, 4)
    listed = {
        item["id"] for item in _pages(client, headers, resource_type=kind, **{"from": "2020-01-01"})
    }
    assert len(listed) == 4

    jsonl = _export(client, headers, "jsonl", resource_type=kind, **{"from": "2020-01-01"})
    assert jsonl.mimetype == "application/x-ndjson"
    assert jsonl.headers["Content-Disposition"] == (
        'attachment; filename="audit-log_2020-01-01_now.jsonl"'
    )
    lines = [json.loads(line) for line in jsonl.get_data(as_text=True).splitlines()]
    assert {line["id"] for line in lines[:-1]} == listed
    trailer = lines[-1]["chain"]
    assert trailer["records"] == 4 and trailer["gaps"] >= 0

    csv_response = _export(
        client, headers, "csv", resource_type=kind, **{"from": "2020-01-01", "to": "2999-12-31"}
    )
    assert csv_response.headers["Content-Disposition"] == (
        'attachment; filename="audit-log_2020-01-01_2999-12-31.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(csv_response.get_data(as_text=True))))
    assert {row["id"] for row in rows if row["sequence"] != "#chain"} == listed

    for name, response in (("a.jsonl", jsonl), ("a.csv", csv_response)):
        path = tmp_path / name
        path.write_bytes(response.get_data())
        report = verify_file(path)
        assert report.valid, report.summary()
        assert report.records == 4

    # The export is audited when it starts and when it ends (with the rows' hash).
    started = db_session.scalars(
        sa.select(AuditLog).where(
            AuditLog.action == "audit.exported", AuditLog.actor_id == str(user.public_id)
        )
    ).all()
    completed = db_session.scalars(
        sa.select(AuditLog).where(
            AuditLog.action == "audit.export_completed", AuditLog.actor_id == str(user.public_id)
        )
    ).all()
    assert len(started) == 2 and len(completed) == 2
    assert {c.changes["rows_hash"] for c in completed} == {trailer["rows_hash"]} | {
        json.loads(rows[-1]["id"])["rows_hash"]
    }


def test_verify_endpoint_reports_the_chain_and_its_unsealed_tail(client, officer):
    _, headers = officer
    response = client.get(f"{BASE}/verify", headers=headers)
    assert response.status_code == 200
    body = response.json
    assert body["valid"] is True
    assert body["records_checked"] > 0 and len(body["head_hash"]) == 64
    assert body["unsealed"] >= 0 and "first_invalid_id" not in body


def _officer_only_routes(app) -> list[tuple[str, str]]:
    """Every /api/v1/compliance route whose permission no customer holds."""
    from app.auth.models import Role
    from app.auth.permissions import roles_for

    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/compliance"):
            continue
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "_flowlet_permission", None)
        while permission is None and hasattr(view, "__wrapped__"):
            view = view.__wrapped__
            permission = getattr(view, "_flowlet_permission", None)
        if permission is None or Role.CUSTOMER in roles_for(permission):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<uuid:{argument}>", str(uuid.uuid4())).replace(
                f"<{argument}>", "1"
            )
            path = path.replace(f"<int:{argument}>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_customers_get_403_on_every_officer_endpoint(app, client, db_session):
    customer = make_user(db_session)
    headers = auth_headers(app, customer)
    routes = _officer_only_routes(app)
    paths = {path for _, path in routes}
    assert {BASE, f"{BASE}/export", f"{BASE}/verify"} <= paths
    for method, path in routes:
        response = client.open(path, method=method, json={}, headers=headers)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json["error"]["code"] == "forbidden"


def test_an_admin_reaches_the_trail_only_with_the_officer_role(app, client, db_session):
    admin = make_user(db_session, role="admin")
    assert client.get(BASE, headers=auth_headers(app, admin)).status_code == 403
    from app.auth.models import User

    owner = db_session.get(User, admin.id)
    owner.set_roles(["admin", "compliance_officer"])
    uow.commit(db_session)
    assert client.get(BASE, headers=auth_headers(app, admin)).status_code == 200


# --- 100,000 records, exported and verified offline -----------------------------------------


@pytest.fixture
def big_chain():
    """A database of its own holding 100,000 sealed records, and an officer's client."""
    name = f"flowlet_export_{worker_id()}"
    url = create_pg_database(name)
    app = create_app(make_config(url))
    migrate(app)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"""
                    INSERT INTO audit_log (public_id, txid, occurred_at, actor_id, action,
                        resource_type, resource_id, outcome, changes, digest)
                    SELECT l.public_id, 1, l.occurred_at, l.actor_id, l.action,
                        l.resource_type, l.resource_id, l.outcome, l.changes, {audit.DIGEST_SQL}
                    FROM (SELECT gen_random_uuid() AS public_id,
                                 now() - interval '1 second' * (100000 - g) AS occurred_at,
                                 md5(g::text) AS actor_id, NULL::text AS actor_role,
                                 'transaction.transfer' AS action, 'transaction' AS resource_type,
                                 g::text AS resource_id, 'success' AS outcome,
                                 NULL::text AS request_id, NULL::text AS personal_digest,
                                 ('{{"amount":"' || g || '.00","currency":"USD"}}')::json
                                   AS changes
                          FROM generate_series(1, 100000) g) l
                    """
                )
            )
        audit.seal(db.engine)
        officer = make_user(db.session, role="compliance_officer")
        headers = auth_headers(app, officer)
        db.session.remove()
    try:
        yield app, url.replace("+psycopg", ""), headers
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_pg_database(name)


def _run_standalone(path: Path) -> subprocess.CompletedProcess:
    # -I -S: an isolated interpreter without site-packages, so only the standard library.
    return subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER), str(path)], capture_output=True, text=True
    )


def test_an_export_of_100000_records_verifies_offline_and_tampering_is_found(big_chain, tmp_path):
    app, _, headers = big_chain
    client = app.test_client()
    response = client.get(f"{BASE}/export", query_string={"format": "jsonl"}, headers=headers)
    assert response.status_code == 200
    path = tmp_path / "audit.jsonl"
    path.write_bytes(response.get_data())
    lines = path.read_text().splitlines()
    assert len(lines) >= 100_001

    ok = _run_standalone(path)
    assert ok.returncode == 0, ok.stderr
    assert "export valid: " in ok.stdout

    removed = tmp_path / "removed.jsonl"
    removed.write_text("\n".join(lines[:50_000] + lines[50_001:]) + "\n")
    broken = app.test_cli_runner().invoke(args=["audit", "verify-export", str(removed)])
    assert broken.exit_code == 1
    assert "rows were removed before this one" in broken.output
    assert json.loads(lines[50_001])["id"] in broken.output

    altered = tmp_path / "altered.jsonl"
    row = json.loads(lines[70_000])
    row["changes"]["amount"] = "1.00"
    altered.write_text("\n".join([*lines[:70_000], json.dumps(row), *lines[70_001:]]) + "\n")
    broken = _run_standalone(altered)
    assert broken.returncode == 1
    assert "content does not match its digest" in broken.stderr and row["id"] in broken.stderr

    csv_response = client.get(
        f"{BASE}/export", query_string={"format": "csv", "resource_id": "7"}, headers=headers
    )
    csv_path = tmp_path / "one.csv"
    csv_path.write_bytes(csv_response.get_data())
    assert _run_standalone(csv_path).returncode == 0


def test_an_export_longer_than_the_worker_timeout_is_not_cut(big_chain, tmp_path):
    """A sync worker streaming 100,000 records for longer than its 2 s timeout keeps beating
    its heartbeat between chunks: the whole file arrives and verifies."""
    import http.client
    import time

    _, url, headers = big_chain
    proc, port = run_gunicorn(url, timeout=2)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.monotonic()
        conn.request("GET", f"{BASE}/export?format=jsonl", headers=headers)
        response = conn.getresponse()
        assert response.status == 200
        path = tmp_path / "audit.jsonl"
        with path.open("wb") as out:
            while chunk := response.read(256 * 1024):
                out.write(chunk)
                time.sleep(0.02)  # a client that reads at its own pace
        took = time.monotonic() - started
        assert took > 4, f"the export took {took:.1f} s: too short to prove anything"
        ok = _run_standalone(path)
        assert ok.returncode == 0, ok.stderr
        assert "export valid: " in ok.stdout
        assert len(path.read_text().splitlines()) >= 100_001
    finally:
        proc.terminate()
        proc.wait(timeout=20)
