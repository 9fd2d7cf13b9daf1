"""Sanctions list versions: counts and dates, diffs, the versions a screening was made against,
and re-screening only who could match what changed."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.compliance.models import ComplianceAlert, SanctionsList, SanctionsScreening
from tests.factories import make_user

pytestmark = pytest.mark.postgres

HEADER = "uid,name,type,program,aliases,dates_of_birth,countries\n"
V1 = HEADER + (
    'A-1,"QUILLFEATHER, Bartholomew",individual,DEMO-1,,1970-01-01,GB\n'
    "A-2,PLUM ORCHARD HOLDINGS,entity,DEMO-1,,,GB\n"
    'A-3,"MARCHBANK, Ottoline",individual,DEMO-1,Lina MARCHBANK,1981-05-05,GB\n'
)
V2 = HEADER + (
    'A-1,"QUILLFEATHER, Bartholomew",individual,DEMO-2,Barty QUILLFEATHER,1970-01-01,GB\n'
    'A-3,"MARCHBANK, Ottoline",individual,DEMO-1,Lina MARCHBANK,1981-05-05,GB\n'
    'A-4,"THISTLEDOWN, Peregrine",individual,DEMO-2,,1966-02-02,IE\n'
)
LISTS = "/api/v1/compliance/sanctions/lists"


def _load(app, tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    load = ["sanctions", "load", "--source", "flowlet-csv", "--force", str(path)]
    result = app.test_cli_runner().invoke(args=load)
    assert result.exit_code == 0, result.output


def _version(db_session) -> SanctionsList:
    db_session.expire_all()
    return db_session.scalar(
        sa.select(SanctionsList).where(SanctionsList.active, SanctionsList.kind == "flowlet-csv")
    )


def test_a_reload_records_its_counts_and_what_it_changed(
    app, client, db_session, tmp_path, officer, demo_list_after, run_jobs
):
    _, headers = officer
    _load(app, tmp_path, V1, "v1.csv")
    first = _version(db_session)
    assert (first.entry_count, first.alias_count, first.kind) == (3, 1, "flowlet-csv")
    _load(app, tmp_path, V2, "v2.csv")
    second = _version(db_session)
    assert second.previous_id == first.id
    assert (second.added_count, second.removed_count, second.changed_count) == (1, 1, 1)

    page = client.get(LISTS, headers=headers)
    assert page.status_code == 200
    newest = page.json["items"][0]
    assert newest["id"] == second.id and newest["checksum"] == second.sha256
    assert (newest["entries"], newest["aliases"], newest["active"]) == (3, 2, True)
    assert {"source", "published_at", "loaded_at"} <= set(newest)
    only = client.get(LISTS, query_string={"kind": "eu"}, headers=headers)
    assert only.status_code == 200 and all(i["kind"] == "eu" for i in only.json["items"])
    paged = client.get(LISTS, query_string={"limit": 1}, headers=headers)
    after = client.get(
        LISTS, query_string={"limit": 1, "cursor": paged.json["next_cursor"]}, headers=headers
    )
    assert after.json["items"][0]["id"] == first.id

    diff = client.get(f"{LISTS}/{second.id}/diff", headers=headers)
    assert diff.status_code == 200 and diff.json["version"]["id"] == second.id
    by_uid = {c["source_uid"]: c for c in diff.json["items"]}
    assert {uid: c["change"] for uid, c in by_uid.items()} == {
        "A-1": "changed",
        "A-2": "removed",
        "A-4": "added",
    }
    assert set(by_uid["A-1"]["fields"]) == {"program", "aliases"}
    assert by_uid["A-1"]["fields"]["program"] == ["DEMO-1", "DEMO-2"]
    removed = client.get(
        f"{LISTS}/{second.id}/diff", query_string={"change": "removed"}, headers=headers
    )
    assert [c["source_uid"] for c in removed.json["items"]] == ["A-2"]
    first_page = client.get(f"{LISTS}/{second.id}/diff", query_string={"limit": 2}, headers=headers)
    rest = client.get(
        f"{LISTS}/{second.id}/diff",
        query_string={"limit": 2, "cursor": first_page.json["next_cursor"]},
        headers=headers,
    )
    assert rest.status_code == 200, rest.json
    paged = [c["source_uid"] for c in first_page.json["items"] + rest.json["items"]]
    assert sorted(paged) == ["A-1", "A-2", "A-4"] and rest.json["next_cursor"] is None
    bad_cursor = client.get(
        f"{LISTS}/{second.id}/diff", query_string={"cursor": "not-a-cursor"}, headers=headers
    )
    assert bad_cursor.status_code == 422
    assert client.get(f"{LISTS}/999999/diff", headers=headers).status_code == 404
    bad = client.get(LISTS, query_string={"kind": "nope"}, headers=headers)
    assert bad.status_code == 422
    run_jobs(("maintenance",))


def test_a_reload_rescreens_only_who_could_match_what_changed(
    app, db_session, tmp_path, demo_list_after, run_jobs
):
    from app.compliance import engine_hooks, rescreen
    from app.core.extensions import db

    _load(app, tmp_path, V1, "v1.csv")
    run_jobs(("maintenance",))
    newly = make_user(db_session, first_name="Peregrine", last_name="Thistledown")
    unchanged = make_user(db_session, first_name="Ottoline", last_name="Marchbank")
    payer = make_user(db_session, first_name="Jane", last_name="Ordinary")
    with app.app_context():
        # The payer paid a beneficiary not listed yet: the screening is on record.
        engine_hooks.screen_beneficiary(
            db.session(), user_id=payer.id, name="Peregrine Thistledown", iban="IE29AIBK"
        )
        db.session().commit()
        db.session.remove()
    before = db_session.scalar(sa.select(sa.func.max(SanctionsScreening.id)))

    _load(app, tmp_path, V2, "v2.csv")
    run_jobs(("maintenance",))
    db_session.expire_all()
    again = db_session.execute(
        sa.select(SanctionsScreening.user_id, SanctionsScreening.subject).where(
            SanctionsScreening.id > before,
            SanctionsScreening.context == "rescreen",
            SanctionsScreening.user_id.in_([newly.id, unchanged.id, payer.id]),
        )
    ).all()
    assert sorted(again) == sorted([(newly.id, "customer"), (payer.id, "beneficiary")])
    alerted = db_session.scalars(
        sa.select(ComplianceAlert.user_id).where(
            ComplianceAlert.alert_type == "sanctions_hit",
            ComplianceAlert.user_id.in_([newly.id, unchanged.id, payer.id]),
        )
    ).all()
    assert sorted(alerted) == sorted([newly.id, payer.id])
    run = db_session.scalar(
        sa.select(SanctionsScreening)
        .where(SanctionsScreening.subject == "customers", SanctionsScreening.id > before)
        .order_by(SanctionsScreening.id.desc())
    )
    assert run is not None and run.context == "rescreen_changes"
    assert _version(db_session).id in run.list_ids

    with app.app_context():
        rescreen.rescreen_all(db.session())  # the nightly run screens everyone
        db.session.remove()
    everyone = db_session.scalar(
        sa.select(sa.func.count()).where(
            SanctionsScreening.user_id == unchanged.id, SanctionsScreening.context == "rescreen"
        )
    )
    assert everyone == 1


def test_a_screening_records_its_versions_and_explains_its_match(
    app, client, db_session, officer, sanctions_list
):
    _, headers = officer
    response = client.post(
        "/api/v1/compliance/screenings",
        json={"name": "Viktor Karelin", "date_of_birth": "1961-03-14", "country": "RU"},
        headers=headers,
    )
    assert response.status_code == 200
    top = response.json["matches"][0]
    demo = _version(db_session).id
    assert top["list_version_id"] == demo
    factors = {f["factor"]: f for f in top["factors"]}
    assert factors["name"]["effect"] >= 0.8
    born = factors["date_of_birth"]
    assert born["effect"] > 0 and "1961-03-14" in born["value"]
    assert factors["country"]["effect"] > 0
    assert top["score"] == pytest.approx(
        min(1.0, sum(f["effect"] for f in top["factors"])), abs=1e-3
    )
    db_session.expire_all()
    record = db_session.scalar(
        sa.select(SanctionsScreening)
        .where(SanctionsScreening.subject == "officer")
        .order_by(SanctionsScreening.id.desc())
    )
    assert record.name == "Viktor Karelin" and record.match_count >= 1
    assert demo in record.list_ids


def test_a_match_on_an_alias_says_so(app, sanctions_list):
    from app.compliance.sanctions import screen
    from app.core.extensions import db

    with app.app_context():
        matches = screen(db.session(), name="Виктор Карелин", date_of_birth=date(1961, 3, 14))
        assert matches and matches[0].matched_alias is not None
        assert matches[0].matched_alias != matches[0].name
        db.session.remove()


def test_a_name_in_another_script_is_kept_as_written_beside_its_readings(
    app, client, db_session, officer, sanctions_list
):
    _, headers = officer
    response = client.post(
        "/api/v1/compliance/screenings", json={"name": "Виктор Карелин"}, headers=headers
    )
    assert response.status_code == 200
    top = response.json["matches"][0]
    assert top["name"] == "KARELIN, Viktor Semyonovich"
    assert top["query"]["text"] == "Виктор Карелин" and top["query"]["script"] == "cyrillic"
    assert any("Karelin" in reading for reading in top["query"]["transliterated_as"])
    latin = client.post(
        "/api/v1/compliance/screenings", json={"name": "Viktor Karelin"}, headers=headers
    )
    assert latin.json["matches"][0]["query"] is None
