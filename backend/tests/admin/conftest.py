"""The identity tests' fixtures (own client address per test, movable clock) apply here too."""

from tests.auth.conftest import client, clock  # noqa: F401
