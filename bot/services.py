"""What every handler and job needs, built once at start-up and stored in ``bot_data``."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Settings
from bot.domain.workdays import WorkCalendar
from bot.sender import Sender
from store.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    sender: Sender
    _calendar: WorkCalendar | None = field(default=None, repr=False)

    async def calendar(self) -> WorkCalendar:
        """The working-day calendar: built-in years plus those the office loaded (cached)."""
        if self._calendar is None:
            from bot.calendar_store import load_calendar

            async with self.db.session() as s:
                self._calendar = await load_calendar(s)
        return self._calendar

    def forget_calendar(self) -> None:
        """After a year's schedule was loaded: the next use reads the database again."""
        self._calendar = None
