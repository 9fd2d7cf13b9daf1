"""Card schemas, one per direction. No schema here carries an example PAN or CVV."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.cards.controls import snapshot
from app.cards.models import CancelReason, CardType, Channel
from app.core.api import Schema
from app.core.fields import (
    Amount,
    Country,
    Currency,
    DecimalString,
    NonBlank,
    Pattern,
    UTCDateTime,
    load_amount,
)
from app.core.pagination import page_schema

_MCC = Pattern(r"^\d{4}$", error="A merchant category code is four digits.")
_CARDHOLDER_NAME = Pattern(
    r"^[A-Za-z][A-Za-z .'\-]{0,25}$",
    error="Up to 26 letters, spaces, dots, apostrophes or hyphens.",
)


class CardSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", dump_only=True)
    account_id = ma.fields.Function(lambda c: str(c.account.public_id))
    card_type = ma.fields.String()
    brand = ma.fields.String()
    last4 = ma.fields.String()
    masked_pan = ma.fields.String(metadata={"description": "The BIN and the last four digits"})
    cardholder_name = ma.fields.String()
    expiry_month = ma.fields.Integer()
    expiry_year = ma.fields.Integer()
    status = ma.fields.Function(lambda c: c.current_status())
    cancel_reason = ma.fields.String(allow_none=True)
    pin_set = ma.fields.Function(lambda c: c.pin_hash is not None)
    controls = ma.fields.Function(snapshot, metadata={"type": "object"})
    created_at = UTCDateTime()


CardPageSchema = page_schema(CardSchema, "CardPageSchema")


class CardIssueSchema(Schema):
    account_id = ma.fields.UUID(required=True)
    card_type = ma.fields.String(
        required=True, validate=ma.validate.OneOf([t.value for t in CardType])
    )
    cardholder_name = ma.fields.String(validate=_CARDHOLDER_NAME)


class RevealedCardSchema(Schema):
    pan = ma.fields.String(metadata={"description": "The full card number"})
    cvv = ma.fields.String(metadata={"description": "The card verification value"})
    expiry_month = ma.fields.Integer()
    expiry_year = ma.fields.Integer()


class CardCancelSchema(Schema):
    reason = ma.fields.String(
        required=True, validate=ma.validate.OneOf([r.value for r in CancelReason])
    )
    replace = ma.fields.Boolean(load_default=False)


class CardCancelResultSchema(Schema):
    card = ma.fields.Nested(CardSchema)
    replacement = ma.fields.Nested(CardSchema, allow_none=True)


class ControlsUpdateSchema(Schema):
    per_transaction_limit = DecimalString(allow_none=True)
    daily_limit = DecimalString(allow_none=True)
    monthly_limit = DecimalString(allow_none=True)
    blocked_mccs = ma.fields.List(
        ma.fields.String(validate=_MCC), required=True, validate=ma.validate.Length(max=200)
    )
    allowed_countries = ma.fields.List(
        Country(),
        required=True,
        validate=ma.validate.Length(max=250),
    )
    online_enabled = ma.fields.Boolean(required=True)
    atm_enabled = ma.fields.Boolean(required=True)
    contactless_enabled = ma.fields.Boolean(required=True)
    international_enabled = ma.fields.Boolean(required=True)


class PinSchema(Schema):
    pin = ma.fields.String(
        required=True,
        load_only=True,
        validate=Pattern(r"^\d{4,6}$", error="A PIN has 4 to 6 digits."),
        metadata={"description": "4 to 6 digits; not one repeated digit, a run or a pattern"},
    )


class ActivateSchema(Schema):
    last4 = ma.fields.String(required=True, validate=Pattern(r"^\d{4}$"))
    expiry_month = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))
    expiry_year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=2000, max=2199))


# --- card network ------------------------------------------------------------------------------


class AuthorizationRequestSchema(Schema):
    pan = ma.fields.String(
        required=True,
        load_only=True,
        validate=Pattern(r"^\d{12,19}$", error="12 to 19 digits."),
    )
    expiry_month = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))
    expiry_year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=2000, max=2199))
    cvv = ma.fields.String(load_only=True, validate=Pattern(r"^\d{3,4}$", error="3 or 4 digits."))
    amount = DecimalString(required=True)
    currency = Currency(required=True)
    merchant_name = NonBlank(required=True, validate=ma.validate.Length(min=1, max=140))
    mcc = ma.fields.String(required=True, validate=_MCC)
    country = Country(required=True)
    channel = ma.fields.String(
        required=True, validate=ma.validate.OneOf([c.value for c in Channel])
    )

    @ma.post_load
    def _to_minor_units(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        load_amount(data)
        return data


class AuthorizationSchema(Schema):
    authorization_id = ma.fields.UUID(attribute="public_id")
    approved = ma.fields.Boolean()
    decline_reason = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    amount = Amount()
    captured_amount = Amount(
        allow_none=True, metadata={"type": "string", "description": "null until captured"}
    )
    currency = ma.fields.String()
    merchant_name = ma.fields.String()
    mcc = ma.fields.String()
    country = ma.fields.String()
    channel = ma.fields.String()
    card_id = ma.fields.Function(lambda a: str(a.card.public_id))
    created_at = UTCDateTime()
    expires_at = UTCDateTime(allow_none=True)


AuthorizationPageSchema = page_schema(AuthorizationSchema, "CardAuthorizationPageSchema")


class CaptureSchema(Schema):
    amount = DecimalString(required=True)
