"""Errors of the accounts domain."""

from app.core.errors import Conflict


class AccountNotEmpty(Conflict):
    message = "Only an account with a zero balance and no pending holds can be closed."
