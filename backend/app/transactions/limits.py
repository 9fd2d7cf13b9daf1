"""Outgoing limits per customer, keyed by KYC status (the one place that decides them).

`TRANSFER_LIMITS` (config) maps a user's `kyc_status` to `per_transfer` and `daily` amounts in
the account's currency ("5000,JPY=750000"); a status without an entry gets the limits of
`none`. Withdrawals and transfers count; pending and held-for-review ones count too
(`activity.OUTGOING_TYPES`, `activity.COUNTED_STATUSES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.core.money import configured_amount, format_amount
from app.ledger.errors import LimitExceeded


@dataclass(frozen=True)
class Limits:
    per_transfer: int | None
    daily: int | None


def limits_for(*, kyc_status: str, currency: str, kyc_level: str | None = None) -> Limits:
    """The outgoing limits, in minor units of `currency`, for a customer at `kyc_status`.

    A KYC level granted by compliance (`basic`, `full`) decides when there is one.
    """
    table = current_app.config["TRANSFER_LIMITS"]
    key = kyc_level if kyc_level and kyc_level != "none" and kyc_level in table else kyc_status
    level = table.get(key) or table.get("none") or {}
    return Limits(
        per_transfer=configured_amount(level.get("per_transfer"), currency),
        daily=configured_amount(level.get("daily"), currency),
    )


def check_outgoing(
    *, kyc_status: str, currency: str, amount: int, sent_today: int, kyc_level: str | None = None
) -> None:
    """Raise `limit_exceeded` when `amount` breaks the per-transfer or the daily limit.

    `sent_today` comes from `activity.outgoing_activity`, read with the customer's row locked so
    that concurrent requests are counted in turn.
    """
    limits = limits_for(kyc_status=kyc_status, currency=currency, kyc_level=kyc_level)
    if limits.per_transfer is not None and amount > limits.per_transfer:
        raise LimitExceeded(
            "The amount exceeds your per-transfer limit.",
            details={"amount": [f"At most {format_amount(limits.per_transfer, currency)}."]},
        )
    if limits.daily is not None and sent_today + amount > limits.daily:
        left = max(limits.daily - sent_today, 0)
        raise LimitExceeded(
            "The amount exceeds your daily limit.",
            details={"amount": [f"{format_amount(left, currency)} left today."]},
        )
