"""Local HTTP servers the wealth tests start: a Frankfurter-compatible rates service and a
REST/JSON broker. Both run on 127.0.0.1 in a thread and record what they were asked."""

from __future__ import annotations

import json
import re
import threading
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class LocalServer:
    def __init__(self, handler_cls) -> None:
        self.state: dict = {"requests": []}
        handler = type("Handler", (handler_cls,), {"server_state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _JSONHandler(BaseHTTPRequestHandler):
    server_state: dict

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def reply(self, status: int, body) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")


# --- Frankfurter ----------------------------------------------------------------------------


def eur_rates(day: date) -> dict[str, Decimal]:
    """The rates the local service publishes for a working day (deterministic)."""
    wobble = Decimal(day.toordinal() % 10) / 1000
    return {
        "USD": Decimal("1.1000") + wobble,
        "GBP": Decimal("0.8500"),
        "CHF": Decimal("0.9500"),
        "JPY": Decimal("160.00"),
    }


def published_day(day: date) -> date:
    """Like the ECB: nothing on Saturdays and Sundays, the Friday before counts."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _rates_json(rates: dict[str, Decimal]) -> str:
    # Numbers, as the real service sends them (the client must not read them as floats).
    return "{" + ",".join(f'"{k}":{v}' for k, v in rates.items()) + "}"


class FrankfurterHandler(_JSONHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        self.server_state["requests"].append(self.path)
        if self.server_state.get("fail"):
            return self.reply(503, {"message": "down"})
        base = parse_qs(url.query).get("from", ["EUR"])[0]
        path = url.path.strip("/")
        if base != "EUR":
            return self.reply(422, {"message": "only EUR in this test service"})
        series = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", path)
        if series:
            start, end = (date.fromisoformat(g) for g in series.groups())
            days = [
                start + timedelta(days=n)
                for n in range((end - start).days + 1)
                if (start + timedelta(days=n)).weekday() < 5
            ]
            rates = ",".join(f'"{d.isoformat()}":{_rates_json(eur_rates(d))}' for d in days)
            text = (
                f'{{"amount":1.0,"base":"EUR","start_date":"{start.isoformat()}",'
                f'"end_date":"{end.isoformat()}","rates":{{{rates}}}}}'
            )
            return self.reply(200, text.encode())
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", path):
            day = published_day(date.fromisoformat(path))
            text = (
                f'{{"amount":1.0,"base":"EUR","date":"{day.isoformat()}",'
                f'"rates":{_rates_json(eur_rates(day))}}}'
            )
            return self.reply(200, text.encode())
        return self.reply(404, {"message": "not found"})


# --- a REST/JSON broker ---------------------------------------------------------------------

REST_SETTINGS_TEMPLATE = {
    "auth": {
        "style": "login",
        "path": "/login",
        "body": {"user": "{username}", "pass": "{password}"},
        "token": "access_token",
        "challenge": "challenge",
        "challenge_id": "challenge.id",
        "challenge_message": "challenge.message",
        "two_factor_path": "/login/2fa",
    },
    "endpoints": {
        "accounts": "/accounts",
        "balance": "/accounts/{ref}/balance",
        "positions": "/accounts/{ref}/positions",
    },
    "mapping": {
        "accounts": {"items": "data", "ref": "id", "name": "name", "currency": "currency"},
        "balance": {"amount": "balance.amount", "currency": "balance.currency"},
        "positions": {
            "items": "data",
            "symbol": "ticker",
            "isin": "isin",
            "name": "name",
            "quantity": "qty",
            "price": "price",
            "value": "market_value",
            "cost_basis": "cost",
            "currency": "currency",
            "asset_class": "type",
        },
        "asset_classes": {"stock": "equity", "etf": "fund"},
        "error": "error.message",
    },
}

BROKER_2FA_CODE = "654321"


class BrokerHandler(_JSONHandler):
    """Logins: password `bad` → 401; a user starting with `2fa` gets a challenge."""

    def _authorized(self) -> bool:
        return (self.headers.get("Authorization") or "").startswith("Bearer tok-")

    def do_POST(self) -> None:
        state = self.server_state
        body = self.body()
        state["requests"].append(("POST", self.path))
        if state.get("down"):
            return self.reply(503, {"error": {"message": "Scheduled maintenance"}})
        if self.path == "/login":
            if body.get("pass") == "bad":
                return self.reply(401, {"error": {"message": "Invalid user or password"}})
            if str(body.get("user", "")).startswith("2fa"):
                state["challenged"] = body["user"]
                return self.reply(
                    200, {"challenge": {"id": "ch-77", "message": "Enter the code we sent by SMS"}}
                )
            return self.reply(200, {"access_token": f"tok-{body.get('user')}"})
        if self.path == "/login/2fa":
            if state.get("fail_2fa", 0) > 0:
                state["fail_2fa"] -= 1
                return self.reply(502, {"error": {"message": "Upstream hiccup"}})
            if body.get("challenge_id") == "ch-77" and body.get("code") == BROKER_2FA_CODE:
                return self.reply(200, {"access_token": "tok-after-2fa"})
            return self.reply(401, {"error": {"message": "Wrong code"}})
        return self.reply(404, {"error": {"message": "no such path"}})

    def do_GET(self) -> None:
        state = self.server_state
        state["requests"].append(("GET", self.path))
        if state.get("down"):
            return self.reply(503, {"error": {"message": "Scheduled maintenance"}})
        if not self._authorized():
            return self.reply(401, {"error": {"message": "Token missing"}})
        if self.path == "/accounts":
            return self.reply(
                200, {"data": [{"id": "ACC-1", "name": "Brokerage", "currency": "USD"}]}
            )
        if self.path == "/accounts/ACC-1/balance":
            if state.get("garbled"):
                return self.reply(200, {"balance": {"amount": {"nested": True}}})
            amount = state.get("balance", "15234.50")
            text = f'{{"balance": {{"amount": {amount}, "currency": "USD"}}}}'
            return self.reply(200, text.encode())
        if self.path == "/accounts/ACC-1/positions":
            reached = state.get("positions_reached")
            release = state.get("positions_release")
            if reached is not None and release is not None:
                reached.set()
                release.wait(30)
            text = (
                '{"data": ['
                '{"ticker": "AAPL", "isin": "US0378331005", "name": "Apple Inc.", "qty": 10,'
                ' "price": 190.12, "market_value": 1901.20, "cost": 1500.00,'
                ' "currency": "USD", "type": "stock"},'
                '{"ticker": "VWCE", "isin": "IE00BK5BQT80", "name": "Vanguard FTSE All-World",'
                ' "qty": 2.5, "price": 120.40, "market_value": 301.00, "currency": "USD",'
                ' "type": "etf"}]}'
            )
            return self.reply(200, text.encode())
        return self.reply(404, {"error": {"message": "no such path"}})
