"""A generic REST/JSON broker integration, configured per broker in the catalogue.

`settings` of a `rest` broker:

```json
{"base_url": "https://api.broker.example/v1",
 "timeout": 10,
 "auth": {"style": "login", "path": "/session",
          "body": {"user": "{username}", "pass": "{password}"},
          "token": "access_token", "challenge": "challenge", "challenge_id": "challenge.id",
          "challenge_message": "challenge.message", "two_factor_path": "/session/2fa"},
 "endpoints": {"accounts": "/accounts", "balance": "/accounts/{ref}/balance",
               "positions": "/accounts/{ref}/positions"},
 "mapping": {"accounts": {"items": "data", "ref": "id", "name": "name", "currency": "currency"},
             "balance": {"amount": "balance.amount", "currency": "balance.currency"},
             "positions": {"items": "data", "symbol": "ticker", "isin": "isin", "name": "name",
                           "quantity": "qty", "price": "price", "value": "market_value",
                           "cost_basis": "cost", "currency": "currency", "asset_class": "type"},
             "asset_classes": {"stock": "equity", "etf": "fund"},
             "error": "error.message"}}
```

Auth styles: `login` (POST the credentials, then a bearer token; the response may instead carry
a 2FA challenge), `bearer` (a token in the credentials, e.g. `{"token": "{api_token}"}`),
`header` (`{"headers": {"X-API-Key": "{api_key}"}}`) and `basic` (`{"username":
"{username}", "password": "{password}"}`). Paths are dotted (`balance.amount`). Numbers are read
as decimals, never floats.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from app.wealth.integrations.base import (
    Balance,
    BrokerError,
    BrokerIntegration,
    ExternalAccount,
    InvalidCredentials,
    Position,
    TwoFactorRequired,
)

ASSET_CLASSES = {"cash", "equity", "bond", "fund", "crypto", "commodity", "other"}


def pick(data: Any, path: str | None) -> Any:
    """`data["a"]["b"]` for the path `a.b` (list indexes allowed); None when absent."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _fill(template: Any, values: dict[str, Any]) -> Any:
    """Replace `{name}` placeholders in a JSON template with credential values."""
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            return values[template[1:-1]]
        return template.format_map(values)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise BrokerError(f"The broker's answer has no valid {what}.")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise BrokerError(f"The broker's answer has no valid {what}.") from exc


