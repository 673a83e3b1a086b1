"""The one place that reads the wall clock; everything else takes ``now`` as an argument.

Views, CLI commands, jobs and the demo seed call :func:`utcnow` (or :func:`today_in`) here and pass the value on
to services. Tests pin it (``tests/conftest.py``'s ``clock`` fixture) so that no test depends on the day it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_pinned: datetime | None = None
_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC: the pinned instant while one is pinned, else what the followed
    source answers while one is followed, else the wall clock."""
    if _pinned is not None:
        return _pinned
    return _source() if _source is not None else datetime.now(UTC)


def today_in(timezone: str) -> date:
    """Today's date in ``timezone`` (an IANA name such as a practice's), read from this clock."""
    return utcnow().astimezone(ZoneInfo(timezone)).date()


def pin(at: datetime | None) -> None:
    """Make :func:`utcnow` answer ``at`` until pinned again; ``None`` goes back to the wall clock."""
    global _pinned  # noqa: PLW0603 - the clock is process state by nature; this is its only writer
    if at is not None and (at.tzinfo is None or at.utcoffset() != timedelta(0)):
        raise ValueError("the clock is pinned to an aware UTC datetime")
    _pinned = at


def advance(delta: timedelta) -> datetime:
    """Move a pinned clock forward by ``delta`` and return the new instant."""
    if _pinned is None:
        raise RuntimeError("advance() needs a pinned clock")
    pin(_pinned + delta)
    return utcnow()


def follow(source: Callable[[], datetime] | None) -> None:
    """Make :func:`utcnow` ask ``source`` (an aware UTC datetime each call) while nothing is pinned; ``None`` goes
    back to the wall clock. A benchmark's worker processes follow the clock their parent moves this way."""
    global _source  # noqa: PLW0603 - process state, like the pin
    _source = source


@contextmanager
def pinned(at: datetime) -> Iterator[datetime]:
    """Pin the clock to ``at`` for the block, then restore what was there."""
    before = _pinned
    pin(at)
    try:
        yield at
    finally:
        pin(before)
