"""Start-up answers first: the per-person command menus are refreshed in the background, and only
in chats whose menu changed since it was last set."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.emulator.ptb_request import EmulatorRequest
from store.audit import Actor
from store.models import MenuState, Person, PersonRole, Unit
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.startup_helpers import HeldRequest, background_done, build, chat_scoped, start

PEOPLE = 60


async def bind_people(emu, db, clock) -> list:
    users = [emu.person(f"联络员{i}") for i in range(PEOPLE)]
    async with db.session(Actor.system("test"), "test.setup") as s:
        unit = Unit(name="城关镇", kind="乡镇", created_at=clock.now())
        s.add(unit)
        await s.flush()
        for user in users:
            s.add(Person(name=user.name, unit_id=unit.id, telegram_id=user.id, created_at=clock.now(),
                         role_rows=[PersonRole(role="liaison")]))
    return users


class Counting(EmulatorRequest):
    def __init__(self, emu) -> None:  # noqa: ANN001
        super().__init__(emu)
        self.menus_set = 0

    async def do_request(self, url, method, request_data=None, **kwargs):  # noqa: ANN001, ANN003
        if chat_scoped(url.rsplit("/", 1)[-1], dict(request_data.json_parameters) if request_data else {}):
            self.menus_set += 1
        return await super().do_request(url, method, request_data, **kwargs)


async def stop(app) -> None:  # noqa: ANN001
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def test_the_first_answer_does_not_wait_for_the_menus_and_unchanged_menus_are_not_sent_again(
        emu, db, clock, tmp_path):
    users = await bind_people(emu, db, clock)
    # Telegram does not answer the menu calls for now, except for the one person who asks /help
    # (whose own answer sets their menu first).
    slow = HeldRequest(EmulatorRequest(emu), lambda method, params: chat_scoped(method, params)
                       and str(users[0].id) not in params["scope"])
    a = build(emu, db, clock, tmp_path, request=slow)
    await start(a)
    await users[0].send("/help")
    assert "/items" in users[0].last.text  # answered, as a liaison…
    assert all("items" not in u.commands for u in users[1:])  # …while the refresh has not got far
    slow.release()
    await background_done(a)
    assert all("items" in u.commands and "new" not in u.commands for u in users)
    await stop(a)

    again = Counting(emu)
    b = build(emu, db, clock, tmp_path, request=again)
    await start(b)
    await background_done(b)
    assert again.menus_set == 0  # nothing changed: no call at all
    await stop(b)

    async with db.session(Actor.system("test"), "test.roles") as s:  # one person gains a role offline
        person = await s.scalar(select(Person).where(Person.telegram_id == users[7].id))
        person.role_rows.append(PersonRole(role="office"))
    once = Counting(emu)
    c = build(emu, db, clock, tmp_path, request=once)
    await start(c)
    await background_done(c)
    assert once.menus_set == 1
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(MenuState)) == PEOPLE
    await stop(c)


async def test_a_menu_set_in_chat_is_remembered_and_not_sent_again(harness):
    """``set_menu`` (/start, /help) records the fingerprint too: the next /help sends nothing."""
    h = harness
    await background_done(h.app)
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/start")
    assert "invite" in admin.commands
    calls = h.emu.stats.calls["setMyCommands"]
    await admin.send("/help")
    assert h.emu.stats.calls["setMyCommands"] == calls
    async with h.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(MenuState)) == 1
