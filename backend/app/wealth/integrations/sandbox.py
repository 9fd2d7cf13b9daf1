"""The sandbox broker (code `sandbox`): deterministic accounts for demos and tests.

Any credentials its schema accepts log in; a few usernames and passwords show the other paths:

| credentials | behaviour |
| --- | --- |
| password `wrong` | refused: `InvalidCredentials` (no retry) |
| username starting with `2fa` | a 2FA challenge; the code is `123456` |
| username starting with `down` | the broker is unavailable: `BrokerError` (retried) |

Values depend only on the username and the day, so two syncs the same day agree.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from app.core.db import utcnow
from app.wealth.integrations.base import (
    Balance,
    BrokerError,
    BrokerIntegration,
    ExternalAccount,
    InvalidCredentials,
    Position,
    TwoFactorRequired,
)

SANDBOX_2FA_CODE = "123456"
CENT = Decimal("0.01")

_HOLDINGS = (
    # symbol, ISIN, name, asset class, price in EUR
    ("SXR8", "IE00B5BMR087", "iShares Core S&P 500 UCITS ETF", "fund", Decimal("500.00")),
    ("SAP", "DE0007164600", "SAP SE", "equity", Decimal("180.00")),
    ("DBXN", "LU0290355717", "Xtrackers II Eurozone Government Bond", "bond", Decimal("140.00")),
)
_DEPOT = ExternalAccount(ref="SBX-DEPOT", name="Sandbox Depot", currency="EUR")
_CASH = ExternalAccount(ref="SBX-CASH", name="Sandbox Cash", currency="USD")


class SandboxIntegration(BrokerIntegration):
    """A broker that lives in this process; what it answers depends on the username and day."""

    def _seed(self) -> bytes:
        return hashlib.sha256(str(self.credentials.get("username", "")).encode()).digest()

    def _today(self) -> date:
        return utcnow().date()

    def authenticate(self) -> None:
        username = str(self.credentials.get("username", ""))
        if self.credentials.get("password") == "wrong":
            raise InvalidCredentials("The sandbox broker refused the username or password.")
        if username.startswith("down"):
            raise BrokerError("The sandbox broker is unavailable.")
        if username.startswith("2fa"):
            raise TwoFactorRequired(
                f"Enter the code the sandbox broker sent you ({SANDBOX_2FA_CODE}).",
                {"session": hashlib.sha256(self._seed()).hexdigest()[:16]},
            )

    def complete_2fa(self, state: dict[str, Any], code: str | None) -> None:
        if code != SANDBOX_2FA_CODE or not state.get("session"):
            raise InvalidCredentials("The sandbox broker refused the 2FA code.")

    def accounts(self) -> list[ExternalAccount]:
        return [_DEPOT, _CASH]

    def _price(self, base: Decimal, index: int, day: date) -> Decimal:
        # A small deterministic wobble per day: -3 % … +3 %.
        wobble = Decimal((day.toordinal() * (index + 3)) % 7 - 3) / 100
        return (base * (1 + wobble)).quantize(CENT)

    def _positions(self, day: date) -> list[Position]:
        seed = self._seed()
        out = []
        for index, (symbol, isin, name, asset_class, base) in enumerate(_HOLDINGS):
            quantity = Decimal(1 + seed[index] % 20)
            price = self._price(base, index, day)
            out.append(
                Position(
                    symbol=symbol,
                    isin=isin,
                    name=name,
                    asset_class=asset_class,
                    quantity=quantity,
                    price=price,
                    value=(quantity * price).quantize(CENT),
                    cost_basis=(quantity * base * Decimal("0.9")).quantize(CENT),
                    currency="EUR",
                )
            )
        return out

    def balance(self, account: ExternalAccount) -> Balance:
        seed = self._seed()
        if account.ref == _CASH.ref:
            return Balance(Decimal(2500 + int.from_bytes(seed[4:6]) % 1000), "USD")
        cash = Decimal(1000 + seed[3] % 500)
        return Balance(cash + sum(p.value for p in self._positions(self._today())), "EUR")

    def positions(self, account: ExternalAccount) -> list[Position]:
        return self._positions(self._today()) if account.ref == _DEPOT.ref else []
