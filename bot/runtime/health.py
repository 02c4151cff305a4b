"""``GET /healthz``: this instance's role and whether it reaches the database and Telegram.

For a load balancer, systemd's watchdog scripts or a person with curl::

    {"role": "leader", "mode": "polling", "database": true, "telegram": true}

Status 200 when the database answers (a standby is healthy: it is ready to take over), 503 when
it does not. Telegram is asked (getMe) at most every ``TELEGRAM_CHECK_SECONDS``: a health check
every second must not become a stream of calls to Telegram. A tornado server (tornado is already
there for PTB's webhook) on its own port, off unless ``DUBAN_HEALTH_PORT`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping

import tornado.httpserver
import tornado.netutil
import tornado.web
from sqlalchemy import text
from telegram import Bot

from store.db import Database

log = logging.getLogger("duban.health")

CHECK_TIMEOUT_SECONDS = 3.0
TELEGRAM_CHECK_SECONDS = 30.0
PORT_ENV, LISTEN_ENV = "DUBAN_HEALTH_PORT", "DUBAN_HEALTH_LISTEN"


class Health:
    def __init__(self, db: Database, bot: Bot, role: Callable[[], str], mode: str) -> None:
        self.db, self.bot, self.role, self.mode = db, bot, role, mode
        self._telegram: tuple[float, bool] | None = None  # (checked at, reachable)

    async def database(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                async with self.db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 — any failure is "not reachable"
            log.warning("event=health_database_unreachable error=%s", type(exc).__name__)
            return False
        return True

    async def telegram(self) -> bool:
        now = time.monotonic()
        if self._telegram is not None and now - self._telegram[0] < TELEGRAM_CHECK_SECONDS:
            return self._telegram[1]
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await self.bot.get_me()
            ok = True
        except Exception as exc:  # noqa: BLE001
            log.warning("event=health_telegram_unreachable error=%s", type(exc).__name__)
            ok = False
        self._telegram = (now, ok)
        return ok

    async def report(self) -> tuple[int, dict]:
        database, telegram = await asyncio.gather(self.database(), self.telegram())
        body = {"role": self.role(), "mode": self.mode, "database": database, "telegram": telegram}
        return (200 if database else 503), body


class _Handler(tornado.web.RequestHandler):
    def initialize(self, health: Health) -> None:
        self.health = health

    async def get(self) -> None:
        status, body = await self.health.report()
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body, ensure_ascii=False))


class HealthServer:
    def __init__(self, health: Health, port: int, listen: str = "127.0.0.1") -> None:
        self.health, self.port, self.listen = health, port, listen
        self._server: tornado.httpserver.HTTPServer | None = None

    async def start(self) -> int:
        app = tornado.web.Application([(r"/healthz", _Handler, {"health": self.health})])
        self._server = tornado.httpserver.HTTPServer(app)
        sockets = tornado.netutil.bind_sockets(self.port, self.listen)
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]  # port 0: the one the system chose
        log.info("event=health_listening address=%s:%s", self.listen, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()


def port_from_env(environ: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """(port or None when off, listen address); a bad value is the person's to fix: one line."""
    environ = os.environ if environ is None else environ
    raw = environ.get(PORT_ENV, "").strip()
    listen = environ.get(LISTEN_ENV, "127.0.0.1").strip() or "127.0.0.1"
    if not raw:
        return None, listen
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"配置错误：环境变量 {PORT_ENV} 应为 1–65535 之间的端口号，实际为 {raw!r}")
    return int(raw), listen
