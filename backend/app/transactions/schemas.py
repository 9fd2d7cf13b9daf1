"""Transaction schemas, one per direction."""

from __future__ import annotations

import marshmallow as ma

from app.core.api import Schema
from app.core.fields import Amount, Currency, DecimalString, NonBlank, UTCDateTime, load_amount
from app.core.money import format_amount
from app.core.pagination import PageArgsSchema, page_schema
from app.ledger.models import TxnStatus, TxnType


def _public_id(account) -> str | None:
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


TransactionPageSchema = page_schema(TransactionSchema, "TransactionPageSchema")


class _MoneyIn(Schema):
    amount = DecimalString(required=True)
    currency = Currency(required=True)

    @ma.post_load
    def _to_minor_units(self, data, **kwargs):
        load_amount(data)
        return data


class WithdrawalSchema(_MoneyIn):
    account_id = ma.fields.UUID(required=True)
    reference = ma.fields.String(validate=ma.validate.Length(max=140))


class DepositSchema(WithdrawalSchema):
    channel = ma.fields.String(
        load_default="cash", validate=ma.validate.OneOf(["cash", "transfer", "card"])
    )


class ReversalSchema(Schema):
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=255))


class TransferSchema(_MoneyIn):
    class Meta(_MoneyIn.Meta):
        json_schema = {
            "oneOf": [
                {"required": ["to_account_id"]},
                {"required": ["to_account_number"]},
                {"required": ["to_iban"]},
            ]
        }

    from_account_id = ma.fields.UUID(required=True)
    description = ma.fields.String(validate=ma.validate.Length(max=255))
    to_account_id = ma.fields.UUID()
    to_account_number = ma.fields.String(validate=ma.validate.Length(min=1, max=34))
    to_iban = ma.fields.String(validate=ma.validate.Length(min=5, max=42))
    beneficiary_name = NonBlank(validate=ma.validate.Length(min=1, max=140))

    @ma.validates_schema
    def _one_destination(self, data, **kwargs):
        given = [k for k in ("to_account_id", "to_account_number", "to_iban") if k in data]
        if len(given) != 1:
            raise ma.ValidationError(
                "Give exactly one of to_account_id, to_account_number, to_iban.", "to_account_id"
            )


_PERIOD = {"type": "string", "description": "A date (YYYY-MM-DD) or an ISO 8601 time"}


class TransactionQueryArgsSchema(PageArgsSchema):
    account_id = ma.fields.UUID()
    type = ma.fields.String(validate=ma.validate.OneOf([t.value for t in TxnType]))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in TxnStatus]))
    start = ma.fields.Raw(data_key="from", metadata=_PERIOD)
    end = ma.fields.Raw(data_key="to", metadata=_PERIOD)
    min_amount = ma.fields.Decimal(validate=ma.validate.Range(min=0))
    max_amount = ma.fields.Decimal(validate=ma.validate.Range(min=0))
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=100))

    @ma.post_load
    def _times(self, data, **kwargs):
        for key, name in (("start", "from"), ("end", "to")):
            if key in data:
                data[key] = _date_or_datetime(data[key], name)
        return data


def _date_or_datetime(value, name: str):
    text = str(value)
    try:
        if len(text) == 10:
            return ma.fields.Date()._deserialize(text, name, {})
        return UTCDateTime()._deserialize(text, name, {})
    except ma.ValidationError as exc:
        raise ma.ValidationError({name: ["A date (YYYY-MM-DD) or an ISO 8601 time."]}) from exc


class ReviewDecisionSchema(Schema):
    notes = ma.fields.String(validate=ma.validate.Length(max=2000))
