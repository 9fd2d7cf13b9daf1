"""Seed functions run by `flask init-db` (reference data) and `flask seed-demo` (demo data).

Each domain registers its own; every seeder must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

Seeder = Callable[[Session], None]

REFERENCE_SEEDERS: list[Seeder] = []
DEMO_SEEDERS: list[Seeder] = []


def reference(func: Seeder) -> Seeder:
    """Register reference data (system accounts, catalogues) seeded by `init-db`."""
    REFERENCE_SEEDERS.append(func)
    return func


def demo(func: Seeder) -> Seeder:
    """Register demo data seeded by `seed-demo` (development only)."""
    DEMO_SEEDERS.append(func)
    return func
