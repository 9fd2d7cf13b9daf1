"""Sanctions: matching quality, officer screening, list reloads, re-screening, name changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.compliance.matching import name_tokens, score_names
from app.compliance.models import ComplianceAlert, SanctionsEntry, SanctionsList
from app.core.audit import AuditLog
from tests.factories import make_user

pytestmark = pytest.mark.postgres

SCREEN = "/api/v1/compliance/screenings"


@pytest.mark.parametrize(
    "variant",
    [
        "Semyonovich Viktor Karelin",  # word order
        "Víktor Karélin",  # accents, missing middle name
        "Viktor Semyonovich Karelim",  # one typo
        "Victor Semenovich Karelin",  # transliteration
        "Dr. KARELIN, Viktor",  # honorific, punctuation
        "Виктор Карелин",  # another script
    ],
)
def test_variants_of_a_listed_name_score_above_the_line(variant):
    assert score_names(variant, "KARELIN, Viktor Semyonovich") >= 0.8


@pytest.mark.parametrize(
    "other",
    ["Viktor Karelov", "Victoria Karelina", "Viktor Semyonov", "Ivan Karelin", "Anna Smith"],
)
def test_different_people_stay_below_the_line(other):
    assert score_names(other, "KARELIN, Viktor Semyonovich") < 0.8


def test_normalization_erases_order_case_accents_titles_and_punctuation():
    assert name_tokens("Dr. José-Luis RAMÍREZ ortega") == name_tokens("ortega, jose luis ramirez")


def test_officer_screening_returns_matches_with_list_entries(client, officer, sanctions_list):
    _, headers = officer
    response = client.post(SCREEN, json={"name": "Ortega José Luis Ramírez"}, headers=headers)
    assert response.status_code == 200, response.json
    (match,) = response.json["matches"]
    assert match["name"] == "RAMIREZ ORTEGA, José Luis"
    assert match["program"] == "DEMO-SDNTK" and match["score"] >= 0.8
    assert response.json["threshold"] == 0.8
    assert (
        client.post(SCREEN, json={"name": "Jose Ramos Ortiz"}, headers=headers).json["matches"]
        == []
    )


def test_date_of_birth_and_country_move_the_score(client, officer, sanctions_list):
    _, headers = officer
    base = {"name": "Oksana Hrytsenko"}
    plain = client.post(SCREEN, json=base, headers=headers).json["matches"][0]["score"]
    agreeing = client.post(
        SCREEN, json={**base, "date_of_birth": "1986-01-01", "country": "UA"}, headers=headers
    ).json["matches"][0]["score"]
    assert agreeing > plain
    conflicting = client.post(
        SCREEN, json={**base, "date_of_birth": "2001-05-05", "country": "CA"}, headers=headers
    ).json["matches"]
    assert conflicting == []


def test_the_threshold_is_configurable(app, client, officer, sanctions_list, monkeypatch):
    _, headers = officer
    monkeypatch.setitem(app.config, "SANCTIONS_MATCH_THRESHOLD", 0.99)
    assert (
        client.post(SCREEN, json={"name": "Viktor Karelin"}, headers=headers).json["matches"] == []
    )


def test_a_customer_cannot_change_their_name_to_a_listed_one(
    client, db_session, customer, sanctions_list
):
    user, headers = customer
    refused = client.patch(
        "/api/v1/auth/me", json={"first_name": "Nikolay", "last_name": "Petrenko"}, headers=headers
    )
    assert refused.status_code == 403, refused.json
    assert refused.json["error"]["code"] == "sanctions_hit"
    db_session.expire_all()
    assert db_session.get(User, user.id).last_name == "Customer"
    alert = db_session.scalar(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.user_id == user.id, ComplianceAlert.alert_type == "sanctions_hit"
        )
    )
    assert alert is not None and alert.details["hits"][0]["facts"]["context"] == "name_change"
    refusal = db_session.execute(
        sa.select(AuditLog.outcome, AuditLog.changes).where(
            AuditLog.action == "user.profile_update_refused",
            AuditLog.resource_id == str(user.public_id),
        )
    ).one()
    assert refusal.outcome == "failure" and refusal.changes["reason"] == "sanctions_hit"
    fine = client.patch("/api/v1/auth/me", json={"last_name": "Peterson"}, headers=headers)
    assert fine.status_code == 200 and fine.json["last_name"] == "Peterson"


NEW_LIST = """uid,name,type,program,aliases,dates_of_birth,countries
N-1,"QUILLFEATHER, Bartholomew",individual,DEMO-NEW,"Bart QUILLFEATHER",1970-01-01,GB
N-2,PLUM ORCHARD HOLDINGS,entity,DEMO-NEW,,,GB
"""


def test_reloading_replaces_the_list_atomically_and_rescreens_customers(
    app, db_session, run_jobs, tmp_path, sanctions_list
):
    customer = make_user(db_session, first_name="Bartholomew", last_name="Quillfeather")
    path = tmp_path / "sdn.csv"
    path.write_text(NEW_LIST, encoding="utf-8")
    try:
        result = app.test_cli_runner().invoke(
            args=["sanctions", "load", "--source", "flowlet-csv", "--force", str(path)]
        )
        assert result.exit_code == 0, result.output
        assert "loaded 2 entries" in result.output
        db_session.expire_all()
        active = db_session.scalars(sa.select(SanctionsList).where(SanctionsList.active)).all()
        assert len(active) == 1 and active[0].entry_count == 2
        names = db_session.scalars(sa.select(SanctionsEntry.name)).all()
        assert sorted(names) == ["PLUM ORCHARD HOLDINGS", "QUILLFEATHER, Bartholomew"]

        from app.compliance.sanctions import screen

        with app.app_context():
            from app.core.extensions import db

            assert screen(db.session, name="Viktor Karelin") == []
            assert screen(db.session, name="Bart Quillfeather")[0].program == "DEMO-NEW"
            db.session.remove()

        run_jobs(("maintenance",))
        db_session.expire_all()
        alert = db_session.scalar(
            sa.select(ComplianceAlert).where(
                ComplianceAlert.user_id == customer.id,
                ComplianceAlert.alert_type == "sanctions_hit",
            )
        )
        assert alert is not None and "Re-screening" in alert.explanation
        run_jobs(("maintenance",))  # idempotent: no second hit for the same entry
        db_session.refresh(alert)
        assert alert.hit_count == 1
    finally:
        from app.compliance.sanctions import load_fixture

        with app.app_context():
            from app.core.extensions import db

            load_fixture(db.session)
            db.session.remove()
        run_jobs(("maintenance",))


def test_a_broken_list_file_changes_nothing(app, db_session, tmp_path, sanctions_list):
    path = tmp_path / "broken.csv"
    path.write_text("uid,name,program\nX-1,,DEMO\n", encoding="utf-8")
    before = db_session.scalar(sa.select(SanctionsList.id).where(SanctionsList.active))
    result = app.test_cli_runner().invoke(
        args=["sanctions", "load", "--source", "flowlet-csv", str(path)]
    )
    assert result.exit_code != 0 and "no name" in result.output
    db_session.expire_all()
    assert db_session.scalar(sa.select(SanctionsList.id).where(SanctionsList.active)) == before


def test_customers_cannot_screen(client, customer):
    _, headers = customer
    assert client.post(SCREEN, json={"name": "x"}, headers=headers).status_code == 403


def test_dob_parsing_accepts_sdn_forms():
    from app.compliance.name_index import dob_adjustment

    assert dob_adjustment(date(1961, 3, 14), ["14 Mar 1961"]) > 0
    assert dob_adjustment(date(1961, 3, 14), ["circa 1961"]) > 0
    assert dob_adjustment(date(1961, 3, 14), ["1975"]) < 0


def test_ofac_s_published_files_load_and_screen(app, db_session, demo_list_after):
    """`flask sanctions load --source ofac-sdn SDN.CSV ALT.CSV ADD.CSV`: the headerless files
    become the active list; aliases and the remarks' dates of birth take part in screening."""
    from app.compliance.sanctions import screen
    from app.core.extensions import db

    files = Path(__file__).parent / "fixtures" / "ofac"
    args = ["sanctions", "load", "--source", "ofac-sdn"]
    result = app.test_cli_runner().invoke(
        args=[*args, str(files / "ADD.CSV"), str(files / "SDN.CSV"), str(files / "ALT.CSV")]
    )
    assert result.exit_code == 0, result.output
    assert "loaded 4 entries" in result.output
    db_session.expire_all()
    active = db_session.scalar(
        sa.select(SanctionsList).where(SanctionsList.active, SanctionsList.kind == "ofac-sdn")
    )
    assert active is not None and active.source == "ofac-sdn:SDN.CSV"
    with app.app_context():
        (hit,) = screen(db.session(), name="Dilshod Qarimov", date_of_birth=date(1961, 3, 14))
        assert hit.program == "SDGT; IRGC"
        assert screen(db.session(), name="Northwind Cargo")[0].entry_type == "entity"
        db.session.remove()


