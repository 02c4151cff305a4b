"""Runs the sweeps: which is due, each in its own transaction, under a lock, recording SweepRun.

The scheduler (``bot.runtime.jobs``) is only a clock: every tick calls ``run_due(services)``. Whether a
sweep is due is decided here, from the database: its latest scheduled time at or before ``now``
(config ``[reminders]`` / ``[digest]``) is later than ``SweepRun.last_run_at``. So

* a round that fell while the process was down runs once at start-up (the first tick): the
  catch-up sends what is due *now*, grouped — never a replay of every missed round;
* a tick that runs twice, or late, finds the round already done;
* tests and the sandbox call ``run_due``/``run_sweep`` with any ``now``.

Two instances may share one PostgreSQL: each sweep runs under ``pg_try_advisory_xact_lock`` (the
other instance skips it and, at its next tick, finds the round done). On SQLite one process owns
the sweeps; within a process an asyncio lock keeps the clock, /digest and the sandbox from
overlapping.

Sweeps (all idempotent; see their modules):

=================  ====================================  =====================================
name               when (defaults)                        does
=================  ====================================  =====================================
escalation         every day at ``round_time`` 08:30     the 催办 ladder (bot.domain.urging)
weekly_feedback    ``weekly_day`` 1 at ``weekly_time``    weekly feedback (bot.domain.feedback)
digest             working days at ``[digest] time``      daily digest (bot.domain.digest)
monthly_report     a month's 1st working day, round_time  last month's 督查工作情况报告 to the office
                                                          head (bot.documents.report)
=================  ====================================  =====================================
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.documents.chart import chart_files, prune_charts
from bot.documents.report import latest_monthly, monthly_report_sweep
from bot.domain.digest import digest_sweep, digest_time
from bot.domain.feedback import feedback_sweep
from bot.domain.urging import Policy, SweepResult, escalation_sweep, is_working_day, tell_office_unreachable
from bot.domain.workdays import WorkCalendar
from bot.kernel.config import Settings
from bot.kernel.memory import give_back
from store.audit import Actor
from store.db import Database
from store.models import Person
from store.urging import SweepRun

log = logging.getLogger("duban.sweeps")

SweepFn = Callable[[AsyncSession, WorkCalendar, datetime, Settings], Awaitable[SweepResult]]
ScheduleFn = Callable[[WorkCalendar, Settings, datetime], datetime]


def latest_daily(calendar: WorkCalendar, settings: Settings, now: datetime) -> datetime:
    """The latest ``round_time`` at or before ``now`` (every day: urgent items do not rest)."""
    policy = Policy.from_settings(settings)
    day = policy.day(now)
    at = policy.at(day, settings.reminders.round_time)
    return at if at <= now else policy.at(day - timedelta(days=1), settings.reminders.round_time)


def latest_weekly(calendar: WorkCalendar, settings: Settings, now: datetime) -> datetime:
    policy = Policy.from_settings(settings)
    day = policy.day(now)
    back = (day.isoweekday() - settings.reminders.weekly_day) % 7
    at = policy.at(day - timedelta(days=back), settings.reminders.weekly_time)
    return at if at <= now else at - timedelta(days=7)


def latest_digest(calendar: WorkCalendar, settings: Settings, now: datetime) -> datetime:
    """The latest working day's digest time (``[digest] time``, not before work_start) at or before ``now``."""
    policy = Policy.from_settings(settings)
    day = policy.day(now)
    for _ in range(60):
        at = policy.at(day, digest_time(settings))
        if at <= now and is_working_day(calendar, day):
            return at
        day -= timedelta(days=1)
    return policy.at(day, digest_time(settings))


async def run_digest(session: AsyncSession, calendar: WorkCalendar, now: datetime, settings: Settings) -> SweepResult:
    """The digest sweep with its status charts drawn (files are the documents' side, not the
    domain's), then chart files older than a month removed."""
    result = await digest_sweep(session, calendar, now, settings, charts=chart_files)
    if result.messages:
        prune_charts(settings, Policy.from_settings(settings).day(now))
    return result


@dataclass(frozen=True)
class Sweep:
    name: str
    lock_key: int  # pg advisory lock key, unique per sweep
    run: SweepFn
    latest: ScheduleFn


_LOCK_BASE = 0x64756261_0000  # "duba"
SWEEPS: dict[str, Sweep] = {
    s.name: s
    for s in (
        Sweep("escalation", _LOCK_BASE + 1, escalation_sweep, latest_daily),
        Sweep("weekly_feedback", _LOCK_BASE + 2, feedback_sweep, latest_weekly),
        Sweep("digest", _LOCK_BASE + 3, run_digest, latest_digest),
        Sweep("monthly_report", _LOCK_BASE + 4, monthly_report_sweep, latest_monthly),
    )
}

_process_locks: weakref.WeakKeyDictionary[Database, asyncio.Lock] = weakref.WeakKeyDictionary()


def _lock(db: Database) -> asyncio.Lock:
    lock = _process_locks.get(db)
    if lock is None:
        lock = _process_locks[db] = asyncio.Lock()
    return lock


async def run_sweep(services, name: str, now: datetime | None = None, *, force: bool = False) -> SweepResult | None:  # noqa: ANN001
    """Run one sweep if it is due (or ``force``); None when it was not due or another instance holds it."""
    sweep = SWEEPS[name]
    now = now or services.clock.now()
    db: Database = services.db
    async with _lock(db):
        calendar = await services.calendar()
        async with db.session(Actor.system(f"sweep:{name}"), f"sweep.{name}") as s:
            if not db.is_sqlite:
                got = await s.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": sweep.lock_key})
                if not got:
                    log.info("event=sweep_skipped name=%s reason=locked_by_another_instance", name)
                    return None
            run = await s.get(SweepRun, name, populate_existing=True)
            if not force and run is not None and run.last_run_at >= sweep.latest(calendar, services.settings, now):
                return None
            result = await sweep.run(s, calendar, now, services.settings)
            if run is None:
                s.add(SweepRun(name=name, last_run_at=now))
            elif now > run.last_run_at:
                run.last_run_at = now
    return result


async def run_due(services, now: datetime | None = None) -> dict[str, SweepResult]:  # noqa: ANN001
    """Every sweep that is due at ``now``, each in its own transaction; a failing one is logged and
    the others still run (it is retried at the next tick)."""
    now = now or services.clock.now()
    done: dict[str, SweepResult] = {}
    for name in SWEEPS:
        try:
            result = await run_sweep(services, name, now)
        except Exception:  # one bad sweep must not stop the clock; it is logged
            log.exception("event=sweep_failed name=%s", name)
            continue
        if result is not None:
            done[name] = result
    if done:
        give_back()  # a county-scale sweep read 100,000s of rows: their pages go back to the system
    return done


def unreachable_hook(services):  # noqa: ANN001, ANN201
    """The sender's ``on_unreachable``: tell the office, once, who blocked the bot and which items."""

    async def hook(session: AsyncSession, person: Person, now: datetime) -> None:
        await tell_office_unreachable(
            session, person, now, calendar=await services.calendar(), settings=services.settings
        )

    return hook
