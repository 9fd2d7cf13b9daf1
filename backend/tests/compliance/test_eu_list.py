"""The EU's consolidated financial sanctions list in its published XML. No database needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.compliance import eu
from app.compliance.list_file import ListFileInvalid

XML = (Path(__file__).parent / "fixtures" / "eu" / "sanctions.xml").read_bytes()


def test_persons_and_enterprises_read_from_their_attributes():
    person, company = eu.read(XML)
    assert (person.uid, person.entry_type, person.program) == ("EU.9901.01", "individual", "UKR")
    assert person.name == "Viktor Semyonovich KARELIN"
    assert person.aliases == ["Виктор Семёнович Карелин"]
    assert (person.dates_of_birth, person.countries) == (["1961-03-14"], ["RU"])
    assert person.remarks == "Invented entry in the list's layout, for tests."
    assert (company.entry_type, company.aliases) == ("entity", ["Volga Zvezda"])
    assert company.countries == []  # "00", UNKNOWN, is no country


def test_the_generation_date_is_read():
    assert eu.published_at(eu.parse(XML)).isoformat() == "2026-11-29T19:05:12.315000+01:00"


@pytest.mark.parametrize(
    "xml, message",
    [
        (b'<!DOCTYPE x [<!ENTITY a "aa">]><export/>', "declares entities"),
        (b"<export/>", "root is export in its namespace"),
        (XML[: len(XML) // 2], "not well-formed"),
    ],
    ids=["doctype", "no namespace", "cut short"],
)
def test_what_is_not_the_eu_list_is_refused(xml, message):
    with pytest.raises(ListFileInvalid) as refused:
        list(eu.read(xml))
    assert message in refused.value.message
