"""The one notion of "now". Sweeps and services take it from here so tests and the sandbox can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# The office keeps Beijing time (government time everywhere in China): deadlines, numbering years,
# dates in notices and documents. The configuration accepts only zones equal to it.
OFFICE_TZ = ZoneInfo("Asia/Shanghai")


class Clock:
    """Wall-clock time, always an aware UTC datetime."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock(Clock):
    """A clock that moves only when told: for tests and the sandbox's fast-forward."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class OffsetClock(Clock):
    """Real time plus an offset that only grows: the sandbox's fast-forward button moves it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> datetime:
        self.offset += timedelta(**delta)
        return self.now()
