"""The wire shape of a journal transaction, and of an officer's decision on one held for review.

A transaction answers the same wherever a domain returns one (transactions, compliance): its
schema belongs to the ledger, which records it, so that no domain imports another for it.
"""

from __future__ import annotations

import marshmallow as ma

from app.core.api import Schema
from app.core.fields import Amount, UTCDateTime
from app.core.money import format_amount
from app.ledger.accounts import Account


def _public_id(account: Account | None) -> str | None:
    """A customer account's id; the bank's own accounts are not named on a transaction."""
    return str(account.public_id) if account is not None and not account.is_system else None


class EntrySchema(Schema):
    account_id = ma.fields.Function(lambda e: str(e.account.public_id))
    direction = ma.fields.String()
    amount = ma.fields.Function(lambda e: format_amount(abs(e.amount), e.currency))


class TransactionSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", dump_only=True)
    type = ma.fields.String()
    status = ma.fields.String()
    amount = Amount()
    currency = ma.fields.String()
    from_account_id = ma.fields.Function(lambda t: _public_id(t.from_account), allow_none=True)
    to_account_id = ma.fields.Function(lambda t: _public_id(t.to_account), allow_none=True)
    to_iban = ma.fields.String(attribute="counterparty_iban", allow_none=True)
    beneficiary_name = ma.fields.String(attribute="counterparty_name", allow_none=True)
    description = ma.fields.String()
    reference = ma.fields.String(allow_none=True)
    risk_score = ma.fields.Integer()
    risk_rules = ma.fields.List(ma.fields.String())
    failure_reason = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()
    entries = ma.fields.List(ma.fields.Nested(EntrySchema))


class ReviewDecisionSchema(Schema):
    """An officer's notes on approving or rejecting a transaction held for review
    (`engine.decide_review`)."""

    notes = ma.fields.String(validate=ma.validate.Length(max=2000))
