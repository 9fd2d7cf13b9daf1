"""The UK Sanctions List (FCDO) in its published CSV, `UK-Sanctions-List.csv`.

The first line is a banner, `Report Date: 13-Feb-2026`; the second the header; then one row
per name of a designation, the rows of one designation sharing its `Unique ID` (`RUS0001`).
`Name type` tells a row's name apart: `Primary Name`, `Primary Name Variation` or `Alias`.
Names are split over `Name 1` … `Name 5` (given names) and `Name 6` (the surname, or an
entity's whole name); `Name non-latin script` keeps the original script. `Designation Type`
is `Individual`, `Entity` or `Ship`; `Regime Name` the regulations; `D.O.B` `dd/mm/yyyy`
(`00` for an unknown day or month); `Nationality(/ies)`, `Address Country` and `Country of
birth` name countries in words.

The columns are read by their header, so an added column moves nothing. Tolerated as the
real file has them: quoted fields with commas and line breaks, trailing blanks, a byte-order
mark, and text in UTF-8 or Windows-1252.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.compliance.list_file import ListFileInvalid, ParsedEntry
from app.compliance.ofac import country_code, decode

BANNER = re.compile(r"^\s*Report Date:\s*(\d{1,2}-[A-Za-z]{3}-\d{4})", re.IGNORECASE)
REQUIRED = ("Unique ID", "Name 6", "Name type", "Designation Type", "Regime Name")
NAME_PARTS = ("Name 1", "Name 2", "Name 3", "Name 4", "Name 5", "Name 6")
# Several values in one cell are separated by `|` (`Asset freeze|Travel Ban`).
_MANY = re.compile(r"\s*\|\s*")
_DOB = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
COUNTRY_COLUMNS = (
    "Nationality(/ies)",
    "Address Country",
    "Country of birth",
    "Current believed flag of ship",
)
_TYPES = {"individual": "individual", "entity": "entity", "ship": "vessel"}


@dataclass
class _Designation:
    uid: str
    kind: str
    regimes: list[str] = field(default_factory=list)
    primary: str = ""
    names: list[str] = field(default_factory=list)
    dobs: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    remarks: str = ""


def published_at(text: str) -> datetime | None:
    """The report date of the banner line, when it says one."""
    found = BANNER.match(text.lstrip("\ufeff").split("\n", 1)[0])
    if not found:
        return None
    return datetime.strptime(found.group(1).title(), "%d-%b-%Y").replace(tzinfo=UTC)


def _table(text: str) -> tuple[list[str], Iterator[list[str]]]:
    """The header and the rows after it; refuses a file without the list's header."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    for number, row in enumerate(reader, start=1):
        cells = [cell.strip() for cell in row]
        if all(column in cells for column in REQUIRED):
            return cells, reader
        if number >= 3:
            break
    raise ListFileInvalid(
        "This is not the UK Sanctions List: no header with " + ", ".join(REQUIRED) + ".",
        details={"file": ["The published file starts with 'Report Date:' then the header."]},
    )


def _values(cell: str) -> list[str]:
    return [part for part in _MANY.split(cell.strip()) if part]


def _dob(value: str) -> str:
    """`dd/mm/yyyy` as `YYYY-MM-DD`, or the year alone when day or month is `00`."""
    found = _DOB.match(value.strip())
    if not found:
        return value.strip()
    day, month, year = found.groups()
    if day == "00" or month == "00":
        return year
    return f"{year}-{month}-{day}"


def _add_row(listing: _Designation, row: Mapping[str, str]) -> None:
    name = " ".join(row[part] for part in NAME_PARTS if row.get(part))
    kind = row.get("Name type", "").lower()
    if name and kind == "primary name" and not listing.primary:
        listing.primary = name
    listing.names += [n for n in (name, row.get("Name non-latin script", "")) if n]
    listing.regimes += _values(row.get("Regime Name", ""))
    listing.dobs += [_dob(d) for d in _values(row.get("D.O.B", ""))]
    for column in COUNTRY_COLUMNS:
        listing.countries += [c for c in map(country_code, _values(row.get(column, ""))) if c]
    if not listing.remarks:
        listing.remarks = " ".join(row.get("Other Information", "").split())


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _entry(listing: _Designation) -> ParsedEntry:
    names = _unique(listing.names)
    name = listing.primary or names[0]
    return ParsedEntry(
        uid=listing.uid,
        name=name,
        entry_type=_TYPES.get(listing.kind.lower(), "entity"),
        program="; ".join(_unique(listing.regimes)) or "UK",
        aliases=[n for n in names if n != name],
        dates_of_birth=_unique(listing.dobs),
        countries=_unique(listing.countries),
        remarks=listing.remarks or None,
    )


def read(raw: bytes) -> Iterator[ParsedEntry]:
    """The designations of the UK Sanctions List, one entry each, in the file's order."""
    header, rows = _table(decode(raw))
    listings: dict[str, _Designation] = {}
    for number, cells in enumerate(rows, start=3):
        if not any(cell.strip(" \x1a") for cell in cells):
            continue
        row = {column: cell.strip() for column, cell in zip(header, cells, strict=False)}
        uid = row.get("Unique ID", "")
        if not uid or not any(row.get(part) for part in NAME_PARTS):
            raise ListFileInvalid(
                f"Row {number} of the UK list has no Unique ID or no name.",
                details={"file": [f"row {number}: {','.join(cells)[:80]!r}"]},
            )
        listing = listings.setdefault(uid, _Designation(uid, row.get("Designation Type", "")))
        _add_row(listing, row)
    for listing in listings.values():
        yield _entry(listing)
