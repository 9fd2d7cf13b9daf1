"""Account schemas, one per direction."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.core.api import ArgsSchema, Schema
from app.core.fields import Amount, Currency, DecimalString, NonBlank, UTCDateTime
from app.core.pagination import page_schema
from app.ledger.accounts import CUSTOMER_TYPES, AccountStatus


class AccountSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", dump_only=True)
    account_number = ma.fields.String(dump_only=True)
    iban = ma.fields.String(dump_only=True, allow_none=True)
    account_type = ma.fields.String(dump_only=True)
    currency = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    balance = Amount()
    available_balance = Amount()
    credit_limit = Amount(attribute="display_credit_limit", allow_none=True)
    status = ma.fields.String(dump_only=True)
    created_at = UTCDateTime(dump_only=True)


AccountPageSchema = page_schema(AccountSchema, "AccountPageSchema")


class AccountCreateSchema(Schema):
    account_type = ma.fields.String(
        required=True, validate=ma.validate.OneOf([t.value for t in CUSTOMER_TYPES])
    )
    currency = Currency(required=True)
    name = NonBlank(validate=ma.validate.Length(min=1, max=100))


class AccountUpdateSchema(Schema):
    name = NonBlank(required=True, validate=ma.validate.Length(min=1, max=100))


class StatementArgsSchema(ArgsSchema):
    """`from` and `to` (UTC days, inclusive); without them, the current calendar month."""

    start = ma.fields.Date(load_default=None, data_key="from")
    end = ma.fields.Date(load_default=None, data_key="to")
    format = ma.fields.String(
        load_default="json", validate=ma.validate.OneOf(["json", "csv", "pdf"])
    )


class BalanceArgsSchema(ArgsSchema):
    at = UTCDateTime(load_default=None)


class BalanceSchema(Schema):
    balance = ma.fields.String()
    available_balance = ma.fields.String()
    currency = ma.fields.String()
    as_of = UTCDateTime()


class StatementJobSchema(Schema):
    job_id = ma.fields.String(allow_none=True)
    document_id = ma.fields.String()
    url = ma.fields.String()
    status = ma.fields.String()


class StatementLineSchema(Schema):
    booked_at = UTCDateTime()
    transaction_id = ma.fields.UUID()
    type = ma.fields.String()
    description = ma.fields.String()
    amount = ma.fields.String()
    balance_after = ma.fields.String()


class StatementSchema(Schema):
    account_id = ma.fields.UUID()
    account_number = ma.fields.String()
    iban = ma.fields.String(allow_none=True)
    currency = ma.fields.String()
    start = ma.fields.Date(data_key="from")
    end = ma.fields.Date(data_key="to")
    opening_balance = ma.fields.String()
    closing_balance = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


class AdminAccountUpdateSchema(Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in AccountStatus]))
    credit_limit = DecimalString()

    class Meta(Schema.Meta):
        json_schema = {"minProperties": 1}

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give status or credit_limit.", "_schema")
