"""OFAC's list files in their published layout (the "CSV data specifications" of OFAC's SDN
data files): `SDN.CSV`, with its companions `ALT.CSV` (alternate names) and `ADD.CSV`
(addresses), and the consolidated non-SDN lists in the same layout (`CONS_PRIM.CSV`,
`CONS_ALT.CSV`, `CONS_ADD.CSV`).

The files have no header row; their columns are fixed:

- `SDN.CSV`: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
  Vess_flag, Vess_owner, Remarks;
- `ALT.CSV`: ent_num, alt_num, alt_type, alt_name, alt_remarks;
- `ADD.CSV`: ent_num, add_num, address, city/state/province/postal code, country,
  add_remarks.

`-0-` is an empty value (the files often pad it: `"-0- "`). An entity's SDN_Type is empty;
individuals, vessels and aircraft say so. Several programs share the field as `SDGT] [IRGC`.
The remarks hold further facts, separated by `;` and ending with a period: `DOB 10 Mar 1964`,
`alt. DOB 1965`, `nationality Iran`, `citizen Iran`, weak aliases as `a.k.a. 'NAME'`.

Tolerated as the real files have them: quoted fields with commas and line breaks, trailing
blanks, a closing end-of-file byte (`0x1A`), and text in UTF-8 or Windows-1252.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pycountry

from app.compliance.list_file import ENTRY_TYPES, ListFileInvalid, ParsedEntry

NULL = "-0-"
SDN_COLUMNS = 12
ALT_COLUMNS = 5
ADD_COLUMNS = 6

# How OFAC names countries where pycountry's names differ.
_COUNTRY_NAMES = {
    "russia": "RU",
    "burma": "MM",
    "iran": "IR",
    "syria": "SY",
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "venezuela": "VE",
    "bolivia": "BO",
    "tanzania": "TZ",
    "vietnam": "VN",
    "laos": "LA",
    "moldova": "MD",
    "turkey": "TR",
    "congo, democratic republic of the": "CD",
    "congo, republic of the": "CG",
    "cote d'ivoire": "CI",
    "west bank": "PS",
    "gaza": "PS",
    "palestinian": "PS",
    "kosovo": "XK",
}

_WEAK_ALIAS = re.compile(r"a\.k\.a\.\s*'([^']+)'", re.IGNORECASE)
_DOB = re.compile(r"^(?:alt\.\s*)?DOB\s+(.+)$", re.IGNORECASE)
_NATION = re.compile(r"^(?:alt\.\s*)?(?:nationality|citizen)\s+(.+)$", re.IGNORECASE)


@dataclass
class _Listing:
    """One ent_num as the three files describe it."""

    aliases: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)


def decode(raw: bytes) -> str:
    """The files' text: UTF-8 (with or without a byte-order mark), else Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def _value(cell: str) -> str:
    text = cell.strip()
    return "" if text == NULL else text


def _rows(text: str, columns: int, file: str) -> Iterator[list[str]]:
    """The file's records, each with its `columns` values (`-0-` read as empty)."""
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip(" \x1a") for cell in row):
            continue  # a blank line, or the closing end-of-file byte
        if len(row) < columns:
            raise ListFileInvalid(
                f"{file} record {number} has {len(row)} fields; the layout has {columns}.",
                details={"file": [f"{file}: ent_num {row[0].strip()!r}"]},
            )
        values = [_value(cell) for cell in row[:columns]]
        if not values[0].isdigit():
            raise ListFileInvalid(
                f"{file} record {number} starts with {values[0][:40]!r}, not an entity number.",
                details={"file": [f"{file} has no header row in the published layout."]},
            )
        yield values


@functools.lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """The ISO 3166 alpha-2 code of a country as OFAC names it, or None when unknown (cached:
    a list names a few hundred countries in tens of thousands of rows)."""
    text = name.strip().rstrip(".").strip()
    if not text:
        return None
    known = _COUNTRY_NAMES.get(text.lower())
    if known:
        return known
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def _remarks_facts(remarks: str) -> tuple[list[str], list[str], list[str]]:
    """Dates of birth, country codes and weak aliases stated in the remarks."""
    dobs: list[str] = []
    countries: list[str] = []
    for part in remarks.rstrip(".").split(";"):
        fact = part.strip()
        if dob := _DOB.match(fact):
            dobs.append(dob.group(1).strip())
        elif nation := _NATION.match(fact):
            code = country_code(nation.group(1))
            if code:
                countries.append(code)
    return dobs, countries, [alias.strip() for alias in _WEAK_ALIAS.findall(remarks)]


def _companions(alt: str | None, add: str | None) -> dict[str, _Listing]:
    listings: dict[str, _Listing] = defaultdict(_Listing)
    for ent_num, _num, _type, name, _remarks in _rows(alt or "", ALT_COLUMNS, "ALT.CSV"):
        if name:
            listings[ent_num].aliases.append(name)
    for ent_num, *_, country, _remarks in _rows(add or "", ADD_COLUMNS, "ADD.CSV"):
        code = country_code(country)
        if code:
            listings[ent_num].countries.append(code)
    return listings


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def read(sdn: str, alt: str | None = None, add: str | None = None) -> Iterator[ParsedEntry]:
    """The entries of an SDN-layout list: `sdn` the main file's text, `alt` and `add` its
    companions' (either may be missing). Raises `ListFileInvalid` naming the bad record."""
    listings = _companions(alt, add)
    for row in _rows(sdn, SDN_COLUMNS, "SDN.CSV"):
        ent_num, name, sdn_type, program, *_vessel, flag, _owner, remarks = row
        if not name:
            raise ListFileInvalid(f"SDN.CSV entity {ent_num} has no name.")
        listing = listings.get(ent_num, _Listing())
        dobs, nations, weak = _remarks_facts(remarks)
        kind = sdn_type.lower()
        flag_code = country_code(flag) if flag else None
        yield ParsedEntry(
            uid=ent_num,
            name=name,
            entry_type=kind if kind in ENTRY_TYPES else "entity",
            program="; ".join(p.strip() for p in program.split("] [") if p.strip()) or "-",
            aliases=_unique([*listing.aliases, *weak]),
            dates_of_birth=_unique(dobs),
            countries=_unique([*nations, *listing.countries, flag_code or ""]),
            remarks=remarks or None,
        )
