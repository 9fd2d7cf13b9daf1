"""FinTS 3.0 (HBCI PIN/TAN) for German banks and brokers, on python-fints.

Catalogue `settings`: `{"server": "https://banking.example.de/fints", "blz": "12345678",
"product_id": "<registered FinTS product id>"}`; credentials: `{"login", "pin"}` and an
optional `customer_id`. `FINTS_PRODUCT_ID` in the environment overrides the product id.

A bank that wants a TAN for the dialog (PSD2 strong authentication) gets it through a paused
dialog: the client state and the dialog state are sealed in the vault with the challenge, and
the job that receives the customer's TAN resumes the same dialog.
"""

from __future__ import annotations

import base64
import contextlib
from decimal import Decimal
from typing import Any

from fints.client import FinTS3PinTanClient, NeedRetryResponse, NeedTANResponse
from fints.exceptions import (
    FinTSClientPINError,
    FinTSConnectionError,
    FinTSError,
    FinTSUnsupportedOperation,
)
from flask import current_app

from app.wealth.integrations.base import (
    Balance,
    BrokerError,
    BrokerIntegration,
    ExternalAccount,
    InvalidCredentials,
    Position,
    TwoFactorRequired,
)


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


class FinTSIntegration(BrokerIntegration):
    """One FinTS dialog per sync: opened by `authenticate`, ended by `close`."""

    def __init__(self, broker, credentials) -> None:
        super().__init__(broker, credentials)
        self.settings = broker.settings
        self._stack = contextlib.ExitStack()
        self._client: FinTS3PinTanClient | None = None
        self._sepa: dict[str, Any] = {}

    @property
    def client(self) -> FinTS3PinTanClient:
        """The open dialog's client (`authenticate` or `complete_2fa` opens it)."""
        if self._client is None:
            raise BrokerError("The FinTS dialog is not open.")
        return self._client

    def _product_id(self) -> str:
        configured = current_app.config.get("FINTS_PRODUCT_ID") if current_app else None
        return configured or self.settings.get("product_id") or "FLOWLET"

    def _new_client(self, from_data: bytes | None = None):
        return FinTS3PinTanClient(
            str(self.settings["blz"]),
            self.credentials["login"],
            self.credentials["pin"],
            self.settings["server"],
            customer_id=self.credentials.get("customer_id") or None,
            product_id=self._product_id(),
            from_data=from_data,
        )

    def _translate(self, exc: Exception) -> BrokerError:
        if isinstance(exc, FinTSClientPINError):
            return InvalidCredentials("The bank refused the login or PIN.")
        if isinstance(exc, FinTSConnectionError):
            return BrokerError("The bank's FinTS server could not be reached.")
        return BrokerError(
            f"The bank's FinTS server answered with an error ({type(exc).__name__})."
        )

    def _guard(self, func, *args):
        try:
            return func(*args)
        except FinTSError as exc:
            raise self._translate(exc) from exc
        except (OSError, ValueError) as exc:
            raise BrokerError(f"FinTS dialog failed ({type(exc).__name__}).") from exc

    def _challenge(self, response) -> TwoFactorRequired:
        dialog_data = self.client.pause_dialog()
        state = {
            "client": _b64(self.client.deconstruct(including_private=True)),
            "dialog": _b64(dialog_data),
            "tan_request": _b64(response.get_data()),
        }
        message = getattr(response, "challenge", None) or "Confirm the login with a TAN."
        return TwoFactorRequired(str(message)[:480], state)

    def _open(self) -> None:
        client = self._new_client()
        self._client = client
        if not client.get_current_tan_mechanism():
            client.fetch_tan_mechanisms()
        mechanisms = client.get_tan_mechanisms()
        if mechanisms and client.get_current_tan_mechanism() not in mechanisms:
            client.set_tan_mechanism(next(iter(mechanisms)))
        self._stack.enter_context(client)

    def authenticate(self) -> None:
        self._guard(self._open)
        response = self.client.init_tan_response
        if response is not None:
            raise self._challenge(response)

    def complete_2fa(self, state: dict[str, Any], code: str | None) -> None:
        def resume() -> None:
            self._client = self._new_client(from_data=_unb64(state["client"]))
            self._stack.enter_context(self.client.resume_dialog(_unb64(state["dialog"])))
            challenge = NeedRetryResponse.from_data(_unb64(state["tan_request"]))
            answer = self.client.send_tan(challenge, code or "")
            if isinstance(answer, NeedTANResponse):
                raise self._challenge(answer)
            refused = [
                r
                for seg in answer.find_segments("HIRMS")
                for r in seg.responses
                if r.code[0] == "9"
            ]
            if refused:
                raise InvalidCredentials("The bank refused the TAN.")

        self._guard(resume)

    def _names(self) -> dict[str, tuple[str, str]]:
        """IBAN → (product name, currency) from the bank's user parameter data."""
        out = {}
        for upd in self.client.upd.find_segments("HIUPD"):
            iban = getattr(upd, "iban", None)
            if iban:
                name = getattr(upd, "account_product_name", None) or iban
                out[iban] = (str(name), str(getattr(upd, "account_currency", None) or "EUR"))
        return out

    def accounts(self) -> list[ExternalAccount]:
        accounts = self._guard(self.client.get_sepa_accounts)
        names = self._names()
        out = []
        for account in accounts or []:
            self._sepa[account.iban] = account
            name, currency = names.get(account.iban, (account.iban, "EUR"))
            out.append(ExternalAccount(ref=account.iban, name=name, currency=currency))
        return out

    def balance(self, account: ExternalAccount) -> Balance:
        mt940 = self._guard(self.client.get_balance, self._sepa[account.ref])
        if mt940 is None:
            raise BrokerError("The bank sent no balance.")
        amount = mt940.amount
        return Balance(Decimal(str(amount.amount)), str(amount.currency))

    def positions(self, account: ExternalAccount) -> list[Position]:
        def holdings_or_none():
            try:
                return self.client.get_holdings(self._sepa[account.ref])
            except FinTSUnsupportedOperation:
                return None  # the bank offers no depot statements: a cash account

        holdings = self._guard(holdings_or_none)
        if isinstance(holdings, NeedTANResponse) or not holdings:
            return []
        out = []
        for h in holdings:
            price = Decimal(str(h.market_value or 0))
            quantity = Decimal(str(h.pieces or 0))
            total = h.total_value
            out.append(
                Position(
                    symbol=(h.ISIN or "")[:32],
                    isin=h.ISIN,
                    name=h.name,
                    quantity=quantity,
                    price=price,
                    value=Decimal(str(total)) if total is not None else price * quantity,
                    cost_basis=(
                        Decimal(str(h.acquisitionprice)) * quantity
                        if h.acquisitionprice is not None
                        else None
                    ),
                    currency=str(h.value_symbol or account.currency),
                    asset_class="other",
                )
            )
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
