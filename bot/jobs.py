"""The clock: APScheduler (through PTB's JobQueue) only calls idempotent work with "now".

Two jobs:

* ``outbox`` every second: the sender drains what is due.
* ``sweeps`` every minute, the first one a few seconds after start-up: ``bot.sweeps.run_due``
  decides from the database which sweep (催办 round, weekly feedback, daily digest) is due and
  runs it once. The first tick is the start-up catch-up: a round missed while the bot was off
  runs once, now, grouped.

Both are ``max_instances=1`` (a slow round never overlaps itself) and ``coalesce=True`` (ticks
missed while the event loop was busy collapse into one run). ``misfire_grace_time``: the outbox
tick may be dropped when it is more than 30 s late (the next one comes a second later); a sweep
tick is never dropped however late (``None``), because what it runs is decided by the database
and a late run is simply the catch-up.
"""

from __future__ import annotations

import logging

from telegram.ext import Application, ContextTypes

from bot.services import Services
from bot.sweeps import run_due

log = logging.getLogger("duban.jobs")

OUTBOX_INTERVAL_SECONDS = 1.0
SWEEP_INTERVAL_SECONDS = 60.0
STARTUP_CATCH_UP_SECONDS = 3.0
_JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
_SWEEP_JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


async def drain_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    services: Services = context.bot_data["services"]
    try:
        await services.sender.drain()
    except Exception:  # noqa: BLE001 — one bad round must not stop the clock; it is logged
        log.exception("event=outbox_round_failed")


async def sweep_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    services: Services = context.bot_data["services"]
    try:
        await run_due(services)
    except Exception:  # noqa: BLE001 — as above
        log.exception("event=sweep_tick_failed")


def schedule_jobs(app: Application) -> None:
    app.job_queue.run_repeating(drain_outbox, interval=OUTBOX_INTERVAL_SECONDS, first=0.5,
                                name="outbox", job_kwargs=_JOB_KWARGS)
    app.job_queue.run_repeating(sweep_tick, interval=SWEEP_INTERVAL_SECONDS, first=STARTUP_CATCH_UP_SECONDS,
                                name="sweeps", job_kwargs=_SWEEP_JOB_KWARGS)
