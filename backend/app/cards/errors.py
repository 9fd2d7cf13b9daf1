"""Errors of the cards domain (codes from API.md, "Error envelope")."""

from app.core.errors import Conflict, DomainError, NotFound


class CardNotFound(NotFound):
    message = "The card was not found."


class AuthorizationNotFound(NotFound):
    message = "The authorization was not found."


class CardStateConflict(Conflict):
    message = "The card's status does not allow this."


class AuthorizationStateConflict(Conflict):
    message = "The authorization's status does not allow this."


class KycRequired(DomainError):
    status, code, message = 403, "kyc_required", "Cards are issued once your identity is verified."


class CaptureExceedsAuthorization(DomainError):
    status, code = 422, "amount_exceeds_authorization"
    message = "A capture may not exceed the authorized amount."
