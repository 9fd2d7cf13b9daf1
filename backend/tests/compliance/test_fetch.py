"""The scheduled refresh of the sanctions lists, against a publisher's server started here on
127.0.0.1: a verified download is swapped in, a failed or cut one keeps the old list, is
audited and raises an alert."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.compliance.models import ComplianceAlert, SanctionsList
from app.core.audit import AuditLog

pytestmark = pytest.mark.postgres

FIXTURES = Path(__file__).parent / "fixtures"
UN = (FIXTURES / "un" / "consolidated.xml").read_bytes()
SDN = (FIXTURES / "ofac" / "SDN.CSV").read_bytes()
ALT = (FIXTURES / "ofac" / "ALT.CSV").read_bytes()
ADD = (FIXTURES / "ofac" / "ADD.CSV").read_bytes()


class Publisher:
    """What each path answers: (status, body, Content-Length sent)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, int | None]] = {}
        self.port = 0

    def serve(self, path: str, body: bytes, *, status: int = 200, length: int | None = None):
        self.routes[path] = (status, body, length)
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    site = Publisher()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, length = site.routes.get(self.path, (404, b"", None))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.send_header("Last-Modified", "Tue, 03 Mar 2026 09:00:00 GMT")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


def _active(db_session, kind):
    db_session.expire_all()
    return db_session.scalar(
        sa.select(SanctionsList).where(SanctionsList.active, SanctionsList.kind == kind)
    )


def _failures(db_session, kind):
    records = db_session.scalars(
        sa.select(AuditLog).where(
            AuditLog.action == "sanctions.fetch", AuditLog.outcome == "failure"
        )
    )
    return [r for r in records if r.changes.get("kind") == kind]


def test_a_verified_download_is_swapped_in_and_an_unchanged_one_changes_nothing(
    app, db_session, publisher, monkeypatch, demo_list_after
):
    url = publisher.serve("/un/consolidated.xml", UN)
    monkeypatch.setitem(app.config, "SANCTIONS_SOURCES", f"un={url}")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sanctions", "fetch"])
    assert result.exit_code == 0, result.output
    assert "un: loaded (2 entries)" in result.output
    loaded = _active(db_session, "un")
    assert loaded is not None and loaded.source == "un:consolidated.xml"
    assert loaded.published_at is not None  # the list's dateGenerated
    again = runner.invoke(args=["sanctions", "fetch", "un"])
    assert again.exit_code == 0 and "un: unchanged" in again.output
    assert _active(db_session, "un").id == loaded.id


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500},
        {"length": len(UN) + 4096},  # the connection closes before the whole body
        {"body": UN[: len(UN) // 2]},  # a whole answer, of half a file
    ],
    ids=["server error", "cut connection", "half a file"],
)
def test_a_failed_download_keeps_the_old_list_is_audited_and_alerts(
    app, db_session, publisher, monkeypatch, demo_list_after, answer
):
    good = publisher.serve("/good/consolidated.xml", UN)
    monkeypatch.setitem(app.config, "SANCTIONS_SOURCES", f"un={good}")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sanctions", "fetch"]).exit_code == 0
    before = _active(db_session, "un")
    failures = len(_failures(db_session, "un"))

    body = answer.get("body", UN)
    bad = publisher.serve(
        "/bad/consolidated.xml", body, status=answer.get("status", 200), length=answer.get("length")
    )
    monkeypatch.setitem(app.config, "SANCTIONS_SOURCES", f"un={bad}")
    result = runner.invoke(args=["sanctions", "fetch"])
    assert result.exit_code == 1 and "un: failed" in result.output
    after = _active(db_session, "un")
    assert (after.id, after.entry_count) == (before.id, before.entry_count)
    assert len(_failures(db_session, "un")) == failures + 1
    alerts = db_session.scalars(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.alert_type == "sanctions_fetch_failed",
            ComplianceAlert.status == "open",
        )
    ).all()
    assert len(alerts) == 1 and "un sanctions list could not be refreshed" in alerts[0].explanation
    runner.invoke(args=["sanctions", "fetch"])  # failing again: the same open alert
    db_session.expire_all()
    assert (
        db_session.scalar(
            sa.select(sa.func.count()).where(
                ComplianceAlert.alert_type == "sanctions_fetch_failed",
                ComplianceAlert.status == "open",
            )
        )
        == 1
    )
    for alert in alerts:  # close it for the next case
        alert.status = "resolved"
    db_session.commit()


def test_the_scheduled_job_fetches_ofac_s_three_files_and_refuses_a_cut_list(
    app, db_session, publisher, monkeypatch, demo_list_after, run_jobs
):
    from app.compliance.tasks import QUEUE, fetch_sanctions_lists
    from app.core import uow
    from app.core.extensions import db
    from app.core.queue import enqueue

    urls = [
        publisher.serve(f"/ofac/{n}", b)
        for n, b in (("SDN.CSV", SDN), ("ALT.CSV", ALT), ("ADD.CSV", ADD))
    ]
    monkeypatch.setitem(app.config, "SANCTIONS_SOURCES", "ofac-sdn=" + " ".join(urls))

    def run_the_job() -> None:
        with app.app_context():
            enqueue(db.session(), fetch_sanctions_lists, queue=QUEUE)
            uow.commit(db.session())
            db.session.remove()
        run_jobs((QUEUE,))

    run_the_job()
    loaded = _active(db_session, "ofac-sdn")
    assert loaded is not None and loaded.entry_count == 4
    assert loaded.published_at.isoformat().startswith("2026-03-03T09:00")  # Last-Modified
    cut = b"\r\n".join(SDN.split(b"\r\n")[:2]) + b"\r\n"  # two of the four entries
    publisher.serve("/ofac/SDN.CSV", cut)
    run_the_job()
    assert _active(db_session, "ofac-sdn").id == loaded.id
    assert any("cut short" in f.changes["reason"] for f in _failures(db_session, "ofac-sdn"))


def test_a_bad_sources_setting_is_refused(app, monkeypatch):
    from app.compliance.fetch import parse_sources

    assert parse_sources(
        "un=https://x/consolidated.xml; ofac-sdn=https://x/SDN.CSV|https://x/ALT.CSV"
    ) == {
        "un": ["https://x/consolidated.xml"],
        "ofac-sdn": ["https://x/SDN.CSV", "https://x/ALT.CSV"],
    }
    for bad in ("nope=https://x/a.csv", "un=", "un=file:///etc/passwd"):
        with pytest.raises(ValueError):
            parse_sources(bad)
