"""Broker integrations: FinTS (German banks), generic REST/JSON, and the sandbox broker."""

from __future__ import annotations

from typing import Any

from app.wealth.integrations.base import (
    Balance,
    BrokerError,
    BrokerIntegration,
    BrokerSettings,
    ExternalAccount,
    InvalidCredentials,
    Position,
    TwoFactorRequired,
)
from app.wealth.integrations.rest import RestIntegration
from app.wealth.integrations.sandbox import SandboxIntegration

__all__ = [
    "Balance",
    "BrokerError",
    "BrokerIntegration",
    "BrokerSettings",
    "ExternalAccount",
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
        return SandboxIntegration(broker, credentials)
    if integration_type == "rest":
        return RestIntegration(broker, credentials)
    if integration_type == "fints":
        # Not a cycle: python-fints takes about 0.5 s to import (a third of the app's start),
        # so only a process that syncs a FinTS bank loads it.
        from app.wealth.integrations.fints_bank import FinTSIntegration

        return FinTSIntegration(broker, credentials)
    raise ValueError(f"unknown integration type {integration_type!r}")
