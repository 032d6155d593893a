"""The one source of "now" for the service, the worker and the engine's timers.

Tests move time by installing an :class:`OffsetClock` instead of sleeping;
production uses the system clock. The engine adapter routes SpiffWorkflow's
own timer arithmetic through :func:`now` as well (engine/timeclock.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """The system clock moved by an adjustable offset (for tests and simulations)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


_current: Clock = SystemClock()


def now() -> datetime:
    return _current.now()


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; returns the previous one to restore."""
    global _current
    previous, _current = _current, clock
    return previous
