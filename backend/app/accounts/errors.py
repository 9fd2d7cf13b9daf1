"""Errors of the accounts domain."""

from app.core.errors import Conflict, NotFound


class AccountNotFound(NotFound):
    message = "The account was not found."


class AccountNotEmpty(Conflict):
    message = "Only an account with a zero balance and no pending holds can be closed."
