"""Seed functions run by `flask init-db` (reference data) and `flask seed-demo` (demo data).

Each domain registers its own from its `init_app`, in the order the app initializes them (so
the demo users exist before the accounts that belong to them); every seeder is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy.orm import Session

Seeder = Callable[[Session], None]
EXTENSION = "flowlet_seeders"


@dataclass
class Seeders:
    """The app's seeders, in registration order."""

    reference: list[Seeder] = field(default_factory=list)  # system accounts, catalogues
    demo: list[Seeder] = field(default_factory=list)  # development only

    def add(self, *, reference: Seeder | None = None, demo: Seeder | None = None) -> None:
        for seeder, into in ((reference, self.reference), (demo, self.demo)):
            if seeder is not None and seeder not in into:
                into.append(seeder)


def seeders(app: Flask) -> Seeders:
    """The app's seeders (made on first use)."""
    found = app.extensions.get(EXTENSION)
    if not isinstance(found, Seeders):
        found = app.extensions[EXTENSION] = Seeders()
    return found
