"""Every GET route answers without any optional parameter: called bare by a user whose role
may call it (with unknown ids in its path), none answers 5xx. An unfiltered list once answered
500."""

from __future__ import annotations

import re
import uuid

import pytest

from app.auth.permissions import roles_for
from tests.factories import auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _bare_path(rule: str) -> str:
    def value(match: re.Match[str]) -> str:
        kind = match.group(1) or "string"
        return {"uuid": str(uuid.uuid4()), "int": "987654321"}.get(kind, "unknown")

    return _CONVERTER.sub(value, rule)


def _get_routes(app):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        yield rule.rule, getattr(view, "_flowlet_permission", None)


def test_every_get_route_answers_bare_without_a_server_error(app, client, db_session):
    users: dict[str, dict[str, str]] = {}
    seen = []
    for rule, permission in sorted(_get_routes(app)):
        headers = {}
        if permission is not None:
            role = sorted(r.value for r in roles_for(permission))[0]
            if role not in users:
                users[role] = auth_headers(app, make_user(db_session, role=role), fresh=True)
            headers = users[role]
        response = client.get(_bare_path(rule), headers=headers)
        seen.append(rule)
        assert response.status_code < 500, (rule, response.status_code, response.get_data()[:300])
    assert "/api/v1/compliance/erasure-requests" in seen
    assert len(seen) > 30
