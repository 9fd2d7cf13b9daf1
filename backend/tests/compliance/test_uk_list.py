"""The UK Sanctions List (FCDO) in its published CSV layout. No database needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.compliance import uk
from app.compliance.list_file import ListFileInvalid

RAW = (Path(__file__).parent / "fixtures" / "uk" / "UK-Sanctions-List.csv").read_bytes()


def test_rows_of_one_designation_become_one_entry():
    person, company, ship = uk.read(RAW)
    assert (person.uid, person.entry_type) == ("RUS9901", "individual")
    assert person.name == "Viktor Semyonovich KARELIN"  # Name 1..5, then Name 6
    assert person.aliases == ["Виктор Семёнович Карелин", "Viktor KARELINE"]
    assert person.program == "The Russia (Sanctions) (EU Exit) Regulations 2019"
    assert person.dates_of_birth == ["1961-03-14", "1962"]  # 00/00/1962: the year alone
    assert person.countries == ["RU"]
    assert person.remarks.startswith("Invented designation") and "\n" not in person.remarks
    assert (company.name, company.entry_type) == ("VOLGA ZVEZDA LLC", "entity")
    assert company.aliases == ["ООО Волга Звезда", "VOLGA STAR"]
    assert company.countries == ["RU"]
    assert (ship.entry_type, ship.countries) == ("vessel", ["CM"])


def test_the_report_date_is_the_published_date():
    assert uk.published_at(uk.decode(RAW)).date().isoformat() == "2026-03-03"


def test_windows_1252_and_columns_in_another_order_are_read():
    text = RAW.decode("utf-8-sig").replace("KARELIN,Viktor", "KARÉLIN,Viktor")
    lines = text.split("\r\n")
    assert lines[0].startswith("Report Date:")
    raw = "\r\n".join(lines).encode("cp1252", errors="replace")
    names = [entry.name for entry in uk.read(raw)]
    assert names[0] == "Viktor Semyonovich KARÉLIN"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"name,program\nJOHN DOE,SDGT\n", "not the UK Sanctions List"),
        (RAW.replace(b"RUS9903", b""), "no Unique ID"),
    ],
    ids=["our csv", "no id"],
)
def test_what_is_not_the_uk_list_is_refused(raw, message):
    with pytest.raises(ListFileInvalid) as refused:
        list(uk.read(raw))
    assert message in refused.value.message
