"""Transaction schemas, one per direction (a transaction's answer is `app.ledger.schemas`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import marshmallow as ma

from app.auth.schemas import WebauthnCredential
from app.core.api import Schema
from app.core.fields import Currency, DecimalString, NonBlank, UTCDateTime, load_amount
from app.core.pagination import PageArgsSchema, page_schema
from app.ledger.models import TxnStatus, TxnType
from app.ledger.schemas import EntrySchema, ReviewDecisionSchema, TransactionSchema

# The transaction's own schemas are the ledger's (`app.ledger.schemas`); they are importable
# from here too.
__all__ = [
    "ConfirmationCreateSchema",
    "ConfirmationSchema",
    "DepositSchema",
    "EntrySchema",
    "ReversalSchema",
    "ReviewDecisionSchema",
    "TransactionPageSchema",
    "TransactionQueryArgsSchema",
    "TransactionSchema",
    "TransferSchema",
    "WithdrawalSchema",
]


TransactionPageSchema = page_schema(TransactionSchema, "TransactionPageSchema")


class _MoneyIn(Schema):
    amount = DecimalString(required=True)
    currency = Currency(required=True)

    @ma.post_load
    def _to_minor_units(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
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


class ConfirmationProofSchema(Schema):
    """A payment confirmation signed by a passkey: its id and the browser's assertion."""

    id = ma.fields.UUID(required=True)
    credential = WebauthnCredential(required=True)


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
    confirmation = ma.fields.Nested(ConfirmationProofSchema)

    @ma.validates_schema
    def _one_destination(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [k for k in ("to_account_id", "to_account_number", "to_iban") if k in data]
        if len(given) != 1:
            raise ma.ValidationError(
                "Give exactly one of to_account_id, to_account_number, to_iban.", "to_account_id"
            )


class PayeeSchema(Schema):
    """A transfer's destination exactly as the transfer will send it."""

    class Meta(Schema.Meta):
        json_schema = {
            "oneOf": [
                {"required": ["to_account_id"]},
                {"required": ["to_account_number"]},
                {"required": ["to_iban", "beneficiary_name"]},
            ]
        }

    to_account_id = ma.fields.UUID()
    to_account_number = ma.fields.String(validate=ma.validate.Length(min=1, max=34))
    to_iban = ma.fields.String(validate=ma.validate.Length(min=5, max=42))
    beneficiary_name = NonBlank(validate=ma.validate.Length(min=1, max=140))

    @ma.validates_schema
    def _one_destination(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [k for k in ("to_account_id", "to_account_number", "to_iban") if k in data]
        if len(given) != 1:
            raise ma.ValidationError(
                "Give exactly one of to_account_id, to_account_number, to_iban.", "to_account_id"
            )
        if "to_iban" in data and "beneficiary_name" not in data:
            raise ma.ValidationError("Required with to_iban.", "beneficiary_name")
        if "beneficiary_name" in data and "to_iban" not in data:
            raise ma.ValidationError("Only with to_iban.", "beneficiary_name")


class ConfirmationCreateSchema(_MoneyIn):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["transfer"]))
    account_id = ma.fields.UUID(required=True)
    payee = ma.fields.Nested(PayeeSchema, required=True)


class ConfirmationSchema(Schema):
    id = ma.fields.UUID()
    webauthn_options = ma.fields.Dict(
        metadata={"description": "PublicKeyCredentialRequestOptionsJSON for credentials.get"}
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
    def _times(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for key, name in (("start", "from"), ("end", "to")):
            if key in data:
                data[key] = _date_or_datetime(data[key], name)
        return data


def _date_or_datetime(value: object, name: str) -> date | datetime:
    text = str(value)
    try:
        if len(text) == 10:
            return ma.fields.Date()._deserialize(text, name, {})
        return UTCDateTime()._deserialize(text, name, {})
    except ma.ValidationError as exc:
        raise ma.ValidationError({name: ["A date (YYYY-MM-DD) or an ISO 8601 time."]}) from exc
