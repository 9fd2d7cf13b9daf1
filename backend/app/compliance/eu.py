"""The EU's consolidated financial sanctions list in its published XML (the Financial Sanctions
Files, `xmlFullSanctionsList_1_1`).

The root `export` (namespace `http://eu.europa.ec/fpi/fsd/export`, with `generationDate`)
holds `sanctionEntity` elements whose data sit in attributes: `logicalId` and
`euReferenceNumber` (`EU.1234.56`); `subjectType@code` (`person`, `enterprise`); its regimes in
`regulation@programme`; names in `nameAlias@wholeName` (`strong` false for a weak alias);
`citizenship`, `address` and `birthdate` with `countryIso2Code` (`00` when unknown);
`birthdate@birthdate` (`1963-05-02`) or its `year`; a `remark`.

It is parsed with defusedxml, like the UN's list.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from app.compliance.list_file import ListFileInvalid, ParsedEntry

NAMESPACE = "{http://eu.europa.ec/fpi/fsd/export}"


def _tag(name: str) -> str:
    return f"{NAMESPACE}{name}"


def _strip_namespace(root: ET.Element) -> ET.Element:
    for node in root.iter():
        if node.tag.startswith(NAMESPACE):
            node.tag = node.tag[len(NAMESPACE) :]
    return root


def parse(xml: bytes) -> ET.Element:
    """The list's root element, its namespace dropped; refuses what is not the EU's list."""
    try:
        root = SafeET.fromstring(xml)
    except DefusedXmlException as exc:
        raise ListFileInvalid(f"The EU list declares entities or a document type ({exc}).") from exc
    except ET.ParseError as exc:
        raise ListFileInvalid(f"The EU list is not well-formed XML ({exc}).") from exc
    if root.tag != _tag("export"):
        raise ListFileInvalid(f"The EU list's root is export in its namespace, not {root.tag}.")
    return _strip_namespace(root)


def published_at(root: ET.Element) -> datetime | None:
    """When the file was generated (`generationDate`), when it says."""
    stamp = root.get("generationDate")
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def _country(node: ET.Element) -> str | None:
    code = (node.get("countryIso2Code") or "").upper()
    return code if len(code) == 2 and code.isalpha() else None


def _entry(node: ET.Element) -> ParsedEntry:
    reference = node.get("euReferenceNumber") or f"EU-{node.get('logicalId', '')}"
    names = [
        (alias.get("wholeName") or "").strip()
        for alias in node.findall("nameAlias")
        if (alias.get("wholeName") or "").strip()
    ]
    if not names or reference == "EU-":
        raise ListFileInvalid(
            "An EU list entry has no reference or no name.",
            details={"file": [f"logicalId {node.get('logicalId') or '?'}"]},
        )
    subject = node.find("subjectType")  # (an element without children is falsy: no `or`)
    kind = subject.get("code", "") if subject is not None else ""
    programmes = [r.get("programme") or "" for r in node.findall("regulation")]
    dobs = [b.get("birthdate") or b.get("year") or "" for b in node.findall("birthdate")]
    places = [*node.findall("citizenship"), *node.findall("address"), *node.findall("birthdate")]
    return ParsedEntry(
        uid=reference,
        name=names[0],
        entry_type="individual" if kind == "person" else "entity",
        program="; ".join(dict.fromkeys(p for p in programmes if p)) or "EU",
        aliases=list(dict.fromkeys(names[1:])),
        dates_of_birth=list(dict.fromkeys(d for d in dobs if d)),
        countries=list(dict.fromkeys(c for c in map(_country, places) if c)),
        remarks=" ".join((node.findtext("remark") or "").split()) or None,
    )


def read(xml: bytes) -> Iterator[ParsedEntry]:
    """The entries of the EU's consolidated list."""
    for node in parse(xml).findall("sanctionEntity"):
        yield _entry(node)
