"""HTTP routes of the audit trail (`/api/v1/compliance/audit-logs`): officers only.

The blueprint keeps its name, `compliance_audit`, the OpenAPI tag these routes (and the
compliance domain's regulatory reports) have always been listed under.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from app.audit import export, trail
from app.audit.schemas import (
    AuditExportArgsSchema,
    AuditListArgsSchema,
    AuditRecordPageSchema,
    AuditVerifySchema,
)
from app.auth.permissions import current_user, require
from app.core import replica
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.pagination import Page
from app.core.streaming import stream

blp = Blueprint(
    "compliance_audit",
    __name__,
    url_prefix="/api/v1/compliance",
    description="The audit trail for regulators and regulatory reports.",
)


def _filters(args: dict[str, Any]) -> trail.AuditFilters:
    start, end = trail.period_bounds(args.pop("start", None), args.pop("end", None))
    return trail.AuditFilters(start=start, end=end, **args)


@blp.route("/audit-logs", methods=["GET"])
@require("audit:read")
@blp.arguments(AuditListArgsSchema, location="query")
@blp.response(200, AuditRecordPageSchema)
def list_audit_logs(args: dict[str, Any]) -> Page:
    """List audit records, filtered, newest first (keyset pages)."""
    limit, cursor = args.pop("limit"), args.pop("cursor")
    session = db.session()
    return trail.list_records(
        session,
        reader=replica.tolerating_lag(session),
        filters=_filters(args),
        limit=limit,
        cursor=cursor,
    )


@blp.route("/audit-logs/export", methods=["GET"])
@require("audit:read")
@blp.arguments(AuditExportArgsSchema, location="query")
@blp.response(200, content_type="application/x-ndjson")
@blp.alt_response(200, content_type="text/csv", success=True, description="format=csv")
def export_audit_logs(args: dict[str, Any]) -> Response:
    """Stream the filtered records as an offline-verifiable CSV or JSON Lines file (audited)."""
    fmt = args.pop("format")
    session = db.session()
    started = export.start_export(
        session,
        reader=replica.tolerating_lag(session),
        officer=current_user(),
        filters=_filters(args),
        fmt=fmt,
    )
    return Response(
        stream(started.lines()),
        mimetype=started.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{started.filename}"'},
    )


@blp.route("/audit-logs/verify", methods=["GET"])
@require("audit:read")
@blp.response(200, AuditVerifySchema)
def verify_audit_logs() -> dict[str, Any]:
    """Seal, then verify the whole audit hash chain; reports the unsealed tail."""
    return trail.verify_chain(db.session(), officer=current_user())
