"""HTTP routes of the audit trail (`/api/v1/compliance/audit-logs`): officers only."""

from flask import Response

from app.compliance import audit_trail, reports, sar
from app.compliance.audit_schemas import (
    AuditExportArgsSchema,
    AuditListArgsSchema,
    AuditRecordPageSchema,
    AuditVerifySchema,
    CtrArgsSchema,
    CtrReportSchema,
    SarDraftSchema,
)
from app.core.api import Blueprint
from app.core.streaming import stream
from app.edge.permissions import current_user, require
from app.extensions import db

blp = Blueprint(
    "compliance_audit",
    __name__,
    url_prefix="/api/v1/compliance",
    description="The audit trail for regulators and regulatory reports.",
)


def _filters(args: dict) -> audit_trail.AuditFilters:
    start, end = audit_trail.period_bounds(args.pop("start", None), args.pop("end", None))
    return audit_trail.AuditFilters(start=start, end=end, **args)


@blp.route("/audit-logs", methods=["GET"])
@require("audit:read")
@blp.arguments(AuditListArgsSchema, location="query")
@blp.response(200, AuditRecordPageSchema)
def list_audit_logs(args):
    """List audit records, filtered, newest first (keyset pages)."""
    limit, cursor = args.pop("limit"), args.pop("cursor")
    return audit_trail.list_records(db.session, filters=_filters(args), limit=limit, cursor=cursor)


@blp.route("/audit-logs/export", methods=["GET"])
@require("audit:read")
@blp.arguments(AuditExportArgsSchema, location="query")
@blp.response(200, content_type="application/x-ndjson")
@blp.alt_response(200, content_type="text/csv", success=True, description="format=csv")
def export_audit_logs(args):
    """Stream the filtered records as an offline-verifiable CSV or JSON Lines file (audited)."""
    fmt = args.pop("format")
    export = audit_trail.start_export(
        db.session, officer=current_user(), filters=_filters(args), fmt=fmt
    )
    return Response(
        stream(export.lines()),
        mimetype=export.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@blp.route("/audit-logs/verify", methods=["GET"])
@require("audit:read")
@blp.response(200, AuditVerifySchema)
def verify_audit_logs():
    """Seal, then verify the whole audit hash chain; reports the unsealed tail."""
    return audit_trail.verify_chain(db.session, officer=current_user())


@blp.route("/reports/ctr", methods=["GET"])
@require("audit:read")
@blp.arguments(CtrArgsSchema, location="query")
@blp.response(200, CtrReportSchema)
@blp.alt_response(200, content_type="text/csv", success=True, description="format=csv")
def currency_transaction_report(args):
    """Currency transaction report: customers over the daily cash threshold (audited)."""
    report = reports.currency_transaction_report(
        db.session, officer=current_user(), start=args["start"], end=args["end"], fmt=args["format"]
    )
    if args["format"] != "csv":
        return report
    return Response(
        reports.ctr_csv(report),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="ctr_{report["from"]}_{report["to"]}.csv"'
            )
        },
    )


@blp.route("/reports/sar/<uuid:alert_id>", methods=["GET"])
@require("audit:read")
@blp.response(200, SarDraftSchema)
def suspicious_activity_report(alert_id):
    """A suspicious activity report draft for an alert: who, what, when, amounts, rule, notes."""
    return sar.draft(db.session, officer=current_user(), alert_id=alert_id)
