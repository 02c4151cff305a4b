"""End-to-end harness: the real python-telegram-bot Application against the emulator.

``transport`` is "inprocess" (the emulator as PTB's BaseRequest) or "http" (the emulator's HTTP
server, reached by the unmodified bot through ``base_url`` like the real Telegram).
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.runtime.app import build_application, start_polling, stop_polling
from bot.kernel.config import OfficeSettings, ReminderSettings, Settings, StorageSettings, TelegramSettings
from bot.emulator import Emulator
from bot.emulator.http import EmulatorServer
from bot.emulator.ptb_request import EmulatorRequest
from bot.outbox.sender import Pacing, Sender

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


async def _start(emu, db, clock, transport: str, files_dir):
    server = None
    # Conversations read best with every notice at once; tests/e2e/test_respect.py turns bundling on.
    settings = Settings(office=OfficeSettings(name="测试县人民政府督查室", admins=(ADMIN_ID,)),
                        storage=StorageSettings(files_dir=str(files_dir)),  # never the repo's data/
                        reminders=ReminderSettings(bundle_time=None))
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
async def harness(request, emu, db, clock, tmp_path):
    app, sender, server = await _start(emu, db, clock, request.param, tmp_path / "files")
    yield Harness(emu, app, sender, db, clock)
    await stop_polling(app)
    if server is not None:
        await server.stop()


@pytest.fixture(params=["inprocess", "http"])
async def any_transport(request, emu, db, clock, tmp_path):
    """For tests that must pass the same way over both transports."""
    app, sender, server = await _start(emu, db, clock, request.param, tmp_path / "files")
    yield Harness(emu, app, sender, db, clock)
    await stop_polling(app)
    if server is not None:
        await server.stop()


# --- Issue 3 (the lifecycle chat UI): the demo county, everyone bound to an emulator user ---------


@dataclasses.dataclass
class DemoCounty:
    """``bot.demo.county`` seeded into the harness: ``people[name]`` talks, ``rows[name]`` is the DB row."""

    h: Harness
    people: dict
    rows: dict
    files_dir: object

    def liaison(self, unit: str):
        return self.people[self._in(unit, "liaison")]

    def head(self, unit: str):
        return self.people[self._in(unit, "unit_head")]

    def row(self, who) -> object:  # noqa: ANN001 — a driver person or a name
        return self.rows[who if isinstance(who, str) else who.name]

    @staticmethod
    def _in(unit: str, role: str) -> str:
        from bot.demo.county import demo_people

        return next(p.name for p in demo_people() if p.unit == unit and role in p.roles)


async def seed_demo_county(h: Harness, files_dir) -> DemoCounty:  # noqa: ANN001
    from bot.kernel.config import StorageSettings
    from bot.demo.county import demo_people, seed_directory

    people = {dp.name: h.emu.person(dp.name) for dp in demo_people()}
    rows = await seed_directory(h.db, h.clock.now(), lambda dp: people[dp.name].id)
    services = h.app.bot_data["services"]
    services.settings = dataclasses.replace(services.settings, storage=StorageSettings(files_dir=str(files_dir)))
    return DemoCounty(h, people, rows, files_dir)


@pytest.fixture
async def demo_county(harness, tmp_path):
    return await seed_demo_county(harness, tmp_path / "files")


@pytest.fixture
async def demo_county_any(any_transport, tmp_path):
    """The same over both transports (downloads and uploads through HTTP too)."""
    return await seed_demo_county(any_transport, tmp_path / "files")


@pytest.fixture
def demo_item(demo_county):
    """A factory: an item registered (and by default submitted and approved) through the domain,
    for tests whose subject is not 立项 itself. Returns the item id."""
    from sqlalchemy import select

    from bot.domain import items as items_svc
    from bot.domain.workflow import DeadlineSpec
    from store.models import Unit

    c = demo_county

    async def make(title="城区主干道破损路面修复", *, lead="城关镇", assists=(), importance="important", days=None,
                   confidential=False, leaders=("陈志远",), submit=True, approve=True, office="王敏") -> int:
        services = c.h.app.bot_data["services"]
        calendar, now = await services.calendar(), c.h.clock.now()
        async with c.h.db.session() as s:
            units = {u.name: u.id for u in (await s.scalars(select(Unit))).all()}
            item = await items_svc.register_item(
                s, c.rows[office], title=title, requirements=f"{title}：按要求办理并报送情况。", source="other",
                importance=importance, lead_unit_id=units[lead], assisting_unit_ids=[units[u] for u in assists],
                deadline=DeadlineSpec.working_days(days) if days else None, confidential=confidential,
                follower_id=c.rows[office].id if importance == "urgent" else None,
                leader_ids=[c.rows[n].id for n in leaders], calendar=calendar, now=now,
            )
            if submit:
                await items_svc.submit_item(s, c.rows[office], item.id, now=now)
            if submit and approve:
                await items_svc.approve_item(s, c.rows["赵建国"], item.id, calendar=calendar, now=now)
            item_id = item.id
        await c.h.settle()
        return item_id

    return make
