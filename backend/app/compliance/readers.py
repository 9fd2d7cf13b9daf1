"""A list's files, read in their publisher's layout by source: entries, digest, published date.

The command line (`flask sanctions load`) and the scheduled download (`fetch.py`) both hand
their files here as bytes, named as the publisher names them. OFAC's sources take the main
file with its `ALT` and `ADD` companions, told apart by name; the others one file each.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from datetime import datetime

from app.compliance import eu, ofac, uk, un
from app.compliance.list_file import ListFileInvalid, ParsedEntry, parse_list

ONE_FILE = ("un", "eu", "uk", "flowlet-csv")
OFAC = ("ofac-sdn", "ofac-cons")


@dataclass(frozen=True)
class ReadList:
    entries: list[ParsedEntry]
    sha256: str
    published_at: datetime | None
    main: str  # the main file's name


def role_of(name: str) -> str:
    """`main`, `alt` or `add`, from an OFAC file's name (`SDN.CSV`, `CONS_ALT.CSV`…)."""
    stem = os.path.splitext(os.path.basename(name))[0].upper()
    return "alt" if stem.endswith("ALT") else "add" if stem.endswith("ADD") else "main"


def read_files(
    kind: str, files: dict[str, bytes], *, published_at: datetime | None = None
) -> ReadList:
    """Read `files` ({name: content}) as a list of `kind`; `published_at` stands in for a
    layout that states no date (OFAC's CSV)."""
    if kind in ONE_FILE:
        if len(files) != 1:
            raise ListFileInvalid(f"A {kind} list is one file, not {len(files)}.")
        ((name, raw),) = files.items()
        entries, published = _one_file(kind, raw)
        return ReadList(entries, hashlib.sha256(raw).hexdigest(), published, name)
    if kind not in OFAC:
        raise ListFileInvalid(f"No such list source: {kind}.")
    by_role: dict[str, tuple[str, bytes]] = {}
    for name, content in files.items():
        role = role_of(name)
        if role in by_role:
            raise ListFileInvalid(f"Two {role} files: {by_role[role][0]} and {name}.")
        by_role[role] = (name, content)
    if "main" not in by_role:
        raise ListFileInvalid("Give the main file (SDN.CSV or CONS_PRIM.CSV).")
    data = {role: content for role, (_, content) in by_role.items()}
    digest = hashlib.sha256(b"".join(data[r] for r in ("main", "alt", "add") if r in data))
    text = {role: ofac.decode(content) for role, content in data.items()}
    entries = list(ofac.read(text["main"], text.get("alt"), text.get("add")))
    return ReadList(entries, digest.hexdigest(), published_at, by_role["main"][0])


def _one_file(kind: str, raw: bytes) -> tuple[list[ParsedEntry], datetime | None]:
    if kind == "flowlet-csv":
        return list(parse_list(io.StringIO(raw.decode("utf-8-sig")))), None
    if kind == "uk":
        return list(uk.read(raw)), uk.published_at(uk.decode(raw))
    module = un if kind == "un" else eu
    return list(module.read(raw)), module.published_at(module.parse(raw))
