"""Statements: streamed JSON and CSV, PDF (fpdf2) within the request when short, or by a job."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, jsonify
from fpdf import FPDF
from sqlalchemy.orm import Session

from app.accounts import services
from app.accounts.models import StatementDocument
from app.accounts.services import Statement, StatementLine
from app.auth.models import User
from app.core import audit, replica, uow
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.extensions import db
from app.core.fields import UTCDateTime
from app.core.money import format_amount
from app.core.queue import enqueue, task
from app.core.streaming import stream
from app.ledger.accounts import Account
from app.ledger.queries import get_own_account

_time = UTCDateTime()
_BATCH = 500  # lines per chunk of a streamed statement


def _header(st: Statement) -> dict[str, str | None]:
    cur = st.account.currency
    return {
        "account_id": str(st.account.public_id),
        "account_number": st.account.account_number,
        "iban": st.account.iban,
        "currency": cur,
        "from": st.start.isoformat(),
        "to": st.end.isoformat(),
        "opening_balance": format_amount(st.opening_balance, cur),
        "closing_balance": format_amount(st.closing_balance, cur),
    }


def _line(line: StatementLine, cur: str) -> dict[str, str | None]:
    return {
        "booked_at": _time._serialize(line.booked_at, None, None),
        "transaction_id": str(line.transaction_id),
        "type": line.type,
        "description": line.description,
        "amount": format_amount(line.amount, cur),
        "balance_after": format_amount(line.balance_after, cur),
    }


def as_json(st: Statement) -> Iterator[bytes]:
    """The `StatementSchema` document, produced a batch of lines at a time."""
    cur = st.account.currency
    yield json.dumps(_header(st), separators=(",", ":"))[:-1].encode() + b',"lines":['
    batch: list[str] = []
    first = True
    for line in st.lines:
        batch.append(json.dumps(_line(line, cur), separators=(",", ":")))
        if len(batch) >= _BATCH:
            yield (b"" if first else b",") + ",".join(batch).encode()
            batch, first = [], False
    if batch:
        yield (b"" if first else b",") + ",".join(batch).encode()
    yield b"]}"


def _safe_cell(text: str) -> str:
    # A cell starting with = + - @ would be a formula in a spreadsheet: neutralise it.
    return "'" + text if text[:1] in {"=", "+", "@", "\t", "\r"} else text


def as_csv(st: Statement) -> Iterator[bytes]:
    """The statement as CSV, produced a batch of lines at a time."""
    cur = st.account.currency
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "booked_at",
            "transaction_id",
            "type",
            "description",
            "amount",
            "balance_after",
            "currency",
        ]
    )
    writer.writerow(
        ["", "", "opening_balance", "", "", format_amount(st.opening_balance, cur), cur]
    )
    for n, line in enumerate(st.lines, 1):
        writer.writerow(
            [
                _time._serialize(line.booked_at, None, None),
                str(line.transaction_id),
                line.type,
                _safe_cell(line.description),
                format_amount(line.amount, cur),
                format_amount(line.balance_after, cur),
                cur,
            ]
        )
        if n % _BATCH == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    writer.writerow(
        ["", "", "closing_balance", "", "", format_amount(st.closing_balance, cur), cur]
    )
    yield out.getvalue().encode()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def as_pdf(st: Statement) -> bytes:
    cur = st.account.currency
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "Flowlet account statement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    header = [
        f"Account {st.account.account_number}"
        + (f"  IBAN {st.account.iban}" if st.account.iban else ""),
        f"Period {st.start.isoformat()} to {st.end.isoformat()} (UTC)   Currency {cur}",
        f"Opening balance {format_amount(st.opening_balance, cur)}",
    ]
    for text in header:
        pdf.cell(0, 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (38, 24, 70, 28, 30)
    pdf.set_font("Helvetica", "B", 9)
    for width, title in zip(
        widths, ("Booked (UTC)", "Type", "Description", "Amount", "Balance"), strict=True
    ):
        pdf.cell(width, 6, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for line in st.lines:
        cells = (
            line.booked_at.strftime("%Y-%m-%d %H:%M:%S"),
            line.type,
            _latin1(line.description)[:40],
            format_amount(line.amount, cur),
            format_amount(line.balance_after, cur),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, text, border=1, align="R" if width in (28, 30) else "L")
        pdf.ln()
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, f"Closing balance {format_amount(st.closing_balance, cur)}")
    return bytes(pdf.output())


def filename(st: Statement, fmt: str) -> str:
    account = st.account.account_number
    return f"statement-{account}-{st.start.isoformat()}-{st.end.isoformat()}.{fmt}"


def download(body: bytes | Iterable[bytes], st: Statement, fmt: str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(st, fmt)}"'
    return response


def render(st: Statement, fmt: str) -> Response:
    """The statement in `fmt` as a response; JSON and CSV stream (no `Content-Length`)."""
    if fmt == "json":
        return Response(stream(as_json(st)), content_type="application/json")
    if fmt == "csv":
        return download(stream(as_csv(st)), st, fmt, "text/csv; charset=utf-8")
    return download(as_pdf(st), st, fmt, "application/pdf")


# --- the statement endpoint ----------------------------------------------------------------------


def respond(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    start: date | None,
    end: date | None,
    fmt: str,
    reader: Session | None = None,
) -> Response:
    """The statement as `fmt`; a PDF too long to render within a request is built by a job
    (202 with the job and where to download the document when it is ready).

    The entries are read with `reader` (by default `session`), which may be a replica's.
    """
    st = services.statement(
        session, reader=reader, user=user, account_id=account_id, start=start, end=end
    )
    inline: int = current_app.config["STATEMENT_PDF_INLINE_LINES"]
    if fmt != "pdf" or services.count_lines(reader or session, st, at_most=inline) <= inline:
        return render(st, fmt)
    document = StatementDocument(
        user_id=user.id, account_id=st.account.id, start=st.start, end=st.end, format=fmt
    )
    session.add(document)
    session.flush()
    document.job_id = enqueue(
        session, build_statement_document, document.id, queue="default", owner_id=user.id
    )
    audit.record(
        session,
        "account.statement_requested",
        resource_type="statement_document",
        resource=document,
        changes={"from": st.start.isoformat(), "to": st.end.isoformat(), "format": fmt},
    )
    uow.commit(session)
    url = f"/api/v1/accounts/{st.account.public_id}/statements/{document.public_id}"
    return _accepted(
        {"job_id": document.job_id, "document_id": str(document.public_id), "url": url}
    )


def _accepted(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 202
    return response


def build_document(
    session: Session, *, document_id: int, reader: Session | None = None
) -> StatementDocument | None:
    """Render a requested statement document (the job; safe to run twice); its entries are
    read with `reader` (by default `session`), which may be a replica's."""
    document = session.get(StatementDocument, document_id)
    if document is None or document.content is not None:
        return document
    owner = session.get(User, document.user_id)
    account = session.get(Account, document.account_id)
    if owner is None or account is None:
        raise RuntimeError(f"statement document {document_id}: its user or account is gone")
    st = services.statement(
        session,
        reader=reader,
        user=owner,
        account_id=account.public_id,
        start=document.start,
        end=document.end,
    )
    document.content = as_pdf(st)
    document.ready_at = utcnow()
    uow.commit(session)
    return document


@task
def build_statement_document(document_id: int) -> dict[str, str] | None:
    """The job: render a statement too long for a request; safe to run twice."""
    try:
        session = db.session()
        document = build_document(
            session, document_id=document_id, reader=replica.tolerating_lag(session)
        )
        return {"document_id": str(document.public_id)} if document is not None else None
    finally:
        db.session.remove()


def download_document(
    session: Session, *, user: User, account_id: uuid.UUID, document_id: uuid.UUID
) -> Response:
    """The caller's rendered statement, or 202 while its job is still running."""
    account = get_own_account(session, user=user, account_id=account_id)
    document = session.scalar(
        sa.select(StatementDocument).where(
            StatementDocument.public_id == document_id,
            StatementDocument.account_id == account.id,
            StatementDocument.user_id == user.id,
        )
    )
    if document is None:
        raise NotFound("The statement was not found.")
    if document.content is None:
        return _accepted({"status": "pending", "job_id": document.job_id})
    name = f"statement-{account.account_number}-{document.start}-{document.end}.pdf"
    response = Response(document.content, content_type="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
