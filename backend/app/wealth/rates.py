"""Exchange rates from a Frankfurter-compatible service, stored per day, and conversions.

The service (`EXCHANGE_RATES_URL`, the public Frankfurter API by default) publishes reference
rates against one base currency for working days. We store every published `EUR → X` rate of a
day; a conversion `A → B` on a day uses the newest stored day on or before it that has both
legs (`B per EUR / A per EUR`) and says which day that was, so a weekend or holiday snapshot is
valued at the last published rate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import requests
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core import uow
from app.core.errors import DomainError
from app.core.money import exponent, is_currency
from app.wealth.models import ExchangeRate

RATE_BASE = "EUR"
RATE_PLACES = Decimal("0.0000000001")


class RatesUnavailable(DomainError):
    status, code, message = 422, "rate_unavailable", "No exchange rate is known for this pair."


class RatesServiceError(Exception):
    """The rates service failed or answered something we cannot read."""


@dataclass(frozen=True)
class Rate:
    base: str
    quote: str
    rate: Decimal  # units of quote per unit of base
    rate_date: date  # the day the rate was published for
    requested_date: date
    source: str

    @property
    def exact(self) -> bool:
        return self.rate_date == self.requested_date


class FrankfurterClient:
    """`GET {base}/{date}?from=EUR` and `GET {base}/{start}..{end}?from=EUR`."""

    def __init__(self, base_url: str, *, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> dict:
        try:
            response = requests.get(f"{self.base_url}/{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RatesServiceError(f"rates service unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RatesServiceError(f"rates service answered {response.status_code}")
        try:
            return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)
        except ValueError as exc:
            raise RatesServiceError("rates service answered something that is not JSON") from exc

    def on(self, day: date, base: str = RATE_BASE) -> tuple[date, dict[str, Decimal]]:
        """The rates published for `day` (or the service's closest earlier day) and that day."""
        body = self._get(day.isoformat(), {"from": base})
        try:
            return date.fromisoformat(body["date"]), dict(body["rates"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RatesServiceError("rates answer lacks date or rates") from exc

    def series(
        self, start: date, end: date, base: str = RATE_BASE
    ) -> dict[date, dict[str, Decimal]]:
        """Every published day between `start` and `end` with its rates."""
        body = self._get(f"{start.isoformat()}..{end.isoformat()}", {"from": base})
        try:
            return {date.fromisoformat(d): dict(r) for d, r in body["rates"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RatesServiceError("rates answer lacks rates") from exc


def client() -> FrankfurterClient:
    return FrankfurterClient(
        current_app.config["EXCHANGE_RATES_URL"],
        timeout=float(current_app.config["EXCHANGE_RATES_TIMEOUT"]),
    )


def _source() -> str:
    return current_app.config["EXCHANGE_RATES_URL"][:200]


def store_day(session: Session, day: date, rates: dict[str, Decimal], base: str = RATE_BASE) -> int:
    """Upsert one published day's rates; returns how many pairs were written. Flushes only."""
    rows = [
        {
            "base": base,
            "quote": quote,
            "rate_date": day,
            "rate": Decimal(value).quantize(RATE_PLACES),
            "source": _source(),
        }
        for quote, value in rates.items()
        if is_currency(quote) and Decimal(value) > 0
    ]
    if not rows:
        return 0
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if on_postgresql else sqlite.insert
    stmt = insert(ExchangeRate).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["base", "quote", "rate_date"],
        set_={"rate": stmt.excluded.rate, "source": stmt.excluded.source},
    )
    session.execute(stmt)
    return len(rows)


def fetch_day(session: Session, *, day: date) -> tuple[date, int]:
    """Fetch and store the rates for `day`; returns the published day and the pair count."""
    published, rates = client().on(day)
    count = store_day(session, published, rates)
    uow.commit(session)
    return published, count


def _chunks(start: date, end: date, days: int) -> Iterator[tuple[date, date]]:
    cursor = start
    while cursor <= end:
        stop = min(end, cursor + timedelta(days=days - 1))
        yield cursor, stop
        cursor = stop + timedelta(days=1)


def backfill(
    session: Session,
    *,
    start: date,
    end: date,
    chunk_days: int = 31,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fetch and store every published day from `start` to `end` (a commit per chunk)."""
    total = 0
    fetcher = client()
    for lo, hi in _chunks(start, end, chunk_days):
        for day, rates in fetcher.series(lo, hi).items():
            total += store_day(session, day, rates)
        uow.commit(session)
        if progress:
            progress((hi - lo).days + 1)
    return total


def _rates_on(session: Session, currencies: set[str], day: date) -> tuple[date, dict]:
    """The newest day on or before `day` that has every currency's EUR rate, and those rates."""
    wanted = sorted(c for c in currencies if c != RATE_BASE)
    if not wanted:
        return day, {}
    newest = session.scalar(
        sa.select(ExchangeRate.rate_date)
        .where(
            ExchangeRate.base == RATE_BASE,
            ExchangeRate.quote.in_(wanted),
            ExchangeRate.rate_date <= day,
        )
        .group_by(ExchangeRate.rate_date)
        .having(sa.func.count(sa.distinct(ExchangeRate.quote)) == len(wanted))
        .order_by(ExchangeRate.rate_date.desc())
        .limit(1)
    )
    if newest is None:
        return day, {}
    rows = session.execute(
        sa.select(ExchangeRate.quote, ExchangeRate.rate).where(
            ExchangeRate.base == RATE_BASE,
            ExchangeRate.quote.in_(wanted),
            ExchangeRate.rate_date == newest,
        )
    )
    return newest, {quote: Decimal(rate) for quote, rate in rows}


def rate_for(session: Session, *, base: str, quote: str, day: date) -> Rate:
    """The rate `base → quote` of `day` or the closest earlier published day, saying which.

    Both legs come from the same published day (the newest on or before `day` that has both).
    """
    if base == quote:
        return Rate(base, quote, Decimal(1), day, day, "identity")
    used, found = _rates_on(session, {base, quote}, day)
    found[RATE_BASE] = Decimal(1)
    if base not in found or quote not in found:
        raise RatesUnavailable(
            f"No {base}/{quote} rate is known on or before {day.isoformat()}.",
            details={"from": [base], "to": [quote], "date": [day.isoformat()]},
        )
    value = (found[quote] / found[base]).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)
    return Rate(base, quote, value, used, day, _source())


def rate_text(rate: Decimal) -> str:
    """A rate on the wire: plain decimal digits without trailing zeros (`"1.0843"`)."""
    return format(rate.normalize(), "f")


def convert_minor(amount: int, *, from_currency: str, to_currency: str, rate: Decimal) -> int:
    """Minor units of `from_currency` → minor units of `to_currency` at `rate` (half-even)."""
    major = Decimal(amount).scaleb(-exponent(from_currency)) * rate
    return int(major.scaleb(exponent(to_currency)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
