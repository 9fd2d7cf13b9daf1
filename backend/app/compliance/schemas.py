"""Compliance schemas, one per direction."""

from __future__ import annotations

import marshmallow as ma

from app.auth.models import User
from app.compliance.cases import alert_transactions
from app.compliance.documents import DOCUMENT_TYPES
from app.compliance.lists import KINDS
from app.compliance.models import AlertResolution, AlertStatus, KycCaseStatus, KycLevel, Severity
from app.compliance.risk_schemas import customer_brief
from app.core.api import ArgsSchema, Schema
from app.core.fields import Cursor, NonBlank, Pattern, UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema
from app.ledger.schemas import TransactionSchema

_COUNTRY = Pattern(r"^[A-Za-z]{2}$", error="An ISO 3166-1 alpha-2 country code.")


def _public(user: User | None) -> str | None:
    return str(user.public_id) if user is not None else None


# --- KYC --------------------------------------------------------------------------------------


class AddressSchema(Schema):
    line1 = NonBlank(required=True, validate=ma.validate.Length(min=1, max=200))
    line2 = ma.fields.String(validate=ma.validate.Length(max=200))
    city = NonBlank(required=True, validate=ma.validate.Length(min=1, max=100))
    postal_code = NonBlank(required=True, validate=ma.validate.Length(min=1, max=20))
    country = ma.fields.String(required=True, validate=_COUNTRY)


class KycSubmitSchema(Schema):
    first_name = NonBlank(required=True, validate=ma.validate.Length(min=1, max=100))
    last_name = NonBlank(required=True, validate=ma.validate.Length(min=1, max=100))
    date_of_birth = ma.fields.Date(required=True)
    nationality = ma.fields.String(required=True, validate=_COUNTRY)
    address = ma.fields.Nested(AddressSchema, required=True)
    document_type = ma.fields.String(required=True, validate=ma.validate.OneOf(DOCUMENT_TYPES))
    document_number = NonBlank(required=True, validate=ma.validate.Length(min=1, max=40))
    document_country = ma.fields.String(validate=_COUNTRY)
    politically_exposed = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Self-declared politically exposed person (a risk factor)."},
    )
    level = ma.fields.String(
        load_default=KycLevel.BASIC.value,
        validate=ma.validate.OneOf([KycLevel.BASIC.value, KycLevel.FULL.value]),
        metadata={"description": "The level asked for; `full` is always reviewed by an officer."},
    )


class ReasonSchema(Schema):
    code = ma.fields.String()
    message = ma.fields.String()


class KycStatusSchema(Schema):
    """The customer's view of their KYC."""

    id = ma.fields.UUID(attribute="public_id", allow_none=True)
    status = ma.fields.String()
    level = ma.fields.String()
    requested_level = ma.fields.String(allow_none=True)
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))
    document_type = ma.fields.String(allow_none=True)
    document_number = ma.fields.Function(
        lambda c: "•••••" + c.document_last4 if getattr(c, "document_last4", None) else None,
        metadata={"description": "Masked: only the last four characters."},
    )
    created_at = UTCDateTime(allow_none=True)
    decided_at = UTCDateTime(allow_none=True)


class KycCaseSchema(KycStatusSchema):
    """An officer's view of a KYC case."""

    customer_id = ma.fields.Function(lambda c: _public(c.user))
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    date_of_birth = ma.fields.Date()
    nationality = ma.fields.String()
    address = ma.fields.Dict()
    screening = ma.fields.List(ma.fields.Dict())
    politically_exposed = ma.fields.Boolean()
    decision_reason = ma.fields.String(allow_none=True)


class KycReviewArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in KycCaseStatus]))


class KycDecisionSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approve", "reject"]))
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=2000))


KycCasePageSchema = page_schema(KycCaseSchema, "KycCasePage")


# --- screening ----------------------------------------------------------------------------------


class ScreeningRequestSchema(Schema):
    name = NonBlank(required=True, validate=ma.validate.Length(min=1, max=300))
    date_of_birth = ma.fields.Date()
    country = ma.fields.String(validate=_COUNTRY)


class MatchFactorSchema(Schema):
    factor = ma.fields.String()  # name, date_of_birth, country
    value = ma.fields.String()
    effect = ma.fields.Float()  # what it added to (or took from) the score


class WrittenAsSchema(Schema):
    text = ma.fields.String()
    script = ma.fields.String()  # cyrillic, arabic, persian, hangul, han, other
    transliterated_as = ma.fields.List(ma.fields.String())


class ScreeningMatchSchema(Schema):
    list_entry_id = ma.fields.String()
    list_version_id = ma.fields.Integer()
    name = ma.fields.String()
    matched_name = ma.fields.String()
    matched_alias = ma.fields.String(allow_none=True)
    score = ma.fields.Float()
    program = ma.fields.String()
    entry_type = ma.fields.String()
    factors = ma.fields.List(ma.fields.Nested(MatchFactorSchema))
    query = ma.fields.Nested(WrittenAsSchema, allow_none=True)


class ScreeningResultSchema(Schema):
    matches = ma.fields.List(ma.fields.Nested(ScreeningMatchSchema))
    threshold = ma.fields.Float()


class ListVersionArgsSchema(PageArgsSchema):
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))


class ListVersionSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    source = ma.fields.String()
    active = ma.fields.Boolean()
    published_at = UTCDateTime(allow_none=True)
    loaded_at = UTCDateTime()
    checksum = ma.fields.String(attribute="sha256")
    entries = ma.fields.Integer(attribute="entry_count")
    aliases = ma.fields.Integer(attribute="alias_count")
    previous_id = ma.fields.Integer(allow_none=True)
    added = ma.fields.Integer(attribute="added_count")
    removed = ma.fields.Integer(attribute="removed_count")
    changed = ma.fields.Integer(attribute="changed_count")


ListVersionPageSchema = page_schema(ListVersionSchema, "ListVersionPage")


class ListChangeArgsSchema(PageArgsSchema):
    change = ma.fields.String(validate=ma.validate.OneOf(["added", "removed", "changed"]))


class ListChangeSchema(Schema):
    change = ma.fields.String()
    source_uid = ma.fields.String()
    name = ma.fields.String()
    # What changed, {field: [before, after]} ("fields" is the schema's own attribute).
    changed_fields = ma.fields.Dict(attribute="fields", data_key="fields")


class ListDiffSchema(Schema):
    version = ma.fields.Nested(ListVersionSchema)
    items = ma.fields.List(ma.fields.Nested(ListChangeSchema), required=True)
    next_cursor = Cursor(allow_none=True)  # signed, like every page's


# --- alerts -------------------------------------------------------------------------------------


class AlertNoteSchema(Schema):
    kind = ma.fields.String()
    body = ma.fields.String()
    author_id = ma.fields.Function(lambda n: _public(n.author))
    created_at = UTCDateTime()


class AlertSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    type = ma.fields.String(attribute="alert_type")
    severity = ma.fields.String()
    status = ma.fields.String()
    customer_id = ma.fields.Function(lambda a: _public(a.user), allow_none=True)
    customer = ma.fields.Function(
        lambda a: customer_brief(a.user, a.risk),
        allow_none=True,
        metadata={"description": "{id, name, risk_level} of the customer, if any."},
    )
    explanation = ma.fields.String(allow_none=True)
    score = ma.fields.Integer()
    rules = ma.fields.List(ma.fields.String())
    hit_count = ma.fields.Integer()
    last_hit_at = UTCDateTime(allow_none=True)
    assigned_to = ma.fields.Function(lambda a: _public(a.assigned_to), allow_none=True)
    resolution = ma.fields.String(allow_none=True)
    notes = ma.fields.String(allow_none=True)
    resolved_by = ma.fields.Function(lambda a: _public(a.resolved_by), allow_none=True)
    resolved_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()


class AlertDetailSchema(AlertSchema):
    details = ma.fields.Dict(allow_none=True)
    transactions = ma.fields.Function(
        lambda a: TransactionSchema(many=True).dump(alert_transactions(a))
    )
    notes_history = ma.fields.Function(lambda a: AlertNoteSchema(many=True).dump(a.alert_notes))


class AlertArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in AlertStatus]))
    severity = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Severity]))
    type = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    assigned_to = ma.fields.UUID()
    customer_id = ma.fields.UUID()


class AlertAssignSchema(Schema):
    assignee_id = ma.fields.UUID(
        metadata={"description": "The officer to assign; the caller when absent."}
    )


class AlertResolveSchema(Schema):
    resolution = ma.fields.String(
        required=True, validate=ma.validate.OneOf([r.value for r in AlertResolution])
    )
    notes = NonBlank(required=True, validate=ma.validate.Length(min=1, max=5000))


AlertPageSchema = page_schema(AlertSchema, "AlertPage")


# --- regulatory reports ------------------------------------------------------------------------


class CtrArgsSchema(ArgsSchema):
    start = ma.fields.Date(required=True, data_key="from")
    end = ma.fields.Date(required=True, data_key="to")
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "csv"]))


class CtrTransactionSchema(Schema):
    id = ma.fields.String(required=True)
    account_number = ma.fields.String(required=True)
    amount = ma.fields.String(required=True)
    currency = ma.fields.String(required=True)
    reference = ma.fields.String(allow_none=True)
    created_at = ma.fields.String(required=True)


class CtrCustomerSchema(Schema):
    customer = ma.fields.Dict(required=True)
    date = ma.fields.String(required=True)
    currency = ma.fields.String(required=True)
    total = ma.fields.String(required=True)
    threshold = ma.fields.String(required=True)
    transactions = ma.fields.List(ma.fields.Nested(CtrTransactionSchema), required=True)


class CtrReportSchema(Schema):
    report = ma.fields.String(required=True)
    start = ma.fields.String(required=True, attribute="from", data_key="from")
    end = ma.fields.String(required=True, attribute="to", data_key="to")
    threshold = ma.fields.String(required=True)
    generated_at = ma.fields.String(required=True)
    customers = ma.fields.List(ma.fields.Nested(CtrCustomerSchema), required=True)


class SarDraftSchema(Schema):
    report = ma.fields.String(required=True)
    generated_at = ma.fields.String(required=True)
    prepared_by = ma.fields.Dict(required=True)
    alert = ma.fields.Dict(required=True, metadata={"description": "type, severity, rules, …"})
    subject = ma.fields.Dict(allow_none=True, metadata={"description": "who, with KYC data"})
    activity = ma.fields.Dict(required=True, metadata={"description": "when, what, totals"})
    notes = ma.fields.List(ma.fields.Dict(), required=True)
    narrative = ma.fields.String(required=True)