def test_an_ofac_file_with_a_header_row_is_refused_and_changes_nothing(
    app, db_session, tmp_path, sanctions_list
):
    path = tmp_path / "SDN.CSV"
    path.write_text("ent_num,SDN_Name,SDN_Type,Program" + ",x" * 8 + "\r\n", encoding="utf-8")
    before = db_session.scalar(sa.select(SanctionsList.id).where(SanctionsList.active))
    result = app.test_cli_runner().invoke(
        args=["sanctions", "load", "--source", "ofac-sdn", str(path)]
    )
    assert result.exit_code != 0 and "no header row" in result.output
    db_session.expire_all()
    assert db_session.scalar(sa.select(SanctionsList.id).where(SanctionsList.active)) == before


def test_a_list_cut_short_is_refused_and_the_old_one_stays(
    app, db_session, tmp_path, demo_list_after
):
    """A new SDN.CSV with far fewer entries than the active one of the same source (a cut
    download) is refused and audited; `--force` loads it."""

    whole = tmp_path / "full" / "SDN.CSV"
    whole.parent.mkdir()
    rows = [
        f'{n},"LISTED PERSON {n}","individual","SDGT"' + ',"-0- "' * 8 + "\r\n"
        for n in range(1, 21)
    ]
    whole.write_text("".join(rows), encoding="utf-8")
    cut = tmp_path / "cut" / "SDN.CSV"
    cut.parent.mkdir()
    cut.write_text("".join(rows[:15]), encoding="utf-8")  # 25 % fewer
    load = ["sanctions", "load", "--source", "ofac-sdn"]
    runner = app.test_cli_runner()
    assert runner.invoke(args=[*load, str(whole)]).exit_code == 0
    ofac = (SanctionsList.active, SanctionsList.kind == "ofac-sdn")
    loaded = db_session.scalar(sa.select(SanctionsList.id).where(*ofac))
    refused = runner.invoke(args=[*load, str(cut)])
    assert refused.exit_code != 0 and "cut short" in refused.output
    db_session.expire_all()
    active = db_session.scalar(sa.select(SanctionsList).where(*ofac))
    assert active is not None and (active.id, active.entry_count) == (loaded, 20)
    assert (
        db_session.scalar(sa.select(sa.func.count()).where(SanctionsEntry.list_id == loaded)) == 20
    )
    failure = db_session.scalar(
        sa.select(AuditLog)
        .where(AuditLog.action == "sanctions.list_loaded", AuditLog.outcome == "failure")
        .order_by(AuditLog.id.desc())
    )
    assert failure is not None and failure.changes["entries"] == 15
    forced = runner.invoke(args=[*load, "--force", str(cut)])
    assert forced.exit_code == 0 and "loaded 15 entries" in forced.output


