"""Compliance fixtures: officers, customers and the invented sanctions list."""

from __future__ import annotations

import pytest

from tests.factories import auth_headers, make_user


@pytest.fixture(scope="session")
def sanctions_list(app):
    """The invented demo list, loaded once per test database."""
    from app.compliance.sanctions import active_list, load_fixture
    from app.core.extensions import db

    with app.app_context():
        current = active_list(db.session, "flowlet-csv")
        if current is None or not current.source.startswith("fixture:"):
            current = load_fixture(db.session)
        list_id = current.id
        db.session.remove()
    return list_id


@pytest.fixture
def demo_list_after(app, run_jobs, sanctions_list):
    """The test loads lists of its own; the invented demo list is loaded back after it, and
    the other sources are retired."""
    yield
    from app.compliance.sanctions import active_versions, load_fixture, retire
    from app.core.extensions import db

    with app.app_context():
        for version in active_versions(db.session()):
            if version.kind != "flowlet-csv":
                retire(db.session(), version.kind)
        load_fixture(db.session())
        db.session.remove()
    run_jobs(("maintenance",))


@pytest.fixture
def officer(app, db_session):
    user = make_user(db_session, role="compliance_officer")
    return user, auth_headers(app, user)


@pytest.fixture
def other_officer(app, db_session):
    user = make_user(db_session, role="compliance_officer")
    return user, auth_headers(app, user)


@pytest.fixture
def customer(app, db_session):
    user = make_user(db_session)
    return user, auth_headers(app, user)


@pytest.fixture
def scripted_monitoring(app, monkeypatch):
    """Feed the AML monitor by hand, at scripted times, instead of from the engine.

    The typology tests post real movements (the ledger stays true) and hand the monitor the
    same postings stamped with the day and hour of their script; the engine's own AML
    observer, which would stamp them with the wall clock, is left out for the test.
    """
    from app.ledger import hooks

    monkeypatch.delitem(hooks.of(app).observers, "aml_monitoring")
