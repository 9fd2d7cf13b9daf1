#!/usr/bin/env python3
"""The audit chain's canonical form, and an offline verifier of exported audit files.

This file needs nothing but Python's standard library, so that an auditor can copy it alone
and check an export without the database or the application:

    python3 chain.py audit-2026-01-01_2026-02-01.jsonl      # or .csv

It exits 0 when the file holds, 1 naming the first bad row otherwise. The application uses the
same functions to hash and to verify (`flask audit verify-export FILE` runs `verify_file`).

A record's `digest` is SHA-256 over `canonical(record)`: a JSON array of the hashed fields in
`HASHED_FIELDS` order, elements separated by `, ` (strings as JSON strings, non-ASCII kept,
times as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, `changes` as JSON with sorted keys and no whitespace,
absent values as `null`). Its place in
the chain is `hash = SHA-256(prev_hash "\\n" sequence "\\n" digest)`, the first `prev_hash`
being 64 zeros.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
EXPORT_FORMAT = "flowlet-audit-export/1"
TRAILER_MARK = "#chain"

HASHED_FIELDS = (
    "public_id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "changes",
    "personal_digest",
)

# Columns of an exported row, in CSV order. `id` is the record's public id.
EXPORT_COLUMNS = (
    "sequence",
    "id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "changes",
    "personal_digest",
    "digest",
    "prev_hash",
    "hash",
    "ip",
    "user_agent",
    "personal",
)


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the form `changes` is stored and hashed in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(row: dict[str, Any]) -> bytes:
    """The hashed fields as a JSON array; `changes` may be given as its canonical text."""
    parts = []
    for name in HASHED_FIELDS:
        value = row.get(name)
        if value is None:
            parts.append("null")
        elif name == "changes":
            parts.append(value if isinstance(value, str) else canonical_json(value))
        else:
            if isinstance(value, datetime):
                value = format_time(value)
            parts.append(json.dumps(str(value), ensure_ascii=False))
    return ("[" + ", ".join(parts) + "]").encode()


def content_digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def chain_hash(prev_hash: str, sequence: int, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{sequence}\n{digest}".encode()).hexdigest()


# --- exported files ----------------------------------------------------------------------------


@dataclass
class ExportReport:
    valid: bool = True
    records: int = 0
    gaps: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    last_hash: str | None = None
    trailer: dict[str, Any] | None = None
    problem: str | None = None
    line: int | None = None
    record_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, line: int | None, record_id: str | None, problem: str) -> ExportReport:
        self.valid, self.line, self.record_id, self.problem = False, line, record_id, problem
        return self

    def summary(self) -> str:
        if not self.valid:
            where = f"line {self.line}" if self.line else "file"
            if self.record_id:
                where += f" (record {self.record_id})"
            return f"export BROKEN at {where}: {self.problem}"
        head = ""
        if self.trailer:
            head = (
                f", chain head {self.trailer.get('head_sequence')} {self.trailer.get('head_hash')}"
            )
        return (
            f"export valid: {self.records} records, sequences {self.first_sequence}–"
            f"{self.last_sequence}, {self.gaps} gap(s) left by the export's filters{head}"
        )


class RowsHash:
    """SHA-256 over the exported rows' `sequence:hash` lines, in order (the trailer's rows_hash)."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def add(self, sequence: int, hash_: str) -> None:
        self._h.update(f"{sequence}:{hash_}\n".encode())

    def hexdigest(self) -> str:
        return self._h.hexdigest()


ExportRow = tuple[int, dict[str, Any], None] | tuple[int, None, dict[str, Any]]
"""One line of an export: its number, and either a record's row or the trailer."""


def _rows_from_jsonl(text: io.TextIOBase) -> Iterator[ExportRow]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        doc = json.loads(line)
        if "chain" in doc and "sequence" not in doc:
            yield number, None, doc["chain"]
        else:
            yield number, doc, None


def _rows_from_csv(text: io.TextIOBase) -> Iterator[ExportRow]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None or tuple(header) != EXPORT_COLUMNS:
        raise ValueError("the CSV header is not the audit export's")
    for number, values in enumerate(reader, start=2):
        if values and values[0] == TRAILER_MARK:
            yield number, None, json.loads(values[1])
            continue
        doc: dict[str, Any] = dict(zip(EXPORT_COLUMNS, values, strict=True))
        for name, value in doc.items():
            if value == "":
                doc[name] = None
        doc["sequence"] = int(doc["sequence"])
        yield number, doc, None


@dataclass
class _Walk:
    """What the walk over an export remembers from one row to the next."""

    rows_hash: RowsHash = field(default_factory=RowsHash)
    previous: tuple[int, str] | None = None  # the last row's sequence and hash
    first_gap: tuple[int, str | None, int, int] | None = None  # line, record, from, to


