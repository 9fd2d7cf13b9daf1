"""Errors of money movements (codes from API.md, "Error envelope")."""

from app.core.errors import DomainError, NotFound


class InsufficientFunds(DomainError):
    status, code, message = 422, "insufficient_funds", "The account's available balance is too low."


class AccountFrozen(DomainError):
    status, code, message = 422, "account_frozen", "The account is frozen or closed."


class CurrencyMismatch(DomainError):
    status, code, message = (
        422,
        "currency_mismatch",
        "The currency does not match the account's currency.",
    )


class LimitExceeded(DomainError):
    status, code, message = 422, "limit_exceeded", "The amount exceeds your transfer limits."


class FreshTokenRequired(DomainError):
    status, code, message = (
        401,
        "fresh_token_required",
        "This amount needs a fresh token; use /auth/step-up.",
    )


class AlreadyReversed(DomainError):
    status, code, message = 409, "already_reversed", "The transaction was already reversed."


class HoldNotActive(DomainError):
    status, code, message = 409, "hold_not_active", "The hold was already captured or released."


class KycRequired(DomainError):
    status, code, message = 403, "kyc_required", "Your identity check does not allow this yet."


class AccountNotFound(NotFound):
    message = "The account was not found."


class SuspectedFraud(DomainError):
    """A payment that cannot wait for a review (a card's) and that the fraud rules would hold."""

    status, code = 422, "suspected_fraud"
    message = "The payment looks like fraud."
