"""Errors of the wealth domain."""

from app.core.errors import Conflict, NotFound


class LinkedAccountNotFound(NotFound):
    message = "The linked account was not found."


class NoChallengePending(Conflict):
    message = "This linked account is not waiting for a 2FA answer."
