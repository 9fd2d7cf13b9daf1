"""Schemas of the privacy endpoints and of the officers' erasure decisions."""

from __future__ import annotations

import marshmallow as ma

from app.core.api import Schema
from app.core.fields import NonBlank, UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema
from app.privacy.models import ErasureStatus


class ErasureRequestCreateSchema(Schema):
    """No fields: the caller asks for themselves."""


class ErasureRequestSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", required=True)
    status = ma.fields.String(required=True)


class ErasureRequestDetailSchema(ErasureRequestSchema):
    user_id = ma.fields.UUID(required=True, metadata={"description": "the person's user id"})
    requested_at = UTCDateTime(required=True)
    decided_at = UTCDateTime(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    hold_reasons = ma.fields.List(ma.fields.String(), allow_none=True)


ErasureRequestPageSchema = page_schema(ErasureRequestDetailSchema, "ErasureRequestPageSchema")


class ErasureListArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in ErasureStatus]))


class ErasureDecisionSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approve", "reject"]))
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=2000))


def _section(kind: str, description: str) -> ma.fields.Field:
    """One section of the export, dumped as the domain exported it."""
    metadata = {"description": description}
    if kind == "list":
        return ma.fields.List(ma.fields.Dict(), metadata=metadata)
    return ma.fields.Dict(metadata=metadata)


class PersonalDataExportSchema(Schema):
    """`GET /privacy/export`: one key per section that holds personal data about the caller.

    Every section with an exporter (`app.core.personal_data`, added by the domains) must be
    declared here, or it would not be dumped (a test checks that they agree).
    """

    generated_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    profile = _section("object", "id, email, username, names, phone, base_currency, roles, …")
    consents = _section("object", "terms_accepted_at, privacy_accepted_at, policy_version")
    sessions = _section("list", "Sessions: ip, user_agent and their times")
    passkeys = _section("list", "Passkeys: names and their times")
    linked_sign_ins = _section(
        "list", "Linked sign-in providers: provider, subject, e-mail at link time, times"
    )
    accounts = _section("list", "Accounts: number, IBAN, type, currency, name, balance, status")
    transactions = _section("list", "Transactions with amounts, descriptions, counterparties")
    audit_records = _section("list", "Audit records about the caller, personal values included")
    erasure_requests = _section("list", "Erasure requests and their status")
    cards = _section("list", "Cards, the number masked to its last four digits")
    kyc = _section("list", "KYC submissions, the document number masked")
    sanctions_screenings = _section(
        "list", "Sanctions screenings of the caller: when, why, against which list versions"
    )
    wealth = _section("object", "`linked_accounts`: brokers, snapshots and positions")
    events = _section("list", "Events written for the caller: type, time and payload")
