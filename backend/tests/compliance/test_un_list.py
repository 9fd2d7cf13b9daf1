"""The UN Security Council Consolidated List in its published XML. No database needed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.compliance import un
from app.compliance.list_file import ListFileInvalid

XML = (Path(__file__).parent / "fixtures" / "un" / "consolidated.xml").read_bytes()


def test_individuals_and_entities_read_with_aliases_dates_and_countries():
    person, company = un.read(XML)
    assert (person.uid, person.name, person.program) == (
        "TAi.901",
        "HAMID RAHIM NOORZAI",
        "Taliban",
    )
    # good and low-quality aliases (several in one ALIAS_NAME), and the original script
    assert person.aliases == ["Hamid Rahim Nurzai", "Mullah Hamid", "Haji Hamid", "حامد رحیم نورزی"]
    assert person.dates_of_birth == ["1963-05-02", "1962", "1964"]
    assert person.countries == ["AF", "PK"]  # nationality, then the address
    assert person.remarks == "Invented entry in the list's layout, for tests."  # one line
    assert (company.entry_type, company.aliases, company.countries) == (
        "entity",
        ["Tongbang Lantern Trading"],
        ["KP"],
    )


def test_the_generation_date_is_the_list_s_publication():
    assert un.published_at(un.parse(XML)) == datetime(2026, 11, 30, 8, 0, 3, 170000, tzinfo=UTC)


@pytest.mark.parametrize(
    "xml, message",
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aa">]><CONSOLIDATED_LIST/>',
            "document type",
        ),
        (b"<SANCTIONS/>", "root is CONSOLIDATED_LIST"),
        (XML[: len(XML) // 2], "not well-formed"),  # a cut download
        (
            b"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>X</FIRST_NAME>"
            b"</INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>",
            "no reference number",
        ),
    ],
    ids=["doctype", "other root", "cut short", "no reference"],
)
def test_what_is_not_the_consolidated_list_is_refused(xml, message):
    with pytest.raises(ListFileInvalid) as refused:
        list(un.read(xml))
    assert message in refused.value.message
