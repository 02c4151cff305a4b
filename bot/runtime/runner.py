"""``python -m bot run``: the bot against the real Telegram, by long polling or a webhook."""

from __future__ import annotations

import asyncio
import logging
import sys

from telegram import Bot, Update

from bot.runtime.app import build_application
from bot.kernel.clock import Clock
from bot.kernel.config import TOKEN_ENV, Settings
from bot.runtime.inbox import KEEP as INBOX_KEEP
from bot.kernel.logs import setup_logging
from store.db import Database
from store.inbox import prune as prune_inbox

log = logging.getLogger("duban.run")


def run(settings: Settings) -> int:
    if not settings.telegram.token:
        print(
            f"配置错误 {settings.source}：[telegram] token 未填写（也可设置环境变量 {TOKEN_ENV}）。"
            "令牌向 Telegram 的 @BotFather 申请。",
            file=sys.stderr,
        )
        return 2
    setup_logging(settings.logging.level, settings.telegram.token, settings.telegram.webhook.secret)
    db = Database(settings.database.url)
    asyncio.run(_preflight(settings, db))
    app = build_application(settings, db, Clock())
    log.info("event=start mode=%s database=%s", settings.telegram.mode, db.engine.url.drivername)
    if settings.telegram.mode == "webhook":
        wh = settings.telegram.webhook
        app.run_webhook(
            listen=wh.listen,
            port=wh.port,
            url_path="telegram",
            webhook_url=wh.url,
            secret_token=wh.secret or None,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


async def _preflight(settings: Settings, db: Database) -> None:
    """Meet the faults a person must fix before PTB starts, so each is one line, not a traceback.

    Database first (migrate, then one write: a read-only file or folder fails here, not at the
    first update), then Telegram (getMe: a wrong token answers 401, no network raises NetworkError).
    """
    try:
        await db.upgrade()
        async with db.session() as s:
            await prune_inbox(s, db.now(), INBOX_KEEP)
    finally:
        await db.dispose()  # the engine is reused in the Application's own event loop
    async with Bot(settings.telegram.token, base_url=settings.telegram.base_url,
                   base_file_url=settings.telegram.base_file_url):
        pass  # initialize() is getMe
