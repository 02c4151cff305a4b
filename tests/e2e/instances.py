"""Several bot instances on one database, in one event loop, against one emulator (issue 14).

Each ``Instance`` is what a process would be: its own ``Database`` (engine, connections), its own
Application, bot, sender and election. ``kill`` ends one abruptly, as kill -9 would: its lock
connection is cut without a goodbye and its polling and update handling are cancelled mid-way,
with no clean-up (nothing is confirmed to Telegram, nothing is marked). Used by
tests/e2e/test_multi_instance.py and bench/failover.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable

from telegram import Update

from bot.emulator import Emulator
from bot.emulator.ptb_request import EmulatorRequest
from bot.kernel.config import OfficeSettings, Settings, StorageSettings, TelegramSettings
from bot.outbox.pacing import Pacing
from bot.runtime.app import build_application, start_instance, stop_instance
from bot.runtime.jobs import run_sender_while_leading
from bot.runtime.leader import PgLeadership
from store.db import Database

RETRY_SECONDS = 0.1  # a standby's try; the default is 2 s (DUBAN_LEADER_RETRY_SECONDS)


@dataclasses.dataclass
class Instance:
    name: str
    db: Database
    app: object
    leadership: PgLeadership
    sender_task: asyncio.Task | None = None
    killed: bool = False

    @property
    def sender(self):  # noqa: ANN201
        return self.app.bot_data["services"].sender

    @property
    def polling(self) -> bool:
        return bool(self.app.updater.running)

    def run_sender(self, pacing: Pacing | None = None) -> None:
        """The sender loop as the job queue runs it: it sends only while this instance leads."""
        if pacing is not None:
            self.sender.pacing = pacing
        self.sender_task = asyncio.create_task(run_sender_while_leading(
            self.app.bot_data["services"], lambda: not self.killed and self.app.running,
            lambda: self.leadership.is_leader))


def settings_for(emu: Emulator, files_dir, mode: str = "polling") -> Settings:  # noqa: ANN001
    return Settings(office=OfficeSettings(name="测试县人民政府督查室"),
                    storage=StorageSettings(files_dir=str(files_dir)),
                    telegram=TelegramSettings(token=emu.token, mode=mode))


async def start(name: str, url: str, emu: Emulator, clock, files_dir, *, polling: bool = True,  # noqa: ANN001
                shared_updates: bool = False, pacing: Pacing | None = None, retry_seconds: float = RETRY_SECONDS,
                heartbeat_seconds: float = RETRY_SECONDS) -> Instance:
    db = Database(url, now=clock.now)
    app = build_application(settings_for(emu, files_dir), db, clock, request=EmulatorRequest(emu),
                            get_updates_request=EmulatorRequest(emu), start_jobs=False,
                            shared_updates=shared_updates)
    app.bot_data["services"].sender.pacing = pacing or Pacing(overall_per_second=1000, per_chat_burst=1000)
    leadership = PgLeadership(db.url, retry_seconds=retry_seconds, heartbeat_seconds=heartbeat_seconds)
    await start_instance(app, leadership, polling=polling, poll_timeout=2, recover_every=RETRY_SECONDS)
    return Instance(name, db, app, leadership)


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``condition()`` holds (TimeoutError after ``timeout``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        if loop.time() - started > timeout:
            raise TimeoutError(f"not within {timeout}s")
        await asyncio.sleep(0.01)
    return loop.time() - started


async def leader_of(instances: list[Instance], timeout: float = 10.0) -> Instance:
    await wait_for(lambda: any(i.leadership.is_leader and i.polling for i in instances
                               if not i.killed), timeout)
    return next(i for i in instances if i.leadership.is_leader and not i.killed)


async def leader_of_any(instances: list[Instance], timeout: float = 10.0) -> Instance:
    """The leader, polling or not (webhook mode: it only sends)."""
    await wait_for(lambda: any(i.leadership.is_leader for i in instances if not i.killed), timeout)
    return next(i for i in instances if i.leadership.is_leader and not i.killed)


async def kill(inst: Instance) -> None:
    """As kill -9: the socket of the lock connection closes (PostgreSQL frees the lock), polling and
    handling stop where they are; no hook runs, nothing is confirmed, marked or written."""
    inst.killed = True
    # PTB fetches in a task of its own that cancelling the polling task leaves running: a dead
    # process puts (records) nothing more.
    inst.app.update_queue.put = _forever
    lead = inst.leadership
    lead.on_deposed = lead.on_elected = _nothing
    if lead.connection is not None:
        lead.connection.terminate()
    tasks = [lead._task, inst.sender_task,  # noqa: SLF001
             getattr(inst.app.updater, "_Updater__polling_task", None),
             getattr(inst.app, "_Application__update_fetcher_task", None)]
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    if running:  # a task that ignores its cancel would hang the test: fail it with the task named
        _, stuck = await asyncio.wait(running, timeout=10)
        assert not stuck, f"still running after the kill: {stuck}"
        for task in running:  # retrieved: a dead process reports nothing
            if not task.cancelled():
                task.exception()
    lead._task = None  # noqa: SLF001
    lead.is_leader = False


async def _nothing() -> None:
    return None


async def _forever(*_args: object) -> None:
    await asyncio.Event().wait()


def settle_all(emu: Emulator, instances: list[Instance]) -> None:
    """``emu.settle`` waits for every live instance's queue and the leader's outbox."""

    async def hook() -> None:
        for inst in instances:
            if not inst.killed:
                await inst.app.update_queue.join()
        for inst in instances:
            if not inst.killed and inst.leadership.is_leader:
                await inst.sender.drain_all()

    emu.settle_hook = hook


async def proxy(emu: Emulator, instances: list[Instance]) -> None:
    """Webhook mode behind a reverse proxy: each update to the next live instance, round robin
    (the emulator is polled here only to get the updates; the instances never poll)."""
    offset, n = None, 0
    while True:
        reply = await emu.request("getUpdates", {"offset": offset, "timeout": 1} if offset else {"timeout": 1})
        for raw in reply.body["result"]:
            live = [i for i in instances if not i.killed]
            target = live[n % len(live)].app
            n += 1
            await target.update_queue.put(Update.de_json(raw, target.bot))
            offset = raw["update_id"] + 1


async def stop(inst: Instance) -> None:
    if inst.sender_task is not None and not inst.killed:
        inst.killed = True
        with contextlib.suppress(BaseException):
            await inst.sender_task
    with contextlib.suppress(Exception):  # a killed instance: PTB finds its tasks cancelled
        await stop_instance(inst.app)
    await inst.db.dispose()