def test_the_un_list_loads_and_screens(app, db_session, demo_list_after):
    from app.compliance.sanctions import screen
    from app.core.extensions import db

    path = Path(__file__).parent / "fixtures" / "un" / "consolidated.xml"
    result = app.test_cli_runner().invoke(args=["sanctions", "load", "--source", "un", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded 2 entries" in result.output
    with app.app_context():
        assert screen(db.session(), name="Hamid Rahim Nurzai")[0].program == "Taliban"
        assert screen(db.session(), name="Eastern Lantern Trading Co")[0].entry_type == "entity"
        db.session.remove()


def test_the_eu_list_loads_and_screens(app, db_session, demo_list_after):
    from app.compliance.sanctions import screen
    from app.core.extensions import db

    path = Path(__file__).parent / "fixtures" / "eu" / "sanctions.xml"
    result = app.test_cli_runner().invoke(args=["sanctions", "load", "--source", "eu", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded 2 entries" in result.output
    eu = db_session.scalar(
        sa.select(SanctionsList.id).where(SanctionsList.active, SanctionsList.kind == "eu")
    )
    with app.app_context():
        # The demo list names him too: both active sources are searched.
        hits = screen(db.session(), name="Viktor Karelin", date_of_birth=date(1961, 3, 14))
        (hit,) = [h for h in hits if h.list_version_id == eu]
        assert (hit.program, hit.entry_type) == ("UKR", "individual")
        db.session.remove()


def test_the_uk_list_loads_and_screens(app, db_session, demo_list_after):
    from app.compliance.sanctions import screen
    from app.core.extensions import db

    path = Path(__file__).parent / "fixtures" / "uk" / "UK-Sanctions-List.csv"
    result = app.test_cli_runner().invoke(args=["sanctions", "load", "--source", "uk", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded 3 entries" in result.output
    with app.app_context():
        hits = screen(db.session(), name="Viktor Karelin", date_of_birth=date(1961, 3, 14))
        (hit,) = [h for h in hits if "Russia" in h.program]
        assert hit.entry_type == "individual" and hit.list_entry_id
        assert screen(db.session(), name="Volga Star")[0].name == "VOLGA ZVEZDA LLC"
        db.session.remove()
