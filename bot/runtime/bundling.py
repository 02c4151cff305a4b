"""The sender's hook that releases held routine parts (``bot.domain.notices.release_due``).

Parts are released only when no scheduled sweep is behind: at 08:30 the 催办 round and the
weekly feedback reminder are written by two sweeps, one after the other, and the person's
morning message must hold both (and the notices held overnight). A sweep that never ran in this
database (tests that drive the domain directly) does not hold anything back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain.notices import release_due
from store.audit import Actor
from store.urging import SweepRun

MAX_WAIT = timedelta(minutes=10)
WEEKLY_LOOKAHEAD = timedelta(hours=1)
ROUND_SWEEPS = ("escalation", "weekly_feedback")  # the sweeps that write routine parts


def weekly_coming(calendar, settings, now: datetime, last: datetime | None) -> bool:  # noqa: ANN001
    """The weekly feedback sweep runs within the hour (a ``weekly_time`` later than ``round_time``):
    round parts due before it (the weekend's round) wait and go out with it, as one message."""
    from bot.runtime.sweeps import latest_weekly

    upcoming = latest_weekly(calendar, settings, now + WEEKLY_LOOKAHEAD)
    return upcoming > now and (last is None or last < upcoming)


def release_hook(services) -> Callable[[], Awaitable[int]]:  # noqa: ANN001
    from bot.runtime.sweeps import SWEEPS  # the sweeps import the domain this module serves

    async def release() -> int:
        calendar = await services.calendar()
        now = services.clock.now()
        async with services.db.session(Actor.system("outbox:bundles"), "outbox.bundle") as s:
            runs = dict(
                (
                    await s.execute(select(SweepRun.name, SweepRun.last_run_at).where(SweepRun.name.in_(ROUND_SWEEPS)))
                ).all()
            )
            for name, last in runs.items():
                sweep = SWEEPS.get(name)
                due = sweep.latest(calendar, services.settings, now) if sweep is not None else None
                # A sweep that keeps failing holds nothing back for more than a few minutes.
                if due is not None and last < due and now - due < MAX_WAIT:
                    return 0  # a round is being written: its parts go out together, at the next pass
            return await release_due(
                s,
                calendar,
                services.settings,
                now,
                hold_rounds=weekly_coming(calendar, services.settings, now, runs.get("weekly_feedback")),
            )

    return release
