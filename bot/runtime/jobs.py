"""The clock: the sender's loop and the sweeps, both run through PTB's JobQueue.

* ``outbox``: started once, half a second after start-up, and runs until the Application stops:
  ``Sender.run`` sends whatever is due continuously, paced per chat (``bot.outbox.pacing``), and looks
  for new rows every half second when idle. ``Application.stop`` waits for it (it checks
  ``application.running``). With several instances only the elected leader sends
  (``bot.runtime.leader``): one pace for the bot, never two instances' 29/s added up; a standby
  waits and starts sending when it is elected.
* ``sweeps`` every minute, the first one a few seconds after start-up: ``bot.runtime.sweeps.run_due``
  decides from the database which sweep (催办 round, weekly feedback, daily digest) is due and
  runs it once. The first tick is the start-up catch-up: a round missed while the bot was off
  runs once, now, grouped.

Sweeps are ``max_instances=1`` (a slow round never overlaps itself), ``coalesce=True`` (ticks
missed while the event loop was busy collapse into one run) and never dropped however late
(``misfire_grace_time=None``): what a sweep runs is decided by the database and a late run is
simply the catch-up. A failing sweep (a read-only or locked database) is logged once when it
starts failing and once when it works again, not with a traceback every minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telegram.ext import Application, ContextTypes

from bot.outbox.sender import DB_ERRORS, Outage
from bot.runtime.services import Services
from bot.runtime.sweeps import run_due

log = logging.getLogger("duban.jobs")

SENDER_START_SECONDS = 0.5
SWEEP_INTERVAL_SECONDS = 60.0
STARTUP_CATCH_UP_SECONDS = 3.0
_SENDER_JOB_KWARGS = {"max_instances": 1, "misfire_grace_time": None}
_SWEEP_JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


STANDBY_CHECK_SECONDS = 0.5


async def sender_loop(context: ContextTypes.DEFAULT_TYPE) -> None:
    services: Services = context.bot_data["services"]
    app = context.application
    await run_sender_while_leading(services, lambda: app.running, lambda: _leading(context))


def _leading(context: ContextTypes.DEFAULT_TYPE) -> bool:
    leadership = context.bot_data.get("leadership")
    return leadership is None or leadership.is_leader


async def run_sender_while_leading(
    services: Services, running: Callable[[], bool], leading: Callable[[], bool]
) -> None:
    """The sender runs while this instance leads; a standby looks again every half second."""
    while running():
        if not leading():
            await asyncio.sleep(STANDBY_CHECK_SECONDS)
            continue
        log.info("event=sender_started")
        await services.sender.run(lambda: running() and leading())
        log.info("event=sender_stopped")


async def sweep_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    services: Services = context.bot_data["services"]
    outage: Outage = context.bot_data.setdefault("sweep_outage", Outage("sweep"))
    try:
        await run_due(services)
    except DB_ERRORS as exc:
        outage.failed(exc, services.clock.now())
        return
    except Exception:  # one bad round must not stop the clock; it is logged
        log.exception("event=sweep_tick_failed")
        return
    outage.succeeded(services.clock.now())


def schedule_jobs(app: Application) -> None:
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    app.job_queue.run_once(sender_loop, when=SENDER_START_SECONDS, name="outbox", job_kwargs=_SENDER_JOB_KWARGS)
    app.job_queue.run_repeating(
        sweep_tick,
        interval=SWEEP_INTERVAL_SECONDS,
        first=STARTUP_CATCH_UP_SECONDS,
        name="sweeps",
        job_kwargs=_SWEEP_JOB_KWARGS,
    )
