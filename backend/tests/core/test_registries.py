"""The registries of core that the domains fill from their `init_app`: personal-data sections
and the schedule of periodic jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from redis import Redis

from app.core.personal_data import PersonalData, Section, personal_data, time_text
from app.core.schedule import Booking, Entry, Schedule, schedule_of


def _nothing(session, person):
    return []


def test_sections_come_in_their_order_and_equal_orders_as_added():
    registry: PersonalData[object] = PersonalData()
    registry.add(Section("late", 500, hold=_nothing))
    registry.add(Section("first", 10))
    registry.add(Section("tie-a", 100, export=_nothing))
    registry.add(Section("tie-b", 100))
    assert [s.name for s in registry.sections] == ["first", "tie-a", "tie-b", "late"]
    assert [s.name for s in registry.exported] == ["tie-a"]


def test_a_section_name_is_registered_once():
    registry: PersonalData[object] = PersonalData()
    registry.add(Section("profile", 100))
    with pytest.raises(ValueError, match="profile"):
        registry.add(Section("profile", 200))


def test_each_app_has_its_own_registries():
    one, two = Flask("one"), Flask("two")
    personal_data(one).add(Section("profile", 100))
    schedule_of(one).add(Entry("tick", "app.ledger.tasks.expire_holds", "maintenance", interval=1))
    assert personal_data(one) is personal_data(one)
    assert personal_data(two).sections == ()
    assert schedule_of(two).entries == ()


def test_the_export_writes_times_in_utc_with_microseconds():
    assert time_text(None) is None
    assert time_text(datetime(2024, 5, 1, 9, 30)) == "2024-05-01T09:30:00.000000Z"
    cest = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 11, 30, 0, 5, tzinfo=cest)
    assert time_text(moment) == "2024-05-01T09:30:00.000005Z"
    assert time_text(moment.astimezone(UTC)) == time_text(moment)


def test_a_schedule_entry_has_an_interval_or_a_cron_and_a_name_of_its_own():
    schedule = Schedule()
    with pytest.raises(ValueError, match="interval or a cron"):
        schedule.add(Entry("neither", "app.ledger.tasks.expire_holds", "maintenance"))
    with pytest.raises(ValueError, match="interval or a cron"):
        schedule.add(
            Entry(
                "both", "app.ledger.tasks.expire_holds", "maintenance", interval=1, cron="* * * * *"
            )
        )
    schedule.add(Entry("tick", "app.ledger.tasks.expire_holds", "maintenance", interval=60))
    with pytest.raises(ValueError, match="tick"):
        schedule.add(Entry("tick", "app.ledger.tasks.expire_holds", "maintenance", interval=5))
    assert schedule.entries[0].when == "every 60 s"


def test_a_worker_books_only_the_jobs_of_the_queues_it_works():
    booked: list[str] = []
    schedule = Schedule()
    schedule.add_booking(Booking("purge", "maintenance", lambda queue: booked.append(queue.name)))
    schedule.add_booking(Booking("mail", "notifications", lambda queue: booked.append(queue.name)))
    with pytest.raises(ValueError, match="purge"):
        schedule.add_booking(Booking("purge", "maintenance", lambda queue: None))
    schedule.book(["default", "maintenance"], Redis())  # no command is sent
    assert booked == ["maintenance"]
