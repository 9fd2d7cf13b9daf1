"""Limits per customer, keyed by KYC status (the one place that decides them).

`TRANSFER_LIMITS` (config) maps a user's `kyc_status` to `per_transfer` and `daily` amounts for
what leaves their accounts (withdrawals and transfers, counted when placed: completed, pending
or held for review); `DEPOSIT_LIMITS` to `per_deposit` and `daily` amounts for deposits. Amounts
are decimals in the account's currency ("5000,JPY=750000"). A status without an entry gets the
limits of `none`; a status mapped to null may not deposit (403 `kyc_required`).

`check` is a policy of the movement engine: it reads today's running counter
(`activity.snapshot`), so its cost does not grow with the customer's history. A level lowered
for the movement by another domain's facts (`ctx.limits_level`: compliance holds a high-risk
customer to the basic level's limits until enhanced due diligence is approved) decides instead
of the customer's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.core.money import configured_amount, format_amount
from app.ledger.engine import PolicyContext
from app.ledger.errors import KycRequired, LimitExceeded
from app.ledger.models import TxnType
from app.transactions import activity

KINDS = (TxnType.TRANSFER.value, TxnType.WITHDRAWAL.value, TxnType.DEPOSIT.value)


@dataclass(frozen=True)
class Limits:
    per_movement: int | None
    daily: int | None


def limits_for(
    *, kyc_status: str, currency: str, deposit: bool = False, kyc_level: str | None = None
) -> Limits:
    """The limits, in minor units of `currency`, for a customer at `kyc_status`.

    A KYC level granted by compliance (`basic`, `full`) decides when the table names it.
    """
    table = current_app.config["DEPOSIT_LIMITS" if deposit else "TRANSFER_LIMITS"]
    key = kyc_level if kyc_level and kyc_level != "none" and kyc_level in table else kyc_status
    level = table[key] if key in table else table.get("none")
    if level is None:
        if deposit:
            raise KycRequired("Complete your identity check before depositing.")
        level = {}
    return Limits(
        per_movement=configured_amount(
            level.get("per_deposit" if deposit else "per_transfer"), currency
        ),
        daily=configured_amount(level.get("daily"), currency),
    )


def check(ctx: PolicyContext) -> None:
    """Raise `limit_exceeded` (or `kyc_required`) when the movement breaks the customer's limits."""
    if ctx.customer is None:
        return
    movement = ctx.movement
    deposit = movement.kind == TxnType.DEPOSIT
    currency, amount = movement.currency, movement.amount
    limits = limits_for(
        kyc_status=ctx.customer.kyc_status,
        currency=currency,
        deposit=deposit,
        kyc_level=ctx.limits_level or ctx.customer.kyc_level,
    )
    what = "deposit" if deposit else "transfer"
    if limits.per_movement is not None and amount > limits.per_movement:
        raise LimitExceeded(
            f"The amount exceeds your per-{what} limit.",
            details={"amount": [f"At most {format_amount(limits.per_movement, currency)}."]},
        )
    if limits.daily is None:
        return
    seen = activity.snapshot(ctx)
    so_far = seen.deposited_today if deposit else seen.sent_today
    if so_far + amount > limits.daily:
        left = max(limits.daily - so_far, 0)
        raise LimitExceeded(
            f"The amount exceeds your daily {what} limit.",
            details={"amount": [f"{format_amount(left, currency)} left today."]},
        )
