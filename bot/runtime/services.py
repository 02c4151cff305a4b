"""What every handler and job needs, built once at start-up and stored in ``bot_data``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.schedules import load_calendar
from bot.domain.score import Rule, rules_with_points
from bot.domain.workdays import WorkCalendar
from bot.kernel.clock import Clock
from bot.kernel.config import Settings
from bot.outbox.sender import Sender
from store.calendar import schedules_stamp
from store.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    sender: Sender
    # The score rules with the county's points ([score.points]), built once; handlers and jobs pass
    # them to the domain (the configuration already checked the codes and signs).
    score_rules: dict[str, Rule] = field(init=False, repr=False)
    _calendar: WorkCalendar | None = field(default=None, repr=False)
    _calendar_stamp: tuple[int, datetime | None] | None = field(default=None, repr=False)
    _calendar_checked: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.score_rules = rules_with_points(self.settings.score.points)

    async def calendar(self) -> WorkCalendar:
        """The working-day calendar: built-in years plus those the office loaded.

        ``workdays load`` runs in another process, so whether the loaded years changed is read
        from the database (one small aggregate), but at most once per CALENDAR_RECHECK of the
        bot's clock: not on every update.
        """
        now = self.clock.now()
        if (
            self._calendar is not None
            and self._calendar_checked is not None
            and timedelta(0) <= now - self._calendar_checked < CALENDAR_RECHECK
        ):
            return self._calendar
        self._calendar_checked = now
        async with self.db.session() as s:
            stamp = await schedules_stamp(s)
            if self._calendar is None or stamp != self._calendar_stamp:
                self._calendar, self._calendar_stamp = await load_calendar(s), stamp
        return self._calendar

    def calendar_changed(self) -> None:
        """A schedule was loaded in this process (the chat): read it at the next ``calendar()``."""
        self._calendar_checked = None


CALENDAR_RECHECK = timedelta(seconds=60)
