"""The personal-data sections: each domain's part in the export, the erasure and the legal hold.

A domain that holds personal data adds a `Section` from its own `init_app`:

* `export(session, person) -> JSON-able`, one key of `/privacy/export`;
* `erase(session, person, pseudonym) -> None`, pseudonymizing what the domain holds;
* `hold(session, person) -> list[str]`, the reasons the person may not be erased yet
  (a balance, an open case).

The privacy domain reads the sections in `order` (lowest first; equal orders in the order they
were added): the erasers run in it, the hold reasons come in it, and the audit records list the
sections in it. The person is the auth user; core knows no domain, so the section is generic
over the person's type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from flask import Flask
from sqlalchemy.orm import Session

EXTENSION = "flowlet_personal_data"

PersonT = TypeVar("PersonT")


@dataclass(frozen=True)
class Section(Generic[PersonT]):
    """One domain's part; `export`, `erase` and `hold` are each optional."""

    name: str
    order: int
    export: Callable[[Session, PersonT], Any] | None = None
    erase: Callable[[Session, PersonT, str], None] | None = None
    hold: Callable[[Session, PersonT], list[str]] | None = None


class PersonalData(Generic[PersonT]):
    """The sections of one app, kept on `app.extensions["flowlet_personal_data"]`."""

    def __init__(self) -> None:
        self._sections: list[Section[PersonT]] = []

    def add(self, section: Section[PersonT]) -> None:
        """Take part once per name; a second section of the same name is a wiring mistake."""
        if any(known.name == section.name for known in self._sections):
            raise ValueError(f"personal-data section {section.name!r} is already registered")
        self._sections.append(section)
        self._sections.sort(key=lambda known: known.order)  # stable: equal orders keep theirs

    @property
    def sections(self) -> tuple[Section[PersonT], ...]:
        return tuple(self._sections)

    @property
    def exported(self) -> tuple[Section[PersonT], ...]:
        return tuple(section for section in self._sections if section.export is not None)


def personal_data(app: Flask) -> PersonalData[Any]:
    """The app's sections (created empty on first use)."""
    registry: PersonalData[Any] = app.extensions.setdefault(EXTENSION, PersonalData())
    return registry


def time_text(value: datetime | None) -> str | None:
    """A time as the export writes it, `2024-05-01T09:30:00.000000Z` (a naive time is UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
