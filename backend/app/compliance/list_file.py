"""The sanctions list file: the OFAC SDN CSV layout (name, type, program, aliases, dates of
birth, countries; aliases and the like separated by `;`), read entry by entry, and an entry as
the name index sees it. Pure, no database: `sanctions.load_list` stores what `parse_list` reads.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from app.compliance.name_index import IndexedEntry
from app.core.errors import ValidationError

if TYPE_CHECKING:
    from app.compliance.models import SanctionsEntry

ENTRY_TYPES = {"individual", "entity", "vessel", "aircraft"}

# CSV headers accepted for each field (ours first, then the SDN names).
_COLUMNS = {
    "uid": ("uid", "ent_num", "id"),
    "name": ("name", "sdn_name"),
    "type": ("type", "sdn_type"),
    "program": ("program", "programs"),
    "aliases": ("aliases", "alt_names", "aka"),
    "dates_of_birth": ("dates_of_birth", "dob", "dobs"),
    "countries": ("countries", "country", "nationality"),
    "remarks": ("remarks",),
}


class ListFileInvalid(ValidationError):
    pass


class ListShrank(ListFileInvalid):
    """A new version of a list with far fewer entries than the one it would replace: a cut
    download or a publisher's mistake until an operator says otherwise (`--force`)."""

    code = "list_shrank"


@dataclass(frozen=True)
class ParsedEntry:
    uid: str
    name: str
    entry_type: str
    program: str
    aliases: list[str]
    dates_of_birth: list[str]
    countries: list[str]
    remarks: str | None


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def parse_list(stream: IO[str]) -> Iterator[ParsedEntry]:
    """Entries of an SDN-layout CSV; raises `ListFileInvalid` naming the bad line."""
    reader = csv.DictReader(stream)
    headers = {h.strip().lower(): h for h in (reader.fieldnames or [])}
    columns: dict[str, str | None] = {}
    for field, names in _COLUMNS.items():
        columns[field] = next((headers[n] for n in names if n in headers), None)
    if not columns["name"] or not columns["program"]:
        raise ListFileInvalid(
            "The list needs at least the columns name and program.",
            details={"file": [f"Columns found: {', '.join(headers) or 'none'}."]},
        )

    def cell(row: Mapping[str, str | None], field: str) -> str:
        column = columns[field]
        return (row.get(column) or "").strip() if column else ""

    for number, row in enumerate(reader, start=2):
        name = cell(row, "name")
        if not name:
            raise ListFileInvalid(f"Line {number} has no name.")
        entry_type = (cell(row, "type") or "individual").lower()
        if entry_type not in ENTRY_TYPES:
            entry_type = "entity" if entry_type in {"", "-0-"} else entry_type[:16]
        yield ParsedEntry(
            uid=cell(row, "uid") or f"line-{number}",
            name=name,
            entry_type=entry_type,
            program=cell(row, "program") or "-",
            aliases=_split(cell(row, "aliases")),
            dates_of_birth=_split(cell(row, "dates_of_birth")),
            countries=[c.upper() for c in _split(cell(row, "countries"))],
            remarks=cell(row, "remarks") or None,
        )


def indexed(entry: ParsedEntry | SanctionsEntry, entry_id: int) -> IndexedEntry:
    names = (entry.name, *entry.aliases)
    return IndexedEntry(
        entry_id=entry_id,
        name=entry.name,
        program=entry.program,
        names=tuple(names),
        dates_of_birth=tuple(entry.dates_of_birth),
        countries=tuple(entry.countries),
        entity=entry.entry_type != "individual",
        public_id=str(getattr(entry, "public_id", "") or ""),
        entry_type=entry.entry_type,
        list_id=int(getattr(entry, "list_id", 0) or 0),
    )
