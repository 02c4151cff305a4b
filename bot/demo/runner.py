"""``make demo``: the emulator over HTTP, the unmodified bot against it, a demo county and the
browser page (bot/demo/web.py) on the same port.

Nothing leaves the machine: the bot talks to the emulator through ``base_url`` exactly as it
would talk to Telegram. The data directory is reset at every start, and by the page's reset
button.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.demo.county import OFFICE_NAME, DemoPerson, seed_directory
from bot.demo.items import seed_items
from bot.domain.schedules import load_calendar
from bot.emulator import Emulator, FloodLimits
from bot.emulator.http import EmulatorServer
from bot.kernel.clock import OffsetClock
from bot.kernel.config import (
    DatabaseSettings,
    OfficeSettings,
    ReminderSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
)
from bot.kernel.logs import setup_logging
from bot.runtime.app import build_application, start_polling, stop_polling
from store.db import Database

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.demo.web import WebHub

DEMO_TOKEN = "424242:DEMO-sandbox-token-not-a-secret"
DEMO_BOT = "duban_demo_bot"
log = logging.getLogger("duban.demo")


@dataclasses.dataclass
class Sandbox:
    emu: Emulator
    server: EmulatorServer
    app: Application
    db: Database
    clock: OffsetClock
    people: dict  # name -> emulator Person
    data_dir: Path | None = None
    start_at: datetime | None = None  # the sandbox's "now" at start and after a reset (None: real time)
    web: WebHub | None = None  # the browser page's hub (bot/demo/web.py) when mounted
    demo_items: bool = True  # seed items in every state (tests of the page itself may skip them)

    async def stop(self) -> None:
        if self.web is not None:
            await self.web.close()
        await stop_polling(self.app)
        await self.server.stop()
        await self.emu.aclose()
        await self.db.dispose()

    async def reset(self) -> None:
        """Restore the demo county: a new emulator, database, clock and bot behind the same
        HTTP server, so open pages only have to reload what they show."""
        if self.data_dir is None:  # made by start_sandbox, which always gives one
            raise RuntimeError("a sandbox without a data directory cannot be reset")
        await stop_polling(self.app)
        await self.db.dispose()
        await self.emu.aclose()
        self.clock = _new_clock(self.start_at)
        self.emu = _new_emulator(self.clock)
        self.server.emu = self.emu  # the server's handlers look the emulator up per request
        self.app, self.db, self.people = await _boot(self.emu, self.server, self.clock, self.data_dir, self.demo_items)

    async def after_clock_change(self) -> None:
        """The page moved the clock: run the sweeps that fell due (催办 round, weekly feedback,
        digest) and send what they queued, so the chats show it at once."""
        from bot.runtime.sweeps import run_due

        services = self.app.bot_data["services"]
        await run_due(services, self.clock.now())
        await services.sender.drain_all()


def _new_clock(start_at: datetime | None) -> OffsetClock:
    clock = OffsetClock()
    if start_at is not None:
        if start_at.tzinfo is None:
            raise ValueError("start_at needs an aware datetime")
        clock.offset = start_at.astimezone(UTC) - datetime.now(UTC)
    return clock


def _new_emulator(clock: OffsetClock) -> Emulator:
    # Message dates follow the sandbox clock, so what the page shows agrees with the bot's "now".
    return Emulator(
        token=DEMO_TOKEN, bot_username=DEMO_BOT, limits=FloodLimits(), wallclock=lambda: clock.now().timestamp()
    )


async def _boot(
    emu: Emulator, server: EmulatorServer, clock: OffsetClock, data_dir: Path, demo_items: bool = True
) -> tuple[Application, Database, dict]:
    """A fresh data directory, database and demo county, and the bot polling the emulator."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    db = Database(f"sqlite:///{data_dir / 'demo.sqlite3'}", now=clock.now)
    await db.upgrade()
    people: dict = {}

    def bind(dp: DemoPerson) -> int:
        people[dp.name] = emu.person(dp.name)
        return people[dp.name].id

    directory = await seed_directory(db, clock.now(), bind)
    if demo_items:
        async with db.session() as s:
            calendar = await load_calendar(s)
        await seed_items(db, calendar, clock.now(), directory, files_dir=data_dir / "files")
    settings = Settings(
        telegram=TelegramSettings(token=DEMO_TOKEN, base_url=server.base_url, base_file_url=server.base_file_url),
        database=DatabaseSettings(url=db.url),
        office=OfficeSettings(name=OFFICE_NAME),
        storage=StorageSettings(files_dir=str(data_dir / "files")),
        # The sandbox answers each step at once, so a visitor sees what every tap causes; a county's
        # bot bundles information notices at 16:00 (the default, issue 13).
        reminders=ReminderSettings(bundle_time=None),
        source="<demo>",
    )
    app = build_application(settings, db, clock)
    await start_polling(app)
    return app, db, people


async def start_sandbox(
    port: int,
    data_dir: Path,
    host: str = "127.0.0.1",
    *,
    start_at: datetime | None = None,
    web: bool = True,
    demo_items: bool = True,
) -> Sandbox:
    """Start everything; ``web=True`` also serves the browser page at ``sb.server.url + "/"``."""
    clock = _new_clock(start_at)
    emu = _new_emulator(clock)
    server = EmulatorServer(emu, host=host, port=port)
    await server.start()
    app, db, people = await _boot(emu, server, clock, data_dir, demo_items)
    sb = Sandbox(emu, server, app, db, clock, people, data_dir=data_dir, start_at=start_at, demo_items=demo_items)
    if web:
        from bot.demo.web import mount

        sb.web = mount(sb)
    return sb


def _banner(sb: Sandbox) -> str:
    lines = [
        "",
        "督办助手沙盒已启动（无需令牌，不连接互联网）。",
        f"  在浏览器中打开 {sb.server.url}/",
        f"  模拟 Telegram 服务：{sb.server.base_url}<令牌>/<方法>（机器人已通过 HTTP 连接）",
        f"  机器人：@{DEMO_BOT}",
        "  演示县：督查室（王敏、李强）、督查室负责人 赵建国、县领导 陈志远 刘海涛 孙丽，",
        "          20 个乡镇和部门，各有联络员和单位负责人，均已绑定账号。",
        "  已预置督查事项：待审批、即将到期（黄灯，含各单位分工）、已超期（红灯，含工作方案时间节点和催办）、",
        "  待审核、已归档、涉密、督查室自办各一件。",
        "按 Ctrl+C 退出。",
        "",
    ]
    return "\n".join(lines)


async def serve(port: int, data_dir: Path) -> None:
    sb = await start_sandbox(port, data_dir)
    print(_banner(sb), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sb.stop()


def main(port: int = 8080, data_dir: Path = Path("demo-data")) -> int:
    setup_logging("WARNING", DEMO_TOKEN)
    try:
        asyncio.run(serve(port, data_dir))
    except OSError as exc:
        print(f"沙盒无法启动：{exc}（端口 {port} 是否已被占用？可用 --port 指定其他端口）")
        return 2
    return 0
