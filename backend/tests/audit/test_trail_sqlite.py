"""The audit trail on the embedded default (SQLite): records sealed inline, export verifies."""

from __future__ import annotations

from app import create_app
from app.core import audit, uow
from app.core.audit.chain import verify_file
from app.core.db import utcnow
from app.core.extensions import db
from tests.conftest import make_config, migrate
from tests.factories import auth_headers, make_user


def test_export_verify_and_ctr_on_sqlite(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'flowlet.db'}"))
    migrate(app)
    with app.app_context():
        officer = make_user(db.session, role="compliance_officer")
        for n in range(3):
            audit.record(db.session, "probe.sqlite", resource_id=str(n), changes={"n": n})
            uow.commit(db.session)
        headers = auth_headers(app, officer)
        db.session.remove()
    client = app.test_client()
    listed = client.get("/api/v1/compliance/audit-logs", headers=headers)
    assert listed.status_code == 200
    assert all(item["sequence"] is not None for item in listed.json["items"])  # sealed inline
    export = client.get("/api/v1/compliance/audit-logs/export?format=csv", headers=headers)
    assert export.status_code == 200
    path = tmp_path / "audit.csv"
    path.write_bytes(export.get_data())
    report = verify_file(path)
    assert report.valid, report.summary()
    verified = client.get("/api/v1/compliance/audit-logs/verify", headers=headers)
    assert verified.json["valid"] is True and verified.json["unsealed"] == 0
    today = utcnow().date().isoformat()
    ctr = client.get(
        "/api/v1/compliance/reports/ctr", query_string={"from": today, "to": today}, headers=headers
    )
    assert ctr.status_code == 200 and ctr.json["customers"] == []
    with app.app_context():
        db.engine.dispose()
