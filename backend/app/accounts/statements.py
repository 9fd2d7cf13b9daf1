"""Statement renderings: JSON document, CSV and PDF (fpdf2)."""

from __future__ import annotations

import csv
import io

from fpdf import FPDF

from app.accounts.services import Statement
from app.core.fields import UTCDateTime
from app.core.money import format_amount

_time = UTCDateTime()


def as_document(st: Statement) -> dict:
    """The statement as the JSON document of `StatementSchema`."""
    cur = st.account.currency
    return {
        "account_id": st.account.public_id,
        "account_number": st.account.account_number,
        "iban": st.account.iban,
        "currency": cur,
        "start": st.start,
        "end": st.end,
        "opening_balance": format_amount(st.opening_balance, cur),
        "closing_balance": format_amount(st.closing_balance, cur),
        "lines": [
            {
                "booked_at": line.booked_at,
                "transaction_id": line.transaction_id,
                "type": line.type,
                "description": line.description,
                "amount": format_amount(line.amount, cur),
                "balance_after": format_amount(line.balance_after, cur),
            }
            for line in st.lines
        ],
    }


def _safe_cell(text: str) -> str:
    # A cell starting with = + - @ would be a formula in a spreadsheet: neutralise it.
    return "'" + text if text[:1] in {"=", "+", "@", "\t", "\r"} else text


def as_csv(st: Statement) -> str:
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
    for line in st.lines:
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
    writer.writerow(
        ["", "", "closing_balance", "", "", format_amount(st.closing_balance, cur), cur]
    )
    return out.getvalue()


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


def render(st: Statement, fmt: str):
    """The statement in `fmt`: a document for JSON, a download response for CSV and PDF."""
    from flask import Response

    if fmt == "json":
        return as_document(st)
    name = f"statement-{st.account.account_number}-{st.start.isoformat()}-{st.end.isoformat()}"
    if fmt == "csv":
        body, mimetype = as_csv(st).encode(), "text/csv; charset=utf-8"
    else:
        body, mimetype = as_pdf(st), "application/pdf"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
