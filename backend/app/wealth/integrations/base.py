"""The one interface every broker integration implements, and the values it returns.

A sync calls `authenticate()` (or `complete_2fa()` after a challenge), then `accounts()` and,
for each account, `balance()` and `positions()`. Amounts are `Decimal` in the account's
currency; the sync service turns them into minor units.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class BrokerError(Exception):
    """The broker failed or could not be reached; the sync is retried."""

    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCredentials(BrokerError):
    """The broker refused the credentials; retrying cannot help until they change."""

    retryable = False


class TwoFactorRequired(Exception):
    """The broker wants a second factor. `state` is what completing it needs (kept sealed)."""

    def __init__(self, challenge: str, state: dict[str, Any]) -> None:
        super().__init__(challenge)
        self.challenge = challenge
        self.state = state


@dataclass(frozen=True)
class ExternalAccount:
    ref: str  # the broker's id for the account
    name: str
    currency: str


@dataclass(frozen=True)
class Balance:
    amount: Decimal  # the account's total value (cash and holdings)
    currency: str


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal
    price: Decimal
    value: Decimal
    currency: str
    asset_class: str = "other"
    isin: str | None = None
    name: str | None = None
    cost_basis: Decimal | None = None


@dataclass
class BrokerSettings:
    """What the catalogue says about one broker (code, settings) for its integration."""

    code: str
    settings: dict[str, Any] = field(default_factory=dict)


class BrokerIntegration(ABC):
    """Talks to one broker for one customer login."""

    def __init__(self, broker: BrokerSettings, credentials: dict[str, Any]) -> None:
        self.broker = broker
        self.credentials = credentials

    @abstractmethod
    def authenticate(self) -> None:
        """Log in; raise InvalidCredentials, BrokerError or TwoFactorRequired."""

    @abstractmethod
    def complete_2fa(self, state: dict[str, Any], code: str | None) -> None:
        """Answer the challenge raised by `authenticate` (a code, or none for app approval)."""

    @abstractmethod
    def accounts(self) -> list[ExternalAccount]:
        """The accounts this login can see."""

    @abstractmethod
    def balance(self, account: ExternalAccount) -> Balance:
        """The account's current total value."""

    @abstractmethod
    def positions(self, account: ExternalAccount) -> list[Position]:
        """The account's holdings (empty for a cash account)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection (log out)."""
