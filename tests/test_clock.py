"""The clock module: pinned, advanced, and followed (a benchmark's worker processes follow their parent's clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from backoffice import clock

pytestmark = pytest.mark.real_clock  # these tests set the clock themselves

MONDAY = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def wall_clock_after() -> Iterator[None]:
    yield
    clock.pin(None)
    clock.follow(None)


def test_it_answers_the_followed_source_on_every_call() -> None:
    moved = [MONDAY]
    clock.follow(lambda: moved[0])
    assert clock.utcnow() == MONDAY
    moved[0] = MONDAY + timedelta(hours=3)
    assert clock.utcnow() == MONDAY + timedelta(hours=3)
    assert clock.today_in("America/New_York") == MONDAY.date()


def test_a_pin_wins_over_the_followed_source_and_pinned_restores_it() -> None:
    clock.follow(lambda: MONDAY)
    with clock.pinned(MONDAY + timedelta(days=1)) as at:
        assert clock.utcnow() == at
    assert clock.utcnow() == MONDAY


def test_following_none_goes_back_to_the_wall_clock() -> None:
    clock.follow(lambda: MONDAY)
    clock.follow(None)
    before = datetime.now(UTC)
    assert before <= clock.utcnow() <= datetime.now(UTC)


def test_pin_and_advance_are_unchanged() -> None:
    clock.pin(MONDAY)
    assert clock.advance(timedelta(minutes=5)) == MONDAY + timedelta(minutes=5)
    clock.pin(None)
    with pytest.raises(RuntimeError):
        clock.advance(timedelta(minutes=1))
    with pytest.raises(ValueError):
        clock.pin(datetime(2026, 3, 2, 12))  # noqa: DTZ001 - naive on purpose
