"""The products a customer holds: each domain that sells one counts its own.

A domain adds a counter from its `init_app`: `products(app).add("cards", count)`, where
`count(session, user_id) -> int` is how many live products of that kind the customer holds.
Compliance reads them all for the customer risk rating (`held(app, session, user_id)`)
without importing the domains that own them.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

EXTENSION = "flowlet_products"

Counter = Callable[[Session, int], int]


class Products:
    """The app's product counters, by name."""

    def __init__(self) -> None:
        self._counters: dict[str, Counter] = {}

    def add(self, name: str, count: Counter) -> None:
        """Count the products called `name`; a name registered twice is a wiring mistake."""
        if name in self._counters:
            raise ValueError(f"product counter {name!r} is already registered")
        self._counters[name] = count

    def held(self, session: Session, user_id: int) -> dict[str, int]:
        """How many of each product the customer holds, by name."""
        return {name: count(session, user_id) for name, count in self._counters.items()}


def products(app: Flask) -> Products:
    """The app's product counters (created empty on first use)."""
    registry: Products = app.extensions.setdefault(EXTENSION, Products())
    return registry
