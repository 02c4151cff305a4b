"""``python -m bot run``: the bot against the real Telegram, by long polling or a webhook."""

from __future__ import annotations

import asyncio
import logging
import sys

from telegram import Update

from bot.app import build_application
from bot.clock import Clock
from bot.config import TOKEN_ENV, Settings
from bot.logs import setup_logging
from store.db import Database

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
    asyncio.run(_migrate(db))
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


async def _migrate(db: Database) -> None:
    await db.upgrade()
    await db.dispose()  # the engine is reused in the Application's own event loop
