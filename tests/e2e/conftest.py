"""End-to-end harness: the real python-telegram-bot Application against the emulator.

``transport`` is "inprocess" (the emulator as PTB's BaseRequest) or "http" (the emulator's HTTP
server, reached by the unmodified bot through ``base_url`` like the real Telegram).
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import build_application, start_polling, stop_polling
from bot.config import OfficeSettings, Settings, TelegramSettings
from bot.emulator import Emulator
from bot.emulator.http import EmulatorServer
from bot.emulator.ptb_request import EmulatorRequest
from bot.sender import Pacing, Sender

ADMIN_ID = 9001


@dataclasses.dataclass
class Harness:
    emu: Emulator
    app: object
    sender: Sender
    db: object
    clock: object

    async def settle(self) -> None:
        await self.emu.settle()


@pytest.fixture
def emu():
    emulator = Emulator(token="123456:TEST-TOKEN-e2e", bot_username="duban_test_bot", limits=None)
    yield emulator
    assert emulator.violations == [], f"Bot API spec violations: {emulator.violations}"


async def _start(emu, db, clock, transport: str):
    server = None
    settings = Settings(office=OfficeSettings(name="测试县人民政府督查室", admins=(ADMIN_ID,)))
    if transport == "http":
        server = EmulatorServer(emu, host="127.0.0.1", port=0)
        await server.start()
        settings = dataclasses.replace(settings, telegram=TelegramSettings(
            token=emu.token, base_url=server.base_url, base_file_url=server.base_file_url))
        app = build_application(settings, db, clock, start_jobs=False)
    else:
        settings = dataclasses.replace(settings, telegram=TelegramSettings(token=emu.token))
        app = build_application(settings, db, clock, request=EmulatorRequest(emu),
                                get_updates_request=EmulatorRequest(emu), start_jobs=False)
    sender = app.bot_data["services"].sender
    sender.pacing = Pacing(overall_per_second=1000, per_chat_burst=1000)  # limits are off in the emulator

    async def settle_hook() -> None:
        await app.update_queue.join()
        await sender.drain_all()

    emu.settle_hook = settle_hook
    await start_polling(app, poll_timeout=5)
    return app, sender, server


@pytest.fixture(params=["inprocess"])
async def harness(request, emu, db, clock):
    app, sender, server = await _start(emu, db, clock, request.param)
    yield Harness(emu, app, sender, db, clock)
    await stop_polling(app)
    if server is not None:
        await server.stop()


@pytest.fixture(params=["inprocess", "http"])
async def any_transport(request, emu, db, clock):
    """For tests that must pass the same way over both transports."""
    app, sender, server = await _start(emu, db, clock, request.param)
    yield Harness(emu, app, sender, db, clock)
    await stop_polling(app)
    if server is not None:
        await server.stop()
