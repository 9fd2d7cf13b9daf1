"""Errors of the identity domain, each with its stable envelope code (API.md)."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidCredentials(DomainError):
    status, code, message = 401, "invalid_credentials", "The login or password is not correct."


class InvalidMfaCode(DomainError):
    status, code, message = 401, "invalid_mfa_code", "The authentication code is not valid."


class AccountLocked(DomainError):
    status, code, message = 423, "account_locked", "The account is locked."


class TokenRevoked(DomainError):
    status, code, message = 401, "token_revoked", "The token has been revoked."


class TokenExpired(DomainError):
    status, code, message = 401, "token_expired", "The token has expired."


class InvalidToken(DomainError):
    status, code, message = 401, "invalid_token", "The token is not valid."


class ConfirmationRequired(DomainError):
    status, code, message = (
        403,
        "confirmation_required",
        "This payment needs a confirmation signed with a passkey.",
    )


class ConfirmationMismatch(DomainError):
    status, code, message = (
        422,
        "confirmation_mismatch",
        "The payment is not the one that was confirmed; the confirmation is void.",
    )
