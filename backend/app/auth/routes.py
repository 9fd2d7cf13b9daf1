"""HTTP routes of the auth domain (`/api/v1/auth`)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, redirect, request
from flask_jwt_extended import get_jwt
from flask_limiter.util import get_remote_address
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Response

from app.auth import magic_links, oidc, passkeys, password_changes, sessions, two_factor, users
from app.auth.models import AuthSession, ExternalIdentity, Passkey, User
from app.auth.permissions import current_user, require
from app.auth.schemas import (
    BackupCodesSchema,
    ChangePasswordSchema,
    CodeSchema,
    CreationOptionsSchema,
    Disable2faSchema,
    ExternalIdentityListSchema,
    LoginMfaSchema,
    LoginResultSchema,
    LoginSchema,
    MagicLinkConfirmSchema,
    MagicLinkRequestSchema,
    MeSchema,
    MessageSchema,
    MeUpdateSchema,
    OidcCallbackArgsSchema,
    OidcExchangeSchema,
    OidcLinkStartSchema,
    OidcProvidersSchema,
    PasskeyCredentialSchema,
    PasskeyListSchema,
    PasskeyRegisterSchema,
    PasskeySchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    RefreshSchema,
    RegisterSchema,
    RequestOptionsSchema,
    SessionListSchema,
    StepUpSchema,
    TokenBodySchema,
    TokensSchema,
    TotpSetupSchema,
    UserEnvelopeSchema,
)
from app.auth.sessions import LoginResult
from app.auth.tokens import TokenPair
from app.auth.two_factor import TotpSetup
from app.core.api import Blueprint
from app.core.errors import DomainError
from app.core.extensions import db, limiter
from app.core.hygiene import json_or_none

blp = Blueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Registration, login, tokens, 2FA."
)


def _per_ip_login() -> str:
    limit: str = current_app.config["RATELIMIT_LOGIN_PER_IP"]
    return limit


def _per_account_login() -> str:
    limit: str = current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"]
    return limit


def _per_ip_auth() -> str:
    limit: str = current_app.config["RATELIMIT_AUTH_PER_IP"]
    return limit


def _login_key() -> str:
    """The login being tried (whatever the client sent it as), so limits follow the account."""
    body = json_or_none()  # a body the edge refuses still counts, against the client's IP
    if isinstance(body, dict):
        for key in ("login", "email", "username"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return "login:" + value.strip().lower()[:254]
    return "login-ip:" + (get_remote_address() or "")


def _per_ip_magic_link() -> str:
    limit: str = current_app.config["MAGIC_LINK_RATE_LIMIT_PER_IP"]
    return limit


def _per_email_magic_link() -> str:
    limit: str = current_app.config["MAGIC_LINK_RATE_LIMIT_PER_EMAIL"]
    return limit


def _magic_link_email_key() -> str:
    """The address a magic link is asked for, so its limit holds from every IP."""
    body = json_or_none()
    if isinstance(body, dict):
        value = body.get("email")
        if isinstance(value, str) and value.strip():
            return "magic-email:" + value.strip().lower()[:254]
    return "magic-email-ip:" + (get_remote_address() or "")


# The browser-binding secret of a magic link: sent back only to the confirm endpoint.
MAGIC_LINK_COOKIE = "flowlet_ml"
MAGIC_LINK_COOKIE_PATH = "/api/v1/auth/magic-link"


def _magic_link_cookie(secret: str) -> str:
    return dump_cookie(
        MAGIC_LINK_COOKIE,
        secret,
        max_age=int(current_app.config["MAGIC_LINK_TTL_SECONDS"]),
        path=MAGIC_LINK_COOKIE_PATH,
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )


def _sid() -> str:
    return str(get_jwt()["sid"])


def _login_result(result: LoginResult) -> dict[str, Any]:
    if result.tokens is None:
        return {
            "mfa_required": True,
            "mfa_token": result.mfa_token,
            "methods": result.methods,
        }
    return _tokens(result.tokens)


def _binding() -> str | None:
    """The value the browser that started a single sign-on keeps (`oidc.BINDING_COOKIE`)."""
    return request.cookies.get(oidc.BINDING_COOKIE)


def _with_binding(response: Response, started: oidc.Started) -> Response:
    response.set_cookie(
        oidc.BINDING_COOKIE,
        started.binding,
        max_age=int(current_app.config["OIDC_LOGIN_SECONDS"]),
        path=oidc.BINDING_COOKIE_PATH,
        secure=request.is_secure or current_app.config.get("HSTS_ENABLED", False),
        httponly=True,
        samesite="Lax",  # sent on the provider's top-level redirect back, not on cross-site posts
    )
    return response


def _tokens(pair: TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "user": pair.user,
    }


ip_limit = limiter.limit(_per_ip_auth, key_func=get_remote_address, scope="auth-ip")


@blp.route("/register", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(RegisterSchema)
@blp.response(201, UserEnvelopeSchema)
def register(data: dict[str, Any]) -> dict[str, User]:
    """Create a customer account (terms and privacy must be accepted)."""
    data.pop("terms_accepted")
    data.pop("privacy_accepted")
    return {"user": users.register(db.session(), **data)}


@blp.route("/login", methods=["POST"])
@blp.doc(security=[])
@limiter.limit(_per_ip_login, key_func=get_remote_address, scope="login-ip")
@limiter.limit(_per_account_login, key_func=_login_key, scope="login-account")
@blp.arguments(LoginSchema)
@blp.response(200, LoginResultSchema)
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Log in with e-mail or username and password."""
    return _login_result(sessions.login(db.session(), **data))