def verify_rows(rows: Iterable[ExportRow]) -> ExportReport:
    """Check each row's digest and hash, the links between adjacent sequences, the trailer."""
    report, walk = ExportReport(), _Walk()
    for row in rows:
        number = row[0]
        if row[2] is not None:
            if report.trailer is not None:
                return report.fail(number, None, "two trailers")
            report.trailer = row[2]
        elif report.trailer is not None:
            return report.fail(number, None, "a row after the trailer")
        elif not _row_holds(report, walk, number, row[1]):
            return report
    return _check_trailer(report, walk)


def _hashed_fields(doc: dict[str, Any]) -> dict[str, Any]:
    hashed = {name: doc.get(name) for name in HASHED_FIELDS}
    hashed["public_id"] = doc.get("id")
    if isinstance(hashed["changes"], str):
        # CSV carries the canonical text; re-canonicalize so that either form verifies.
        hashed["changes"] = canonical_json(json.loads(hashed["changes"]))
    return hashed


def _row_holds(report: ExportReport, walk: _Walk, number: int, doc: dict[str, Any]) -> bool:
    """Check one row and count it; False (the report failed) when it does not hold."""
    record_id = doc.get("id")
    try:
        sequence = int(doc["sequence"])
        prev_hash, hash_, digest = doc["prev_hash"], doc["hash"], doc["digest"]
    except (KeyError, TypeError, ValueError):
        report.fail(number, record_id, "a row without sequence, prev_hash or hash")
        return False
    problem = None
    if content_digest(_hashed_fields(doc)) != digest:
        problem = "the row's content does not match its digest"
    elif chain_hash(prev_hash, sequence, digest) != hash_:
        problem = "the row's hash does not match"
    else:
        problem = _link_problem(report, walk, (number, record_id), sequence, prev_hash)
    if problem is not None:
        report.fail(number, record_id, problem)
        return False
    walk.rows_hash.add(sequence, hash_)
    report.records += 1
    report.first_sequence = report.first_sequence or sequence
    report.last_sequence, report.last_hash = sequence, hash_
    walk.previous = (sequence, hash_)
    return True


def _link_problem(
    report: ExportReport, walk: _Walk, where: tuple[int, str | None], sequence: int, prev_hash: str
) -> str | None:
    """The row's link to the row before (a jump in sequence is a gap the filters left)."""
    if walk.previous is None:
        if sequence == 1 and prev_hash != GENESIS_HASH:
            return "the first record does not start the chain"
        return None
    last_sequence, last_hash = walk.previous
    if sequence <= last_sequence:
        return "sequence out of order"
    if sequence == last_sequence + 1:
        return "prev_hash does not match the row before" if prev_hash != last_hash else None
    report.gaps += 1
    walk.first_gap = walk.first_gap or (*where, last_sequence, sequence)
    return None


def _check_trailer(report: ExportReport, walk: _Walk) -> ExportReport:
    """The trailer against the rows: format, gaps, count, rows_hash, last row and head."""
    trailer = report.trailer
    if trailer is None:
        return report.fail(None, None, "no trailer: the file is cut short")
    if trailer.get("format") != EXPORT_FORMAT:
        return report.fail(None, None, f"unknown format {trailer.get('format')!r}")
    if trailer.get("gaps") != report.gaps:
        gap = walk.first_gap
        jump = f" (sequence {gap[2]} to {gap[3]})" if gap else ""
        return report.fail(
            gap[0] if gap else None,
            gap[1] if gap else None,
            f"{report.gaps} sequence gap(s) where the export left {trailer.get('gaps')}: "
            f"rows were removed before this one{jump}",
        )
    if trailer.get("records") != report.records:
        return report.fail(
            None,
            None,
            f"the trailer announces {trailer.get('records')} records, the file holds "
            f"{report.records}: rows were removed or added",
        )
    if trailer.get("rows_hash") != walk.rows_hash.hexdigest():
        return report.fail(None, None, "the rows do not match the trailer's rows_hash")
    return _check_trailer_end(report, trailer)


def _check_trailer_end(report: ExportReport, trailer: dict[str, Any]) -> ExportReport:
    """The last row is the one the trailer names, and the chain head when the export reaches it."""
    if not report.records:
        return report
    if (
        trailer.get("last_sequence") != report.last_sequence
        or trailer.get("last_hash") != report.last_hash
    ):
        return report.fail(None, None, "the last row is not the one the trailer names")
    if (
        trailer.get("head_sequence") == report.last_sequence
        and trailer.get("head_hash") != report.last_hash
    ):
        return report.fail(None, None, "the last row's hash is not the chain head")
    return report


def verify_file(path: str | Path) -> ExportReport:
    """Verify an export (`.csv` or JSON Lines, told apart by its first character)."""
    with open(path, encoding="utf-8", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        try:
            rows = _rows_from_jsonl(handle) if first == "{" else _rows_from_csv(handle)
            return verify_rows(rows)
        except (ValueError, KeyError, TypeError) as exc:
            return ExportReport().fail(None, None, f"unreadable export: {exc}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: chain.py EXPORT_FILE", file=sys.stderr)
        return 2
    report = verify_file(argv[1])
    print(report.summary(), file=sys.stdout if report.valid else sys.stderr)
    return 0 if report.valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
