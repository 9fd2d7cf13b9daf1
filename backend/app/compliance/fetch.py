"""The scheduled refresh of the sanctions lists from their publishers (`SANCTIONS_SOURCES`).

`SANCTIONS_SOURCES` names each source and its URLs: `kind=url [url…]`, sources separated by
`;` (OFAC's sources take the main file and its ALT and ADD companions, told apart by name).
A download is verified before anything is stored: an HTTP status other than 200, a body
shorter or longer than its `Content-Length`, a body over `SANCTIONS_FETCH_MAX_BYTES`, a file
that does not read in its publisher's layout, or a list cut short (`SANCTIONS_MAX_SHRINK`)
keeps the active version. A verified list with the active version's digest changes nothing;
another is swapped in atomically (`lists.load_entries`). A failure is logged, counted
(`flowlet_sanctions_fetch_total{outcome="failed"}`), audited as a failure of
`sanctions.fetch`, and raises a `sanctions_fetch_failed` alert for officers (one open alert
per source).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import requests
import sqlalchemy as sa
from flask import current_app
from prometheus_client import Counter
from sqlalchemy.orm import Session

from app.compliance.alerts import raise_alert
from app.compliance.list_file import ListFileInvalid
from app.compliance.lists import KINDS, load_entries
from app.compliance.models import AlertStatus, ComplianceAlert, SanctionsList, Severity
from app.compliance.readers import read_files
from app.core import audit, uow

log = logging.getLogger("flowlet.compliance")

FETCHES = Counter(
    "flowlet_sanctions_fetch_total", "Sanctions list downloads by outcome", ["kind", "outcome"]
)
FAILED_ALERT = "sanctions_fetch_failed"


class FetchFailed(Exception):
    """A download that is not the whole list, or not a list."""


@dataclass(frozen=True)
class Fetched:
    kind: str
    outcome: str  # loaded / unchanged / failed
    detail: str
    version_id: int | None = None


def parse_sources(text: str) -> dict[str, list[str]]:
    """`kind=url [url…]; kind=url` as {kind: [url…]}; raises ValueError on a bad source."""
    sources: dict[str, list[str]] = {}
    for part in (p.strip() for p in (text or "").split(";")):
        if not part:
            continue
        kind, _, urls = part.partition("=")
        kind = kind.strip()
        found = urls.replace("|", " ").split()
        if kind not in KINDS or not found:
            raise ValueError(f"SANCTIONS_SOURCES: {part!r} is not kind=url (kinds: {KINDS})")
        if any(urlparse(u).scheme not in ("http", "https") for u in found):
            raise ValueError(f"SANCTIONS_SOURCES: {kind} has a URL that is not http(s)")
        sources[kind] = found
    return sources


def download(url: str) -> tuple[bytes, datetime | None]:
    """The whole body of `url`, verified, and its `Last-Modified` date."""
    limit = int(current_app.config["SANCTIONS_FETCH_MAX_BYTES"])
    timeout = float(current_app.config["SANCTIONS_FETCH_TIMEOUT"])
    try:
        with requests.get(url, timeout=timeout, stream=True) as response:
            if response.status_code != 200:
                raise FetchFailed(f"{url} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=1 << 16):
                body += chunk
                if len(body) > limit:
                    raise FetchFailed(f"{url} is larger than {limit} bytes")
            headers = response.headers
    except requests.RequestException as exc:
        raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    expected = headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != len(body):
        raise FetchFailed(f"{url} sent {len(body)} of {expected} bytes")
    if not body:
        raise FetchFailed(f"{url} sent nothing")
    return bytes(body), _date(headers.get("Last-Modified"))


def _date(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def fetch_source(session: Session, kind: str, urls: list[str]) -> Fetched:
    """Download, verify and swap in one source; a failure keeps the active version."""
    try:
        files: dict[str, bytes] = {}
        modified: datetime | None = None
        for url in urls:
            name = os.path.basename(urlparse(url).path) or kind
            files[name], stamp = download(url)
            modified = modified or stamp
        read = read_files(kind, files, published_at=modified)
        active = session.scalar(
            sa.select(SanctionsList).where(SanctionsList.kind == kind, SanctionsList.active)
        )
        if active is not None and active.sha256 == read.sha256:
            FETCHES.labels(kind, "unchanged").inc()
            return Fetched(kind, "unchanged", f"list {active.id} is current", active.id)
        version = load_entries(
            session,
            read.entries,
            kind=kind,
            source=f"{kind}:{read.main}",
            sha256=read.sha256,
            published_at=read.published_at,
        )
    except (FetchFailed, ListFileInvalid) as exc:
        session.rollback()
        reason = exc.message if isinstance(exc, ListFileInvalid) else str(exc)
        _report_failure(session, kind, reason)
        return Fetched(kind, "failed", reason)
    FETCHES.labels(kind, "loaded").inc()
    return Fetched(kind, "loaded", f"{version.entry_count} entries", version.id)


def _report_failure(session: Session, kind: str, reason: str) -> None:
    """The operator's and the officers' signal: log, metric, audit record, one open alert."""
    FETCHES.labels(kind, "failed").inc()
    log.error("sanctions list download failed", extra={"kind": kind, "reason": reason})
    audit.record(
        session,
        "sanctions.fetch",
        resource_type="sanctions_list",
        outcome="failure",
        changes={"kind": kind, "reason": reason[:500]},
    )
    if not _open_alert_for(session, kind):
        raise_alert(
            session,
            user_id=None,
            alert_type=FAILED_ALERT,
            severity=Severity.HIGH.value,
            explanation=f"The {kind} sanctions list could not be refreshed: {reason[:300]}. "
            "Screening goes on against the version loaded before.",
            details={"kind": kind, "reason": reason[:500]},
        )
    uow.commit(session)


def _open_alert_for(session: Session, kind: str) -> bool:
    """Whether an open `sanctions_fetch_failed` alert names `kind` already."""
    details = session.scalars(
        sa.select(ComplianceAlert.details).where(
            ComplianceAlert.alert_type == FAILED_ALERT,
            ComplianceAlert.status == AlertStatus.OPEN.value,
        )
    )
    return any(
        (hit.get("facts") or {}).get("kind") == kind
        for detail in details
        for hit in (detail or {}).get("hits", [])
    )


def fetch_all(session: Session, kinds: list[str] | None = None) -> list[Fetched]:
    """Fetch every source in `SANCTIONS_SOURCES` (or those of `kinds`)."""
    sources = parse_sources(current_app.config["SANCTIONS_SOURCES"])
    return [
        fetch_source(session, kind, urls)
        for kind, urls in sources.items()
        if kinds is None or kind in kinds
    ]
