"""The clock: APScheduler (through PTB's JobQueue) only calls idempotent work with "now".

Each job is coalesced with max_instances=1: a slow round is never run twice at once, and rounds
missed while the process was busy collapse into one.
"""

from __future__ import annotations

import logging

from telegram.ext import Application, ContextTypes

from bot.services import Services

log = logging.getLogger("duban.jobs")

OUTBOX_INTERVAL_SECONDS = 1.0
_JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}


async def drain_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    services: Services = context.bot_data["services"]
    try:
        await services.sender.drain()
    except Exception:  # noqa: BLE001 — one bad round must not stop the clock; it is logged
        log.exception("event=outbox_round_failed")


def schedule_jobs(app: Application) -> None:
    app.job_queue.run_repeating(drain_outbox, interval=OUTBOX_INTERVAL_SECONDS, first=0.5,
                                name="outbox", job_kwargs=_JOB_KWARGS)
