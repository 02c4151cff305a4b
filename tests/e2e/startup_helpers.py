"""Shared by the inbox and start-up menu tests: Applications we start, hold and crash ourselves."""

from __future__ import annotations

import asyncio
import json

from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.runtime.app import build_application, start_polling
from bot.kernel.config import OfficeSettings, Settings, StorageSettings, TelegramSettings
from bot.emulator.ptb_request import EmulatorRequest
from bot.outbox.sender import Pacing


class HeldRequest(BaseRequest):
    """The in-process transport, except that calls ``hold`` picks wait until ``release()``:
    what a slow Telegram looks like to the bot, without sleeping."""

    def __init__(self, inner: BaseRequest, hold) -> None:  # noqa: ANN001 — (method, params) -> bool
        self.inner = inner
        self.hold = hold
        self.released = asyncio.Event()
        self.waiting = 0  # calls being held right now

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    def release(self) -> None:
        self.released.set()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         **kwargs) -> tuple[int, bytes]:  # noqa: ANN003
        params = dict(request_data.json_parameters) if request_data else {}
        if self.hold(url.rsplit("/", 1)[-1], params) and not self.released.is_set():
            self.waiting += 1
            try:
                await self.released.wait()
            finally:
                self.waiting -= 1
        return await self.inner.do_request(url, method, request_data, **kwargs)


def chat_scoped(method: str, params: dict) -> bool:
    return method == "setMyCommands" and json.loads(params.get("scope", "{}")).get("type") == "chat"


def build(emu, db, clock, tmp_path, request: BaseRequest | None = None,
          get_updates_request: BaseRequest | None = None) -> Application:
    settings = Settings(office=OfficeSettings(name="测试县人民政府督查室"),
                        storage=StorageSettings(files_dir=str(tmp_path / "files")),
                        telegram=TelegramSettings(token=emu.token))
    app = build_application(settings, db, clock, request=request or EmulatorRequest(emu),
                            get_updates_request=get_updates_request or EmulatorRequest(emu), start_jobs=False)
    sender = app.bot_data["services"].sender
    sender.pacing = Pacing(overall_per_second=1000, per_chat_burst=1000)

    async def settle_hook() -> None:
        await app.update_queue.join()
        await sender.drain_all()

    emu.settle_hook = settle_hook
    return app


async def start(app: Application) -> None:
    # A start that waited for something held would never return: fail instead of hanging.
    await asyncio.wait_for(start_polling(app, poll_timeout=5), 20)


async def background_done(app: Application) -> None:
    await asyncio.gather(*app.bot_data.get("background", ()))


async def crash(app: Application) -> None:
    """What kill -9 leaves behind: none of the process's tasks runs one more step (no graceful
    stop, no final confirming getUpdates, queued updates gone); only the database remembers."""
    names = {"Updater:start_polling:polling_task", f"Application:{app.bot.id}:update_fetcher"}
    tasks = [t for t in asyncio.all_tasks() if t.get_name() in names]
    tasks += list(app.bot_data.get("background", ()))
    assert len(tasks) >= 2, "the Application is not running"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def until(condition, what: str, steps: int = 2000) -> None:  # noqa: ANN001
    """Let the event loop run until ``condition()`` holds (a bounded wait, not a timing check)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")

