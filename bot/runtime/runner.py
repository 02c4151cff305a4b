"""``python -m bot run``: the bot against the real Telegram, by long polling or a webhook.

One process or several (issue 14). On PostgreSQL every process stands for election
(``bot.runtime.leader``): the leader polls (polling mode) and drains the outbox; the others stand
by and take over within ``DUBAN_LEADER_RETRY_SECONDS`` (default 2) of the leader's death. In
webhook mode every process receives the updates the reverse proxy gives it. On SQLite one process
owns the file: a second one is refused at start (``bot.runtime.single``), exit status 2.

``DUBAN_HEALTH_PORT`` turns on ``GET /healthz`` (``bot.runtime.health``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from sqlalchemy import text
from sqlalchemy.engine import make_url
from telegram import Bot, Update
from telegram.ext import Application

from bot.kernel.clock import Clock
from bot.kernel.config import TOKEN_ENV, Settings
from bot.kernel.logs import setup_logging
from bot.kernel.memory import limit_arenas
from bot.runtime import single
from bot.runtime.app import build_application, start_instance, stop_instance
from bot.runtime.health import Health, HealthServer, port_from_env
from bot.runtime.inbox import KEEP as INBOX_KEEP
from bot.runtime.leader import RETRY_SECONDS, Leadership, LocalLeadership, PgLeadership
from store.db import Database
from store.inbox import prune as prune_inbox

log = logging.getLogger("duban.run")

RETRY_ENV = "DUBAN_LEADER_RETRY_SECONDS"
MIGRATE_KEY = 0x64756261_0101


def run(settings: Settings) -> int:
    if not settings.telegram.token:
        print(
            f"配置错误 {settings.source}：[telegram] token 未填写（也可设置环境变量 {TOKEN_ENV}）。"
            "令牌向 Telegram 的 @BotFather 申请。",
            file=sys.stderr,
        )
        return 2
    try:
        health_port, health_listen = port_from_env()
        retry = _retry_seconds()
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    setup_logging(settings.logging.level, settings.telegram.token, settings.telegram.webhook.secret)
    limit_arenas()  # before the first thread (aiosqlite's): freed memory kept in few places
    db = Database(settings.database.url)
    lock = None
    if db.is_sqlite:
        path = make_url(db.url).database
        if path and path != ":memory:":
            try:
                lock = single.hold(path)
            except single.AlreadyRunning as exc:
                print(str(exc), file=sys.stderr)
                return 2
    try:
        asyncio.run(_preflight(settings, db))
        app = build_application(settings, db, Clock())
        log.info("event=start mode=%s database=%s", settings.telegram.mode, db.engine.url.drivername)
        leadership: Leadership = LocalLeadership() if db.is_sqlite else PgLeadership(db.url, retry_seconds=retry)
        asyncio.run(serve(app, settings, leadership, health_port, health_listen))
    finally:
        if lock is not None:
            single.release(lock)
    return 0


def _retry_seconds() -> float:
    raw = os.environ.get(RETRY_ENV, "").strip()
    if not raw:
        return RETRY_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= 10:
        raise ValueError(
            f"配置错误：环境变量 {RETRY_ENV} 应为 0.1–10 之间的秒数，实际为 {raw!r}"
            "（备用实例每隔这么久尝试接替一次，须在 10 秒内接替）"
        )
    return value


async def serve(
    app: Application,
    settings: Settings,
    leadership: Leadership,
    health_port: int | None = None,
    health_listen: str = "127.0.0.1",
) -> None:
    """Run until SIGINT/SIGTERM, as PTB's run_polling/run_webhook would, with an election."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    webhook = settings.telegram.mode == "webhook"
    health = None
    await start_instance(app, leadership, polling=not webhook)
    try:
        if webhook:
            assert app.updater is not None  # built with an Updater (build_application)
            wh = settings.telegram.webhook
            await app.updater.start_webhook(
                listen=wh.listen,
                port=wh.port,
                url_path="telegram",
                webhook_url=wh.url,
                secret_token=wh.secret or None,
                allowed_updates=Update.ALL_TYPES,
            )
        if health_port is not None:
            health = HealthServer(
                Health(app.bot_data["services"].db, app.bot, lambda: leadership.role, settings.telegram.mode),
                health_port,
                health_listen,
            )
            await health.start()
        await stop.wait()
    finally:
        log.info("event=stopping role=%s", leadership.role)
        if health is not None:
            await health.stop()
        await stop_instance(app)


async def _preflight(settings: Settings, db: Database) -> None:
    """Meet the faults a person must fix before PTB starts, so each is one line, not a traceback.

    Database first (migrate, then one write: a read-only file or folder fails here, not at the
    first update), then Telegram (getMe: a wrong token answers 401, no network raises NetworkError).
    """
    try:
        if db.is_sqlite:
            await db.upgrade()
        else:  # two instances starting together: one migrates, the other waits and finds it done
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATE_KEY})
                try:
                    await db.upgrade()
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATE_KEY})
        async with db.session() as s:
            await prune_inbox(s, db.now(), INBOX_KEEP)
    finally:
        await db.dispose()  # the engine is reused in the Application's own event loop
    async with Bot(
        settings.telegram.token, base_url=settings.telegram.base_url, base_file_url=settings.telegram.base_file_url
    ):
        pass  # initialize() is getMe
