"""Exchange rates from a local Frankfurter-compatible service: CLI, storage, conversions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core import uow
from app.wealth import rates
from app.wealth.models import ExchangeRate
from tests.wealth.servers import eur_rates

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A week in 2021 nobody else's test stores: Mon 2021-03-01 … Sun 2021-03-07.
MONDAY = date(2021, 3, 1)


def _stored(session, day: date, quote: str) -> Decimal | None:
    session.expire_all()
    return session.scalar(
        sa.select(ExchangeRate.rate).where(
            ExchangeRate.base == "EUR", ExchangeRate.quote == quote, ExchangeRate.rate_date == day
        )
    )


def test_client_reads_numbers_as_decimals(rates_server):
    published, values = rates.FrankfurterClient(rates_server.url).on(MONDAY)
    assert published == MONDAY
    assert values["USD"] == eur_rates(MONDAY)["USD"]
    assert all(isinstance(v, Decimal) for v in values.values())


def test_rates_fetch_one_day(app, db_session, rates_server):
    day = MONDAY + timedelta(days=1)
    result = app.test_cli_runner().invoke(args=["rates", "fetch", "--date", day.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"stored 4 rates for {day.isoformat()}"
    assert _stored(db_session, day, "USD") == eur_rates(day)["USD"]
    assert f"/{day.isoformat()}?from=EUR" in rates_server.state["requests"]


def test_rates_fetch_on_a_sunday_stores_fridays_rates(app, db_session):
    sunday = date(2021, 2, 28)
    result = app.test_cli_runner().invoke(args=["rates", "fetch", "--date", sunday.isoformat()])
    assert result.exit_code == 0, result.output
    assert "published for 2021-02-26" in result.output
    assert _stored(db_session, date(2021, 2, 26), "GBP") == Decimal("0.85")


def test_backfill_stores_every_published_day_with_a_progress_bar(app, db_session):
    start, end = date(2021, 4, 1), date(2021, 5, 20)
    result = app.test_cli_runner().invoke(
        args=[
            "rates",
            "fetch",
            "--backfill",
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Loading rates" in result.output
    working_days = sum(
        1 for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5
    )
    assert f"stored {working_days * 4} rates for 2021-04-01..2021-05-20" in result.output
    assert _stored(db_session, date(2021, 5, 20), "JPY") == Decimal("160")
    assert _stored(db_session, date(2021, 5, 16), "JPY") is None  # a Sunday


def test_backfill_needs_a_start(app):
    result = app.test_cli_runner().invoke(args=["rates", "fetch", "--backfill"])
    assert result.exit_code == 2
    assert "--backfill needs --start" in result.output


def test_service_failure_is_a_cli_error(app, rates_server):
    rates_server.state["fail"] = True
    result = app.test_cli_runner().invoke(args=["rates", "fetch", "--date", "2021-01-05"])
    assert result.exit_code == 1
    assert "rates service answered 503" in result.output


def test_conversion_uses_the_closest_earlier_day_and_says_so(app, client, customer, db_session):
    friday = date(2021, 6, 4)
    app.test_cli_runner().invoke(args=["rates", "fetch", "--date", friday.isoformat()])
    sunday = friday + timedelta(days=2)
    response = client.get(
        f"/api/v1/exchange-rates?from=USD&to=GBP&date={sunday.isoformat()}",
        headers=customer.headers,
    )
    assert response.status_code == 200
    body = response.get_json()
    expected = (Decimal("0.85") / eur_rates(friday)["USD"]).quantize(rates.RATE_PLACES)
    assert body == {
        "from": "USD",
        "to": "GBP",
        "rate": rates.rate_text(expected),
        "date": "2021-06-06",
        "rate_date": "2021-06-04",
        "exact": False,
        "source": app.config["EXCHANGE_RATES_URL"],
    }
    same_day = client.get(
        f"/api/v1/exchange-rates?from=EUR&to=USD&date={friday.isoformat()}",
        headers=customer.headers,
    ).get_json()
    assert same_day["exact"] is True
    assert Decimal(same_day["rate"]) == eur_rates(friday)["USD"]


def test_no_rate_before_any_published_day_is_422(client, customer):
    response = client.get(
        "/api/v1/exchange-rates?from=USD&to=CHF&date=1999-01-04", headers=customer.headers
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "rate_unavailable"


def test_exchange_rates_validates_currencies(client, customer):
    response = client.get("/api/v1/exchange-rates?from=usd&to=XXXX", headers=customer.headers)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) >= {"from", "to"}


def test_convert_minor_respects_exponents():
    assert (
        rates.convert_minor(10000, from_currency="USD", to_currency="JPY", rate=Decimal("150.5"))
        == 15050
    )
    assert (
        rates.convert_minor(15050, from_currency="JPY", to_currency="EUR", rate=Decimal("0.0061"))
        == 9180
    )  # 91.805 EUR, rounded half to even


def test_both_legs_come_from_the_same_published_day(app, db_session):
    day1, day2 = date(2019, 7, 1), date(2019, 7, 2)
    rates.store_day(db_session, day1, {"USD": Decimal("1.10"), "CHF": Decimal("1.20")})
    rates.store_day(db_session, day2, {"USD": Decimal("1.30")})  # no CHF published that day
    uow.commit(db_session)
    rate = rates.rate_for(db_session, base="USD", quote="CHF", day=day2)
    assert (rate.rate_date, rate.exact) == (day1, False)
    assert rate.rate == (Decimal("1.20") / Decimal("1.10")).quantize(rates.RATE_PLACES)
    assert rates.rate_for(db_session, base="EUR", quote="USD", day=day2).rate == Decimal("1.3")
