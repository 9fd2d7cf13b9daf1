"""The UN Security Council Consolidated List in its published XML (`consolidated.xml`).

`CONSOLIDATED_LIST` (with `dateGenerated`) holds `INDIVIDUALS/INDIVIDUAL` and
`ENTITIES/ENTITY`. Each has a `REFERENCE_NUMBER` (`QDi.001`), its regime in `UN_LIST_TYPE`, its
name in `FIRST_NAME` … `FOURTH_NAME` (an entity: `FIRST_NAME` alone), `NAME_ORIGINAL_SCRIPT`,
aliases (`INDIVIDUAL_ALIAS`/`ENTITY_ALIAS`: `QUALITY` Good, Low, a.k.a. or f.k.a., and
`ALIAS_NAME`, several joined by `; `), `COMMENTS1`, and for a person `NATIONALITY/VALUE`,
`INDIVIDUAL_DATE_OF_BIRTH` (`DATE`, or `YEAR`, or `FROM_YEAR`…`TO_YEAR`) and addresses
(`COUNTRY`). Countries are names: they are kept as ISO codes where known.

It is parsed with defusedxml, which refuses entity declarations and external references (how
XML bombs and file disclosure go off); the list has none.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from app.compliance.list_file import ListFileInvalid, ParsedEntry
from app.compliance.ofac import country_code

_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")


def _text(node: ET.Element, path: str) -> str:
    return re.sub(r"\s+", " ", node.findtext(path) or "").strip()


def _aliases(node: ET.Element, tag: str) -> list[str]:
    names: list[str] = []
    for alias in node.findall(tag):
        for name in _text(alias, "ALIAS_NAME").split(";"):
            if name.strip():
                names.append(name.strip())
    original = _text(node, "NAME_ORIGINAL_SCRIPT")
    return [*names, original] if original else names


def _dates_of_birth(node: ET.Element) -> list[str]:
    dates = []
    for dob in node.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        exact, year = _text(dob, "DATE"), _text(dob, "YEAR")
        span = [_text(dob, "FROM_YEAR"), _text(dob, "TO_YEAR")]
        if exact:
            dates.append(exact[:10])
        elif year:
            dates.append(year)
        dates.extend(y for y in span if y)
    return dates


def _countries(node: ET.Element, address: str) -> list[str]:
    names = [v.text or "" for v in node.findall("NATIONALITY/VALUE")]
    names += [_text(a, "COUNTRY") for a in node.findall(address)]
    codes = (country_code(name) for name in names if name.strip())
    return list(dict.fromkeys(code for code in codes if code))


def _entry(node: ET.Element, *, individual: bool) -> ParsedEntry:
    reference = _text(node, "REFERENCE_NUMBER")
    parts = _NAME_PARTS if individual else _NAME_PARTS[:1]
    name = " ".join(p for p in (_text(node, part) for part in parts) if p)
    if not reference or not name:
        raise ListFileInvalid(
            "A UN list entry has no reference number or no name.",
            details={"file": [f"reference {reference or '?'}, name {name or '?'}"]},
        )
    tag = "INDIVIDUAL" if individual else "ENTITY"
    return ParsedEntry(
        uid=reference,
        name=name,
        entry_type="individual" if individual else "entity",
        program=_text(node, "UN_LIST_TYPE") or "UN",
        aliases=list(dict.fromkeys(_aliases(node, f"{tag}_ALIAS"))),
        dates_of_birth=_dates_of_birth(node) if individual else [],
        countries=_countries(node, f"{tag}_ADDRESS"),
        remarks=_text(node, "COMMENTS1") or None,
    )


def parse(xml: bytes) -> ET.Element:
    """The list's root element; refuses what is not the consolidated list."""
    try:
        root = SafeET.fromstring(xml)
    except DefusedXmlException as exc:
        raise ListFileInvalid(f"The UN list declares entities or a document type ({exc}).") from exc
    except ET.ParseError as exc:
        raise ListFileInvalid(f"The UN list is not well-formed XML ({exc}).") from exc
    if root.tag != "CONSOLIDATED_LIST":
        raise ListFileInvalid(f"The UN list's root is CONSOLIDATED_LIST, not {root.tag}.")
    return root


def published_at(root: ET.Element) -> datetime | None:
    """When the list was generated (`dateGenerated`), when it says."""
    stamp = root.get("dateGenerated")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    except ValueError:
        return None


def read(xml: bytes) -> Iterator[ParsedEntry]:
    """The entries of the consolidated list: its individuals, then its entities."""
    root = parse(xml)
    for node in root.findall("INDIVIDUALS/INDIVIDUAL"):
        yield _entry(node, individual=True)
    for node in root.findall("ENTITIES/ENTITY"):
        yield _entry(node, individual=False)
