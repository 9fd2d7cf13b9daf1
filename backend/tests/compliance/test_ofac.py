"""OFAC's list files in their published layout: the headerless SDN.CSV with its ALT.CSV and
ADD.CSV companions, `-0-` for empty, facts in the remarks. No database needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.compliance import ofac
from app.compliance.list_file import ListFileInvalid

FILES = Path(__file__).parent / "fixtures" / "ofac"


def _read(name: str) -> str:
    return ofac.decode((FILES / name).read_bytes())


@pytest.fixture
def entries():
    read = ofac.read(_read("SDN.CSV"), _read("ALT.CSV"), _read("ADD.CSV"))
    return {entry.uid: entry for entry in read}


def test_the_headerless_files_read_with_their_companions(entries):
    assert list(entries) == ["36", "173", "306", "4041"]
    cargo = entries["36"]
    assert (cargo.name, cargo.entry_type, cargo.program) == (
        "NORTHWIND CARGO LINES",
        "entity",
        "CUBA",
    )
    assert cargo.aliases == ["NORTHWIND CARGO"]
    assert cargo.countries == ["CU"]  # from ADD.CSV
    assert cargo.dates_of_birth == [] and cargo.remarks is None  # "-0- " is empty


def test_an_individual_s_remarks_give_dates_of_birth_nationality_and_weak_aliases(entries):
    person = entries["173"]
    assert person.entry_type == "individual"
    assert person.program == "SDGT; IRGC"
    assert person.dates_of_birth == ["14 Mar 1961", "1962"]
    assert person.aliases == ["KARIMOV, Dilshod", "QARIMOV, Dilshod", "DILSHOD THE ELDER"]
    assert person.countries == ["RU"]  # nationality Russia, and the Moscow address: once


def test_a_vessel_keeps_its_flag_and_a_remark_may_span_lines(entries):
    vessel = entries["306"]
    assert (vessel.entry_type, vessel.countries) == ("vessel", ["MT"])
    syrian = entries["4041"]
    assert syrian.dates_of_birth == ["circa 1975"]
    assert syrian.countries == ["SY"]
    assert "Subject to Secondary Sanctions" in (syrian.remarks or "")


def test_windows_1252_text_and_missing_companions_are_read():
    raw = '9001,"PÉREZ GÓMEZ, José","individual","SDNTK"' + ',"-0-"' * 8 + "\r\n"
    (entry,) = ofac.read(ofac.decode(raw.encode("cp1252")))
    assert entry.name == "PÉREZ GÓMEZ, José" and entry.aliases == [] and entry.countries == []


def test_a_record_short_of_the_layout_is_refused_with_its_place():
    with pytest.raises(ListFileInvalid) as refused:
        list(ofac.read('36,"CUT SHORT","-0- ","CUBA"\r\n'))
    assert "SDN.CSV record 1 has 4 fields" in refused.value.message


def test_a_csv_with_a_header_row_is_not_taken_for_the_published_layout():
    header = ",".join(["ent_num", "SDN_Name", "SDN_Type", "Program", *["x"] * 8]) + "\r\n"
    with pytest.raises(ListFileInvalid) as refused:
        list(ofac.read(header))
    assert "not an entity number" in refused.value.message
