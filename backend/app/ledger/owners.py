"""Who owns the customer accounts: the model whose row a movement locks after its accounts.

The ledger imports no domain. It states what a movement's policies and observers may read of
the accounts' owner (`Customer`), and the app factory registers the model that has it
(`register(app, User)`). The customer's lock loads exactly those columns;
anything else loads on access.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol, get_type_hints

from flask import Flask, current_app

from app.core.db import Base

EXTENSION = "flowlet_ledger_owner"


class Customer(Protocol):
    """What a movement's policies read of the customer who owns its accounts."""

    id: int
    public_id: uuid.UUID
    is_active: bool
    admin_locked_at: datetime | None
    kyc_status: str
    kyc_level: str
    password_changed_at: datetime | None
    mfa_changed_at: datetime | None
    created_at: datetime


COLUMNS: tuple[str, ...] = tuple(get_type_hints(Customer))


def register(app: Flask, model: type[Base]) -> None:
    """Name the mapped model of the accounts' owners (the table `accounts.user_id` points to)."""
    missing = [name for name in COLUMNS if not hasattr(model, name)]
    if missing:
        raise TypeError(f"{model.__name__} lacks what a movement reads of a customer: {missing}")
    app.extensions[EXTENSION] = model


def model() -> type[Base]:
    """The registered owner model of the current app."""
    found = current_app.extensions.get(EXTENSION)
    if not (isinstance(found, type) and issubclass(found, Base)):
        raise RuntimeError("No owner model is registered with the ledger.")
    return found
