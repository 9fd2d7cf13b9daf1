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


def _write_version(app, rule: str, params: dict | None) -> None:
    """An approved version of `rule` written straight to the table (no maker-checker): `params`
    over the current ones, or the environment's values (None); the process's cache emptied."""
    from app.compliance.aml.params import params_of
    from app.compliance.aml.versions import defaults, forget_cached, latest_versions
    from app.compliance.models import AmlRuleVersion
    from app.core import uow
    from app.core.extensions import db

    with app.app_context():
        session = db.session()
        latest = latest_versions(session).get(rule)
        base = dict(latest.params) if latest is not None else params_of(defaults(), rule)
        wanted = {**base, **params} if params is not None else params_of(defaults(), rule)
        if wanted != base:
            session.add(
                AmlRuleVersion(
                    rule=rule,
                    status="approved",
                    version=(latest.version if latest is not None else 1) + 1,
                    params=wanted,
                    reason="set by a test",
                )
            )
            uow.commit(session)
        db.session.remove()
    forget_cached(app)


@pytest.fixture
def aml_rule_params(app):
    """Set a rule's parameters for one test (`aml_rule_params("velocity", max_count=3)`);
    every rule is back to the environment's values afterwards."""
    from app.compliance.aml.params import RULE_NAMES

    yield lambda rule, **params: _write_version(app, rule, params)
    for rule in RULE_NAMES:
        _write_version(app, rule, None)
