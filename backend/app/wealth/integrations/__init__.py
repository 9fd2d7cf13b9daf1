"""Broker integrations: FinTS (German banks), generic REST/JSON, and the sandbox broker."""

from __future__ import annotations

from typing import Any

from app.wealth.integrations.base import (
    Balance,
    BrokerError,
    BrokerIntegration,
    BrokerSettings,
    ExternalAccount,
    HistoryPoint,
    InvalidCredentials,
    Position,
    TwoFactorRequired,
)

__all__ = [
    "Balance",
    "BrokerError",
    "BrokerIntegration",
    "BrokerSettings",
    "ExternalAccount",
    "HistoryPoint",
    "InvalidCredentials",
    "Position",
    "TwoFactorRequired",
    "integration_for",
]


def integration_for(
    integration_type: str, broker: BrokerSettings, credentials: dict[str, Any]
) -> BrokerIntegration:
    """The integration class for a catalogue entry's `integration_type`."""
    if integration_type == "sandbox":
        from app.wealth.integrations.sandbox import SandboxIntegration

        return SandboxIntegration(broker, credentials)
    if integration_type == "rest":
        from app.wealth.integrations.rest import RestIntegration

        return RestIntegration(broker, credentials)
    if integration_type == "fints":
        from app.wealth.integrations.fints_bank import FinTSIntegration

        return FinTSIntegration(broker, credentials)
    raise ValueError(f"unknown integration type {integration_type!r}")
