"""Wealth schemas, one per direction."""

from __future__ import annotations

import marshmallow as ma

from app.core.api import ArgsSchema, Schema
from app.core.fields import Currency, UTCDateTime
from app.wealth.rates import rate_text


class BrokerSchema(Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    integration_type = ma.fields.String(metadata={"enum": ["fints", "rest", "sandbox"]})
    country = ma.fields.String()
    supports_2fa = ma.fields.Boolean()
    credentials_schema = ma.fields.Dict(metadata={"description": "JSON Schema of `credentials`"})


class BrokerListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(BrokerSchema))


class LinkedAccountSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", dump_only=True)
    broker_code = ma.fields.Function(lambda link: link.broker.code)
    broker_name = ma.fields.Function(lambda link: link.broker.name)
    status = ma.fields.String(
        metadata={"enum": ["pending", "active", "pending_auth", "error"]},
    )
    challenge = ma.fields.String(allow_none=True, metadata={"description": "Set in pending_auth"})
    last_error = ma.fields.String(allow_none=True)
    last_synced_at = UTCDateTime(allow_none=True)
    last_job_id = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()


class LinkedAccountListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(LinkedAccountSchema))


class LinkCreateSchema(Schema):
    broker_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    credentials = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=64)),
        required=True,
        metadata={"description": "Checked against the broker's `credentials_schema`"},
    )


class LinkCreatedSchema(Schema):
    linked_account = ma.fields.Nested(LinkedAccountSchema)
    job_id = ma.fields.String()


class JobAcceptedSchema(Schema):
    job_id = ma.fields.String()


class TwoFactorSchema(Schema):
    code = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(min=1, max=64)
    )


class SummaryArgsSchema(ArgsSchema):
    base_currency = Currency(load_default=None)


class HistoryArgsSchema(ArgsSchema):
    start = ma.fields.Date(required=True, data_key="from")
    end = ma.fields.Date(required=True, data_key="to")
    base_currency = Currency(load_default=None)


class ValuedAccountSchema(Schema):
    source = ma.fields.String(metadata={"enum": ["flowlet", "linked"]})
    id = ma.fields.String()
    linked_account_id = ma.fields.String(allow_none=True)
    broker_code = ma.fields.String()
    name = ma.fields.String()
    currency = ma.fields.String()
    balance = ma.fields.String()
    value = ma.fields.String(allow_none=True)
    as_of = ma.fields.Date()
    rate = ma.fields.String(allow_none=True)
    rate_date = ma.fields.Date(allow_none=True)
    rate_source = ma.fields.String(allow_none=True)


class AssetClassValueSchema(Schema):
    asset_class = ma.fields.String()
    value = ma.fields.String()


class SummarySchema(Schema):
    base_currency = ma.fields.String()
    as_of = ma.fields.Date()
    total = ma.fields.String()
    accounts = ma.fields.List(ma.fields.Nested(ValuedAccountSchema))
    asset_classes = ma.fields.List(ma.fields.Nested(AssetClassValueSchema))
    missing_rates = ma.fields.List(ma.fields.String())


class HistoryPointSchema(Schema):
    date = ma.fields.Date()
    total = ma.fields.String()
    flowlet = ma.fields.String()
    linked = ma.fields.String()


class HistorySchema(Schema):
    base_currency = ma.fields.String()
    points = ma.fields.List(ma.fields.Nested(HistoryPointSchema))
    missing_rates = ma.fields.List(ma.fields.String())


class RateArgsSchema(ArgsSchema):
    from_currency = Currency(required=True, data_key="from")
    to_currency = Currency(required=True, data_key="to")
    day = ma.fields.Date(load_default=None, data_key="date")


class RateSchema(Schema):
    from_currency = ma.fields.String(attribute="base", data_key="from")
    to_currency = ma.fields.String(attribute="quote", data_key="to")
    rate = ma.fields.Function(lambda r: rate_text(r.rate))
    date = ma.fields.Date(attribute="requested_date")
    rate_date = ma.fields.Date()
    exact = ma.fields.Boolean(
        metadata={"description": "False when the rate is from an earlier day"}
    )
    source = ma.fields.String()
