"""The demo list written in each publisher's layout: OFAC's SDN.CSV with ALT.CSV and ADD.CSV,
the UN's consolidated.xml, the EU's Financial Sanctions Files XML and the UK Sanctions List CSV.

`bench/screening_eval.py --sources` reads each back with Flowlet's loaders and scores the
evaluation set against it: what a layout keeps or loses (the surname's mark, aliases, dates of
birth, countries) shows in its recall and precision. The writers follow the layouts the
loaders' docstrings describe (`app/compliance/{ofac,un,eu,uk}.py`).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

import pycountry
from app.compliance.list_file import ParsedEntry

UK_HEADER = [
    "Last Updated",
    "Unique ID",
    "OFSI Group ID",
    "UN Reference Number",
    "Name 6",
    "Name 1",
    "Name 2",
    "Name 3",
    "Name 4",
    "Name 5",
    "Name type",
    "Alias strength",
    "Title",
    "Name non-latin script",
    "Non-latin script type",
    "Non-latin script language",
    "Regime Name",
    "Designation Type",
    "Designation source",
    "Sanctions Imposed",
    "Other Information",
    "UK Statement of Reasons",
    "Address Line 1",
    "Address Line 2",
    "Address Line 3",
    "Address Line 4",
    "Address Line 5",
    "Address Line 6",
    "Address Postal Code",
    "Address Country",
    "Phone number",
    "Website",
    "Email address",
    "Date Designated",
    "D.O.B",
    "Nationality(/ies)",
    "National Identifier number",
    "National Identifier additional information",
    "Passport number",
    "Passport additional information",
    "Position",
    "Gender",
    "Town of birth",
    "Country of birth",
    "Type of entity",
    "Subsidiaries",
    "Parent company",
    "Business registration number (s)",
    "IMO number",
    "Current owner/operator (s)",
    "Previous owner/operator (s)",
    "Current believed flag of ship",
    "Previous flags",
    "Type of ship",
    "Tonnage of ship",
    "Length of ship",
    "Year Built",
    "Hull identification number (HIN)",
]


def _parts(entry: ParsedEntry) -> tuple[str, str]:
    """(given names, surname) of a person listed as `SURNAME, Given`; ("", name) otherwise."""
    if entry.entry_type == "individual" and "," in entry.name:
        surname, given = (p.strip() for p in entry.name.split(",", 1))
        return given, surname
    return "", entry.name


def _country(code: str) -> str:
    found = pycountry.countries.get(alpha_2=code)
    return str(found.name) if found else code


def _latin(text: str) -> bool:
    return all(ord(c) < 0x250 for c in text)


def to_ofac(entries: list[ParsedEntry]) -> dict[str, bytes]:
    sdn, alt, add = io.StringIO(), io.StringIO(), io.StringIO()
    writer = {
        name: csv.writer(f, lineterminator="\r\n")
        for name, f in (("sdn", sdn), ("alt", alt), ("add", add))
    }
    for number, entry in enumerate(entries, start=1):
        remarks = [
            f"DOB {date.fromisoformat(d):%d %b %Y}" if len(d) == 10 else f"DOB {d}"
            for d in entry.dates_of_birth
        ]
        if entry.entry_type == "individual":
            remarks += [f"nationality {_country(c)}" for c in entry.countries[:1]]
        kind = "" if entry.entry_type == "entity" else entry.entry_type
        writer["sdn"].writerow(
            [number, entry.name, kind or "-0- ", entry.program]
            + ["-0- "] * 7
            + ["; ".join(remarks) + "." if remarks else "-0- "]
        )
        for alias_number, alias in enumerate(entry.aliases, start=1):
            writer["alt"].writerow([number, number * 100 + alias_number, "a.k.a.", alias, "-0- "])
        rest = entry.countries[1:] if entry.entry_type == "individual" else entry.countries
        for place, code in enumerate(rest, start=1):
            writer["add"].writerow(
                [number, number * 100 + place, "-0- ", "-0- ", _country(code), "-0- "]
            )
    return {
        "SDN.CSV": sdn.getvalue().encode(),
        "ALT.CSV": alt.getvalue().encode(),
        "ADD.CSV": add.getvalue().encode(),
    }


def to_un(entries: list[ParsedEntry]) -> bytes:
    root = ET.Element("CONSOLIDATED_LIST", dateGenerated="2026-03-03T00:00:00.000Z")
    people, bodies = ET.SubElement(root, "INDIVIDUALS"), ET.SubElement(root, "ENTITIES")
    for entry in entries:
        person = entry.entry_type == "individual"
        tag = "INDIVIDUAL" if person else "ENTITY"
        node = ET.SubElement(people if person else bodies, tag)
        ET.SubElement(node, "REFERENCE_NUMBER").text = entry.uid
        given, surname = _parts(entry)
        words = [*given.upper().split()[:1], " ".join(given.upper().split()[1:]), surname.upper()]
        for tag_name, text in zip(
            ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME"),
            [w for w in words if w] if person else [entry.name],
            strict=False,
        ):
            ET.SubElement(node, tag_name).text = text
        ET.SubElement(node, "UN_LIST_TYPE").text = entry.program
        latin = [a for a in entry.aliases if _latin(a)]
        other = [a for a in entry.aliases if not _latin(a)]
        if other:
            ET.SubElement(node, "NAME_ORIGINAL_SCRIPT").text = other[0]
        for alias in latin + other[1:]:
            alias_node = ET.SubElement(node, f"{tag}_ALIAS")
            ET.SubElement(alias_node, "QUALITY").text = "Good"
            ET.SubElement(alias_node, "ALIAS_NAME").text = alias
        if person:
            for code in entry.countries[:1]:
                ET.SubElement(ET.SubElement(node, "NATIONALITY"), "VALUE").text = _country(code)
            for dob in entry.dates_of_birth:
                when = ET.SubElement(node, "INDIVIDUAL_DATE_OF_BIRTH")
                ET.SubElement(when, "DATE" if len(dob) == 10 else "YEAR").text = dob
        for code in entry.countries[1:] if person else entry.countries:
            place = ET.SubElement(node, f"{tag}_ADDRESS")
            ET.SubElement(place, "COUNTRY").text = _country(code)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def to_eu(entries: list[ParsedEntry]) -> bytes:
    ns = "http://eu.europa.ec/fpi/fsd/export"
    root = ET.Element(f"{{{ns}}}export", generationDate="2026-03-03T10:00:00.000+01:00")
    for entry in entries:
        node = ET.SubElement(
            root, f"{{{ns}}}sanctionEntity", euReferenceNumber=entry.uid, logicalId=entry.uid
        )
        person = entry.entry_type == "individual"
        ET.SubElement(node, f"{{{ns}}}subjectType", code="person" if person else "enterprise")
        ET.SubElement(node, f"{{{ns}}}regulation", programme=entry.program)
        given, surname = _parts(entry)
        whole = f"{given} {surname.title()}".strip() if person else entry.name
        for name in [whole, *entry.aliases]:
            ET.SubElement(node, f"{{{ns}}}nameAlias", wholeName=name, strong="true")
        for code in entry.countries:
            ET.SubElement(
                node, f"{{{ns}}}citizenship" if person else f"{{{ns}}}address", countryIso2Code=code
            )
        for dob in entry.dates_of_birth:
            attribute = {"birthdate": dob} if len(dob) == 10 else {"year": dob}
            ET.SubElement(node, f"{{{ns}}}birthdate", **attribute)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def to_uk(entries: list[ParsedEntry]) -> bytes:
    out = io.StringIO()
    out.write("Report Date: 03-Mar-2026\r\n")
    writer = csv.DictWriter(out, fieldnames=UK_HEADER, lineterminator="\r\n")
    writer.writeheader()
    kinds = {"individual": "Individual", "entity": "Entity", "vessel": "Ship"}
    for entry in entries:
        given, surname = _parts(entry)
        common = {
            "Unique ID": entry.uid,
            "Regime Name": entry.program,
            "Designation Type": kinds.get(entry.entry_type, "Entity"),
        }
        primary = {
            **common,
            "Name 6": surname,
            "Name type": "Primary Name",
            "D.O.B": "|".join(
                f"{date.fromisoformat(d):%d/%m/%Y}" if len(d) == 10 else f"00/00/{d}"
                for d in entry.dates_of_birth
            ),
            "Nationality(/ies)": "|".join(_country(c) for c in entry.countries),
        }
        for slot, word in zip(("Name 1", "Name 2", "Name 3"), given.split(), strict=False):
            primary[slot] = word
        other = [a for a in entry.aliases if not _latin(a)]
        if other:
            primary["Name non-latin script"] = other[0]
        writer.writerow(primary)
        for alias in [a for a in entry.aliases if _latin(a)] + other[1:]:
            writer.writerow({**common, "Name 6": alias, "Name type": "Alias"})
    return out.getvalue().encode("utf-8")