class RestIntegration(BrokerIntegration):
    """One login at a REST/JSON broker; the session token lives only in this object."""

    def __init__(self, broker, credentials) -> None:
        super().__init__(broker, credentials)
        self.settings = broker.settings
        self.base_url = str(self.settings["base_url"]).rstrip("/")
        self.timeout = float(self.settings.get("timeout", 10))
        self.auth = self.settings.get("auth", {"style": "login"})
        self.mapping = self.settings.get("mapping", {})
        self.endpoints = self.settings.get("endpoints", {})
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"

    # --- transport ------------------------------------------------------------------------

    def _error_message(self, response: requests.Response) -> str:
        try:
            body = json.loads(response.text, parse_float=Decimal)
        except ValueError:
            body = None
        message = pick(body, self.mapping.get("error", "error.message")) if body else None
        text = str(message) if message else response.reason or "no reason given"
        return f"The broker answered {response.status_code}: {text}"[:480]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(
                method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise BrokerError(f"The broker could not be reached ({type(exc).__name__}).") from exc
        if response.status_code in (401, 403):
            raise InvalidCredentials(self._error_message(response))
        if response.status_code >= 400:
            raise BrokerError(self._error_message(response))
        try:
            return json.loads(response.text, parse_float=Decimal) if response.text else {}
        except ValueError as exc:
            raise BrokerError("The broker's answer is not JSON.") from exc

    # --- authentication -------------------------------------------------------------------

    def _use_token(self, token: Any) -> None:
        if not token or not isinstance(token, str):
            raise BrokerError("The broker's login answer has no token.")
        self.http.headers["Authorization"] = f"Bearer {token}"

    def authenticate(self) -> None:
        style = self.auth.get("style", "login")
        if style == "bearer":
            self._use_token(_fill(self.auth.get("token", "{token}"), self.credentials))
        elif style == "header":
            for name, template in self.auth["headers"].items():
                self.http.headers[name] = str(_fill(template, self.credentials))
        elif style == "basic":
            self.http.auth = (
                str(_fill(self.auth.get("username", "{username}"), self.credentials)),
                str(_fill(self.auth.get("password", "{password}"), self.credentials)),
            )
        elif style == "login":
            body = _fill(
                self.auth.get("body", {"username": "{username}", "password": "{password}"}),
                self.credentials,
            )
            answer = self._call("POST", self.auth.get("path", "/login"), json=body)
            challenge = pick(answer, self.auth.get("challenge", "challenge"))
            if challenge:
                raise TwoFactorRequired(
                    str(
                        pick(answer, self.auth.get("challenge_message", "challenge.message"))
                        or "Confirm the login at your broker."
                    )[:480],
                    {"challenge_id": pick(answer, self.auth.get("challenge_id", "challenge.id"))},
                )
            self._use_token(pick(answer, self.auth.get("token", "access_token")))
        else:
            raise BrokerError(f"Unknown auth style {style!r} in the broker catalogue.")

    def complete_2fa(self, state: dict[str, Any], code: str | None) -> None:
        body = {"challenge_id": state.get("challenge_id")}
        if code is not None:
            body["code"] = code
        answer = self._call("POST", self.auth.get("two_factor_path", "/login/2fa"), json=body)
        self._use_token(pick(answer, self.auth.get("token", "access_token")))

    # --- data -----------------------------------------------------------------------------

    def _items(self, answer: Any, items_path: str | None) -> list[Any]:
        items = pick(answer, items_path) if items_path else answer
        if isinstance(items, dict) and not items_path:
            items = [items]  # a broker with one account answers with the account itself
        if not isinstance(items, list):
            raise BrokerError("The broker's answer has no list where one was expected.")
        return items

    def accounts(self) -> list[ExternalAccount]:
        m = self.mapping.get("accounts", {})
        answer = self._call("GET", self.endpoints.get("accounts", "/accounts"))
        return [
            ExternalAccount(
                ref=str(pick(item, m.get("ref", "id"))),
                name=str(pick(item, m.get("name", "name")) or pick(item, m.get("ref", "id")))[:120],
                currency=str(pick(item, m.get("currency", "currency")) or "").upper(),
            )
            for item in self._items(answer, m.get("items", "data"))
        ]

    def balance(self, account: ExternalAccount) -> Balance:
        m = self.mapping.get("balance", {})
        path = self.endpoints.get("balance", "/accounts/{ref}/balance").format(ref=account.ref)
        answer = self._call("GET", path)
        currency = pick(answer, m.get("currency", "currency")) or account.currency
        return Balance(_decimal(pick(answer, m.get("amount", "amount")), "balance"), currency)

    def positions(self, account: ExternalAccount) -> list[Position]:
        m = self.mapping.get("positions", {})
        path = self.endpoints.get("positions")
        if not path:
            return []
        answer = self._call("GET", path.format(ref=account.ref))
        classes = self.mapping.get("asset_classes", {})
        out = []
        for item in self._items(answer, m.get("items", "data")):
            quantity = _decimal(pick(item, m.get("quantity", "quantity")), "quantity")
            price = _decimal(pick(item, m.get("price", "price")), "price")
            raw_value = pick(item, m.get("value", "value"))
            value = _decimal(raw_value, "value") if raw_value is not None else quantity * price
            raw_cost = pick(item, m.get("cost_basis", "cost_basis"))
            raw_class = str(pick(item, m.get("asset_class", "asset_class")) or "other").lower()
            asset_class = classes.get(raw_class, raw_class)
            out.append(
                Position(
                    symbol=str(pick(item, m.get("symbol", "symbol")))[:32],
                    isin=pick(item, m.get("isin", "isin")),
                    name=pick(item, m.get("name", "name")),
                    quantity=quantity,
                    price=price,
                    value=value,
                    cost_basis=_decimal(raw_cost, "cost basis") if raw_cost is not None else None,
                    currency=str(pick(item, m.get("currency", "currency")) or account.currency),
                    asset_class=asset_class if asset_class in ASSET_CLASSES else "other",
                )
            )
        return out

    def close(self) -> None:
        self.http.close()