@blp.route("/login/mfa", methods=["POST"])
@blp.doc(security=[])
@limiter.limit(_per_ip_login, key_func=get_remote_address, scope="login-ip")
@blp.arguments(LoginMfaSchema)
@blp.response(200, TokensSchema)
def login_mfa(data: dict[str, Any]) -> dict[str, Any]:
    """Complete a login with a TOTP or backup code, or a passkey."""
    return _tokens(sessions.login_mfa(db.session(), **data))


@blp.route("/refresh", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(RefreshSchema)
@blp.response(200, TokensSchema)
def refresh(data: dict[str, Any]) -> dict[str, Any]:
    """Exchange a refresh token for a new pair (the old one is spent)."""
    return _tokens(sessions.refresh(db.session(), **data))


@blp.route("/logout", methods=["POST"])
@require("profile")
@blp.response(204)
def logout() -> None:
    """Revoke this access token and its refresh family."""
    sessions.logout(db.session(), user=current_user(), session_id=_sid())


@blp.route("/me", methods=["GET"])
@require("profile")
@blp.response(200, MeSchema)
def me() -> User:
    """The caller's profile."""
    return current_user()


@blp.route("/me", methods=["PATCH"])
@require("profile")
@blp.arguments(MeUpdateSchema)
@blp.response(200, MeSchema)
def update_me(data: dict[str, Any]) -> User:
    """Change names, phone or base currency."""
    return users.update_profile(db.session(), user=current_user(), changes=data)


@blp.route("/change-password", methods=["POST"])
@require("profile", fresh=True)
@blp.arguments(ChangePasswordSchema)
@blp.response(204)
def change_password(data: dict[str, Any]) -> None:
    """Change the password (fresh token); every other session is revoked."""
    password_changes.change_password(db.session(), user=current_user(), session_id=_sid(), **data)


@blp.route("/password-reset/request", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(PasswordResetRequestSchema)
@blp.response(202, MessageSchema)
def password_reset_request(data: dict[str, Any]) -> dict[str, str]:
    """E-mail a password reset link (always 202, whether or not the account exists)."""
    password_changes.request_password_reset(db.session(), **data)
    return {"message": "If the address belongs to an account, a reset link is on its way."}


@blp.route("/password-reset/confirm", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(PasswordResetConfirmSchema)
@blp.response(204)
def password_reset_confirm(data: dict[str, Any]) -> None:
    """Set a new password with a reset link token."""
    password_changes.confirm_password_reset(db.session(), **data)


@blp.route("/magic-link", methods=["POST"])
@blp.doc(security=[])
@limiter.limit(_per_ip_magic_link, key_func=get_remote_address, scope="magic-link-ip")
@limiter.limit(_per_email_magic_link, key_func=_magic_link_email_key, scope="magic-link-email")
@blp.arguments(MagicLinkRequestSchema)
@blp.response(202, MessageSchema)
def magic_link_request(data: dict[str, Any]) -> tuple[dict[str, str], int, dict[str, str]]:
    """E-mail a sign-in link (always 202); only this browser can use it (HttpOnly cookie)."""
    secret = magic_links.request_magic_link(db.session(), **data)
    body = {"message": "If the address belongs to an account, a sign-in link is on its way."}
    return body, 202, {"Set-Cookie": _magic_link_cookie(secret)}


@blp.route("/magic-link/confirm", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(MagicLinkConfirmSchema)
@blp.response(200, LoginResultSchema)
def magic_link_confirm(data: dict[str, Any]) -> dict[str, Any]:
    """Sign in with a magic link on the browser that asked: tokens (never fresh) or the MFA step."""
    secret = request.cookies.get(MAGIC_LINK_COOKIE)
    return _login_result(
        magic_links.confirm_magic_link(db.session(), browser_secret=secret, **data)
    )


@blp.route("/verify-email", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(TokenBodySchema)
@blp.response(204)
def verify_email(data: dict[str, Any]) -> None:
    """Confirm the e-mail address with the token from the verification e-mail."""
    users.verify_email(db.session(), **data)


@blp.route("/2fa/setup", methods=["POST"])
@require("profile")
@blp.response(200, TotpSetupSchema)
def setup_2fa() -> TotpSetup:
    """Start TOTP enrolment: secret, otpauth URI and QR code (SVG)."""
    return two_factor.setup_2fa(db.session(), user=current_user())


@blp.route("/2fa/enable", methods=["POST"])
@require("profile")
@blp.arguments(CodeSchema)
@blp.response(200, BackupCodesSchema)
def enable_2fa(data: dict[str, Any]) -> dict[str, list[str]]:
    """Turn TOTP on with a code from the app; returns ten one-time backup codes."""
    return {"backup_codes": two_factor.enable_2fa(db.session(), user=current_user(), **data)}


@blp.route("/2fa/disable", methods=["POST"])
@require("profile", fresh=True)
@blp.arguments(Disable2faSchema)
@blp.response(204)
def disable_2fa(data: dict[str, Any]) -> None:
    """Turn 2FA off (fresh token, password and a current code)."""
    two_factor.disable_2fa(db.session(), user=current_user(), **data)


@blp.route("/step-up", methods=["POST"])
@require("profile")
@limiter.limit(_per_ip_login, key_func=get_remote_address, scope="login-ip")
@blp.arguments(StepUpSchema)
@blp.response(200, TokensSchema)
def step_up(data: dict[str, Any]) -> dict[str, Any]:
    """Re-authenticate for a fresh access token (TOTP/backup code, or password without 2FA)."""
    return _tokens(sessions.step_up(db.session(), user=current_user(), session_id=_sid(), **data))


@blp.route("/sessions", methods=["GET"])
@require("profile")
@blp.response(200, SessionListSchema)
def list_sessions() -> dict[str, list[AuthSession] | None]:
    """The caller's active sessions (device, IP, created, last used)."""
    items = sessions.list_sessions(db.session(), user=current_user(), current_id=_sid())
    return {"items": items, "next_cursor": None}


@blp.route("/sessions/<uuid:session_id>", methods=["DELETE"])
@require("profile")
@blp.response(204)
def revoke_session(session_id: uuid.UUID) -> None:
    """Revoke one of the caller's sessions."""
    sessions.revoke_session(db.session(), user=current_user(), session_id=session_id)


# --- passkeys (WebAuthn) -----------------------------------------------------------------------


@blp.route("/passkeys/register/options", methods=["POST"])
@require("profile", fresh=True)
@blp.response(200, CreationOptionsSchema)
def passkey_registration_options() -> dict[str, Any]:
    """WebAuthn options for creating a passkey (fresh token)."""
    return passkeys.registration_options(db.session(), user=current_user())


@blp.route("/passkeys/register", methods=["POST"])
@require("profile", fresh=True)
@blp.arguments(PasskeyRegisterSchema)
@blp.response(201, PasskeySchema)
def passkey_register(data: dict[str, Any]) -> Passkey:
    """Register a passkey from the browser's registration response (fresh token)."""
    return passkeys.register(db.session(), user=current_user(), **data)


@blp.route("/passkeys", methods=["GET"])
@require("profile")
@blp.response(200, PasskeyListSchema)
def passkey_list() -> dict[str, list[Passkey] | None]:
    """The caller's passkeys."""
    return {"items": passkeys.list_passkeys(db.session(), user=current_user()), "next_cursor": None}


@blp.route("/passkeys/<uuid:passkey_id>", methods=["DELETE"])
@require("profile", fresh=True)
@blp.response(204)
def passkey_remove(passkey_id: uuid.UUID) -> None:
    """Remove one of the caller's passkeys (fresh token)."""
    passkeys.remove(db.session(), user=current_user(), passkey_id=passkey_id)


@blp.route("/passkeys/login/options", methods=["POST"])
@blp.doc(security=[])
@limiter.limit(_per_ip_login, key_func=get_remote_address, scope="login-ip")
@blp.response(200, RequestOptionsSchema)
def passkey_login_options() -> dict[str, Any]:
    """WebAuthn options for signing in with a passkey (or for the MFA step)."""
    return passkeys.login_options(db.session())


@blp.route("/passkeys/login", methods=["POST"])
@blp.doc(security=[])
@limiter.limit(_per_ip_login, key_func=get_remote_address, scope="login-ip")
@blp.arguments(PasskeyCredentialSchema)
@blp.response(200, TokensSchema)
def passkey_login(data: dict[str, Any]) -> dict[str, Any]:
    """Sign in with a passkey (user verification required): tokens at once."""
    return _tokens(passkeys.login(db.session(), **data))


@blp.route("/passkeys/step-up/options", methods=["POST"])
@require("profile")
@blp.response(200, RequestOptionsSchema)
def passkey_step_up_options() -> dict[str, Any]:
    """WebAuthn options for stepping up with one of the caller's passkeys."""
    return passkeys.step_up_options(db.session(), user=current_user())


@blp.route("/passkeys/step-up", methods=["POST"])
@require("profile")
@limiter.limit(_per_ip_login, key_func=get_remote_address, scope="login-ip")
@blp.arguments(PasskeyCredentialSchema)
@blp.response(200, TokensSchema)
def passkey_step_up(data: dict[str, Any]) -> dict[str, Any]:
    """Re-authenticate with a passkey for a fresh access token, as /step-up."""
    tokens = passkeys.step_up(db.session(), user=current_user(), session_id=_sid(), **data)
    return _tokens(tokens)


# --- single sign-on (OpenID Connect; docs/sso.md) ----------------------------------------------


@blp.route("/oidc/providers", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, OidcProvidersSchema)
def oidc_providers() -> dict[str, list[str]]:
    """The single sign-on providers this deployment offers."""
    return {"providers": oidc.providers()}


@blp.route("/oidc/<string:provider>/authorize", methods=["GET"])
@blp.doc(security=[])
@ip_limit
@blp.response(302)
def oidc_authorize(provider: str) -> Response:
    """Send the browser to the provider to sign in (PKCE, state, nonce)."""
    started = oidc.start(db.session(), provider=provider)
    return _with_binding(redirect(started.authorization_url, code=302), started)


@blp.route("/oidc/<string:provider>/callback", methods=["GET"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(OidcCallbackArgsSchema, location="query")
@blp.response(302)
def oidc_callback(args: dict[str, Any], provider: str) -> Response:
    """The provider's answer: on to the web app with a one-time code (or the link done)."""
    try:
        target = oidc.callback(db.session(), provider=provider, binding=_binding(), **args)
    except DomainError as exc:
        # A browser is shown the refusal by the web app (it was audited and committed already);
        # any other client gets the envelope.
        if request.accept_mimetypes.accept_html:
            return redirect(oidc.refusal_page(exc), code=302)
        raise
    return redirect(target, code=302)


@blp.route("/oidc/exchange", methods=["POST"])
@blp.doc(security=[])
@ip_limit
@blp.arguments(OidcExchangeSchema)
@blp.response(200, TokensSchema)
def oidc_exchange(data: dict[str, Any]) -> dict[str, Any]:
    """Exchange the one-time code from a single sign-on for tokens (same browser)."""
    return _tokens(oidc.exchange(db.session(), binding=_binding(), **data))


@blp.route("/oidc/<string:provider>/link", methods=["POST"])
@require("profile", fresh=True)
@blp.response(200, OidcLinkStartSchema)
def oidc_link(provider: str) -> Response:
    """Start linking a provider's account to the caller's (fresh token); go to the URL."""
    started = oidc.start(db.session(), provider=provider, user=current_user())
    response = current_app.json.response({"authorization_url": started.authorization_url})
    return _with_binding(response, started)  # type: ignore[arg-type]


@blp.route("/oidc/identities", methods=["GET"])
@require("profile")
@blp.response(200, ExternalIdentityListSchema)
def oidc_identities() -> dict[str, list[ExternalIdentity] | None]:
    """The caller's linked sign-in providers."""
    return {"items": oidc.list_identities(db.session(), user=current_user()), "next_cursor": None}


@blp.route("/oidc/identities/<uuid:identity_id>", methods=["DELETE"])
@require("profile", fresh=True)
@blp.response(204)
def oidc_unlink(identity_id: uuid.UUID) -> None:
    """Unlink one of the caller's sign-in providers (fresh token)."""
    oidc.unlink(db.session(), user=current_user(), identity_id=identity_id)
