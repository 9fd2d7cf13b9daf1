"""Request and response schemas of the identity domain."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
import pycountry
from email_validator import EmailNotValidError, validate_email

from app.auth.password_policy import MAX_LENGTH, MIN_LENGTH
from app.core.api import ArgsSchema, Schema
from app.core.fields import CURRENCY_CODES, NonBlank, Pattern, UTCDateTime

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{2,63}$")


class EmailField(ma.fields.String):
    """An e-mail address checked with email-validator and normalized (lower case)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"format": "email", "maxLength": 254})
        super().__init__(**kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            result = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ma.ValidationError(str(exc)) from exc
        return result.normalized.lower()


def _validate_username(value: str) -> None:
    if not USERNAME_RE.match(value):
        raise ma.ValidationError(
            "Use 3–64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )


def _validate_currency(value: str) -> None:
    if pycountry.currencies.get(alpha_3=value) is None:
        raise ma.ValidationError("Not an ISO 4217 currency code.")


def _must_accept(value: bool) -> None:
    if value is not True:
        raise ma.ValidationError("Must be accepted.")


Name = NonBlank


class NewPassword(ma.fields.String):
    """A password being set: the policy's length limits are in the spec (the rules
    themselves are checked by `password_policy`, each reported as its own reason)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH})
        super().__init__(**kwargs)


class UserSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", dump_only=True)
    email = ma.fields.String()
    username = ma.fields.String(allow_none=True)
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    email_verified = ma.fields.Boolean()
    mfa_enabled = ma.fields.Boolean()
    kyc_status = ma.fields.String()
    base_currency = ma.fields.String()
    created_at = UTCDateTime()


class MeSchema(UserSchema):
    phone = ma.fields.String(allow_none=True)


class UserEnvelopeSchema(Schema):
    user = ma.fields.Nested(UserSchema)


class RegisterSchema(Schema):
    email = EmailField(required=True)
    password = NewPassword(required=True, load_only=True)
    first_name = Name(required=True, validate=ma.validate.Length(min=1, max=100))
    last_name = Name(required=True, validate=ma.validate.Length(min=1, max=100))
    username = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=_validate_username,
        # As sent: surrounding space is dropped and the name lower-cased before the check.
        metadata={"pattern": r"^\s*[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}\s*$"},
    )
    terms_accepted = ma.fields.Boolean(
        required=True, validate=_must_accept, metadata={"enum": [True]}
    )
    privacy_accepted = ma.fields.Boolean(
        required=True, validate=_must_accept, metadata={"enum": [True]}
    )

    @ma.pre_load
    def _lower_username(self, data: object, **kwargs: Any) -> object:
        if isinstance(data, dict) and isinstance(data.get("username"), str):
            data = {**data, "username": data["username"].strip().lower()}
        return data


class LoginSchema(Schema):
    """`login` is an e-mail or a username; `email` and `username` are accepted as aliases."""

    class Meta(Schema.Meta):
        json_schema = {
            "oneOf": [{"required": ["login"]}, {"required": ["email"]}, {"required": ["username"]}]
        }

    login = ma.fields.String(validate=ma.validate.Length(min=1, max=254))
    email = ma.fields.String(validate=ma.validate.Length(min=1, max=254))
    username = ma.fields.String(validate=ma.validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))

    @ma.validates_schema
    def _one_login(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [key for key in ("login", "email", "username") if key in data]
        if len(given) != 1:
            raise ma.ValidationError("Send exactly one of login, email, username.", "login")

    @ma.post_load
    def _merge(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        login = data.pop("login", None) or data.pop("email", None) or data.pop("username", None)
        return {"login": login, "password": data["password"]}


class WebauthnCredential(ma.fields.Dict):
    """A WebAuthn response as the browser's `PublicKeyCredential.toJSON()` gives it (base64url)
    — `RegistrationResponseJSON` or `AuthenticationResponseJSON`; py_webauthn checks the rest."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "metadata",
            {
                "description": "PublicKeyCredential JSON: {id, rawId, type, response, ...}",
                "required": ["id", "rawId", "type", "response"],
            },
        )
        super().__init__(keys=ma.fields.String(), **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = super()._deserialize(value, attr, data, **kwargs)
        if len(str(result)) > 16_384:
            raise ma.ValidationError("Too long.")
        for key in ("id", "rawId", "type"):
            if not isinstance(result.get(key), str) or not result[key]:
                raise ma.ValidationError(f"{key} is required (a string).")
        if not isinstance(result.get("response"), dict):
            raise ma.ValidationError("response is required (an object).")
        return result


class LoginMfaSchema(Schema):
    """The second step: a TOTP or backup `code`, or a passkey assertion (`credential`)."""

    class Meta(Schema.Meta):
        json_schema = {"oneOf": [{"required": ["code"]}, {"required": ["credential"]}]}

    mfa_token = ma.fields.String(required=True, validate=ma.validate.Length(max=512))
    code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    credential = WebauthnCredential()

    @ma.validates_schema
    def _one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("code" in data) == ("credential" in data):
            raise ma.ValidationError("Send either code or credential.", "code")


class RefreshSchema(Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(max=4096))


class TokensSchema(Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.Constant("Bearer")
    expires_in = ma.fields.Integer()
    user = ma.fields.Nested(UserSchema)


class LoginResultSchema(Schema):
    """`Tokens`, or the MFA challenge `{mfa_required, mfa_token, methods}`."""

    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()
    user = ma.fields.Nested(UserSchema)
    mfa_required = ma.fields.Boolean()
    mfa_token = ma.fields.String()
    methods = ma.fields.List(ma.fields.String())


class MeUpdateSchema(Schema):
    first_name = Name(validate=ma.validate.Length(min=1, max=100))
    last_name = Name(validate=ma.validate.Length(min=1, max=100))
    phone = ma.fields.String(
        allow_none=True,
        validate=Pattern(r"^\+[1-9][0-9]{6,14}$", error="Use E.164, e.g. +4915112345678."),
    )
    base_currency = ma.fields.String(validate=_validate_currency, metadata={"enum": CURRENCY_CODES})


class ChangePasswordSchema(Schema):
    current_password = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))
    new_password = NewPassword(required=True)


class PasswordResetRequestSchema(Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=254))


class MagicLinkRequestSchema(Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=254))


class MagicLinkConfirmSchema(Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=512))


class MessageSchema(Schema):
    message = ma.fields.String()


class PasswordResetConfirmSchema(Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(max=512))
    new_password = NewPassword(required=True)


class TokenBodySchema(Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(max=512))


class TotpSetupSchema(Schema):
    secret = ma.fields.String()
    otpauth_uri = ma.fields.String()
    qr_svg = ma.fields.String()


class CodeSchema(Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


class BackupCodesSchema(Schema):
    backup_codes = ma.fields.List(ma.fields.String())


class Disable2faSchema(Schema):
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


class StepUpSchema(Schema):
    class Meta(Schema.Meta):
        json_schema = {"oneOf": [{"required": ["code"]}, {"required": ["password"]}]}

    code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    password = ma.fields.String(validate=ma.validate.Length(min=1, max=1024))

    @ma.validates_schema
    def _one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("code" in data) == ("password" in data):
            raise ma.ValidationError("Send either code or password.", "code")


class SessionSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    device = ma.fields.String(attribute="user_agent", allow_none=True)
    ip = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()
    last_used_at = UTCDateTime()
    expires_at = UTCDateTime()
    current = ma.fields.Boolean()


class SessionListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(SessionSchema))
    next_cursor = ma.fields.String(allow_none=True)


class PasskeySchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    name = ma.fields.String()
    created_at = UTCDateTime()
    last_used_at = UTCDateTime(allow_none=True)


class PasskeyListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(PasskeySchema))
    next_cursor = ma.fields.String(allow_none=True)


class PasskeyRegisterSchema(Schema):
    credential = WebauthnCredential(required=True)
    name = NonBlank(required=True, validate=ma.validate.Length(min=1, max=64))


class PasskeyCredentialSchema(Schema):
    credential = WebauthnCredential(required=True)


class CreationOptionsSchema(Schema):
    """`PublicKeyCredentialCreationOptionsJSON` (binary values in base64url)."""

    rp = ma.fields.Dict()
    user = ma.fields.Dict()
    challenge = ma.fields.String()
    pubKeyCredParams = ma.fields.List(ma.fields.Dict())
    timeout = ma.fields.Integer()
    excludeCredentials = ma.fields.List(ma.fields.Dict())
    authenticatorSelection = ma.fields.Dict()
    attestation = ma.fields.String()
    hints = ma.fields.List(ma.fields.String())


class RequestOptionsSchema(Schema):
    """`PublicKeyCredentialRequestOptionsJSON` (binary values in base64url)."""

    challenge = ma.fields.String()
    timeout = ma.fields.Integer()
    rpId = ma.fields.String()
    allowCredentials = ma.fields.List(ma.fields.Dict())
    userVerification = ma.fields.String()


# --- single sign-on (OpenID Connect) -----------------------------------------------------------


class OidcProvidersSchema(Schema):
    providers = ma.fields.List(ma.fields.String())


class OidcCallbackArgsSchema(ArgsSchema):
    """The provider's answer. Providers add parameters of their own (`scope`, `iss`,
    `session_state`…): those are ignored, not refused."""

    class Meta:
        unknown = ma.EXCLUDE
        ordered = True

    state = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=512))
    code = ma.fields.String(validate=ma.validate.Length(min=1, max=4096))
    error = ma.fields.String(validate=ma.validate.Length(min=1, max=256))
    error_description = ma.fields.String(validate=ma.validate.Length(max=1024))


class OidcExchangeSchema(Schema):
    """The one-time code the callback handed the web app (in the URL's fragment)."""

    code = ma.fields.String(required=True, validate=ma.validate.Length(min=16, max=128))
    # The TOTP or backup code, for an account with two-step verification on.
    mfa_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))


class OidcLinkStartSchema(Schema):
    authorization_url = ma.fields.String()


class ExternalIdentitySchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    provider = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    linked_at = UTCDateTime()
    last_used_at = UTCDateTime(allow_none=True)


class ExternalIdentityListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ExternalIdentitySchema))
    next_cursor = ma.fields.String(allow_none=True)
