"""Onboarding as people live it: strangers, the first admin, invitations, menus, and bad input."""

from __future__ import annotations

import re
from sqlalchemy import func, select

from store.audit import Actor
from store.models import AuditEntry, Invitation, Person, Unit
from tests.e2e.conftest import ADMIN_ID

LINK = re.compile(r"https://t\.me/duban_test_bot\?start=([A-Za-z0-9_-]+)")


async def add_units(db, clock, *names: str) -> None:
    async with db.session(Actor.system("test")) as s:
        for name in names:
            s.add(Unit(name=name, kind="乡镇", created_at=clock.now()))


async def count(db, model) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def invite_link(admin, text: str) -> str:
    await admin.send(text)
    match = LINK.search(admin.last.text)
    assert match, admin.last.text
    return match.group(1)


async def test_a_stranger_is_told_to_ask_the_office_and_nothing_changes(any_transport):
    h = any_transport
    stranger = h.emu.person("路人甲")
    for text in ["你好", "/help", "/invite 联络员 城关镇 张三", "x" * 4096]:
        await stranger.send(text)
        assert "请联系督查室获取邀请链接" in stranger.last.text
    await stranger.send("/start")
    assert "请联系督查室获取邀请链接" in stranger.last.text
    assert await count(h.db, Person) == 0 and await count(h.db, AuditEntry) == 0


async def test_admin_invites_a_liaison_who_joins_with_the_link(any_transport):
    h = any_transport
    await add_units(h.db, h.clock, "城关镇", "新马桥镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/start")
    assert "督查室工作人员" in admin.last.text
    assert set(admin.commands) >= {"help", "invite"}

    code = await invite_link(admin, "/invite 联络员 城关镇 张三")
    assert "张三" in admin.last.text and "城关镇" in admin.last.text

    zhang = h.emu.person("张三")
    await zhang.send(f"/start {code}")
    assert "张三，您好" in zhang.last.text and "城关镇" in zhang.last.text and "联络员" in zhang.last.text
    # A liaison's menu: what liaisons may use, nothing of the office's.
    assert {"help", "items", "item", "cancel"} <= set(zhang.commands)
    assert not {"invite", "new", "call", "bulletin", "export"} & set(zhang.commands)

    await zhang.send("/help")
    assert "/help" in zhang.last.text and "/invite" not in zhang.last.text

    async with h.db.session() as s:
        person = await s.scalar(select(Person).where(Person.name == "张三"))
        invitation = await s.scalar(select(Invitation))
        actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert person.telegram_id == zhang.id and person.roles == {"liaison"} and person.unit.name == "城关镇"
    assert invitation.used_at == h.clock.now() and invitation.code_hash != code and code not in invitation.code_hash
    assert "invitation.create" in actions and "invitation.redeem" in actions


async def test_codes_are_single_use_expire_and_cannot_be_made_up(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    first = await invite_link(admin, "/invite 联络员 城关镇 张三")
    second = await invite_link(admin, "/invite 单位负责人 城关镇 李四")

    zhang = h.emu.person("张三")
    await zhang.send(f"/start {first}")
    other = h.emu.person("冒用者")
    await other.send(f"/start {first}")
    assert "已经使用过" in other.last.text

    await other.send("/start madeUpCode123")
    assert "邀请码无效" in other.last.text
    await other.send("/start " + "x" * 300)
    assert "邀请码无效" in other.last.text

    h.clock.advance(days=7, seconds=1)
    li = h.emu.person("李四")
    await li.send(f"/start {second}")
    assert "已过期" in li.last.text
    async with h.db.session() as s:
        li_row = await s.scalar(select(Person).where(Person.name == "李四"))
    assert li_row.telegram_id is None and li_row.roles == frozenset()


async def test_an_account_bound_to_someone_cannot_take_another_persons_invitation(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    code = await invite_link(admin, "/invite 县领导 陈志远")
    await admin.send(f"/start {code}")
    assert "已绑定为「王敏」" in admin.last.text
    async with h.db.session() as s:
        chen = await s.scalar(select(Person).where(Person.name == "陈志远"))
    assert chen.telegram_id is None


async def test_people_without_the_role_cannot_invite(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    zhang = h.emu.person("张三")
    await zhang.send(f"/start {await invite_link(admin, '/invite 联络员 城关镇 张三')}")
    invitations = await count(h.db, Invitation)

    await zhang.send("/invite 联络员 城关镇 王五")
    assert "您没有权限使用 /invite" in zhang.last.text
    assert await count(h.db, Invitation) == invitations


async def test_invite_input_errors_are_explained(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    cases = {
        "/invite 村长 城关镇 张三": "未知的角色「村长」",
        "/invite <b>村长 城关镇 张三": "未知的角色「<b>村长」",  # typed markup is shown as typed
        "/invite 联络员 <城关> 张三": "找不到单位「<城关>」",
        "/invite 联络员 张三": "用法：/invite",
        "/invite 联络员 城关 张三": "找不到单位「城关」（相近的单位：城关镇）",
        "/invite 县领导 城关镇 张三": "用法：/invite",
        f"/invite 县领导 {'长' * 51}": "姓名太长",
    }
    for text, expected in cases.items():
        await admin.send(text)
        assert expected in admin.last.text, (text, admin.last.text)
    assert await count(h.db, Invitation) == 0


async def test_invite_dialog_with_buttons_and_unit_search(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇", "新马桥镇", "县财政局")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/invite")
    assert admin.last.buttons == ["督查室工作人员", "督查室负责人", "县领导", "联络员", "单位负责人"]
    await admin.tap("联络员")
    assert "请输入所属单位名称" in admin.last.text
    await admin.send("不存在")
    assert "没有名称包含「不存在」的单位" in admin.last.text
    await admin.send("<镇&")
    assert "没有名称包含「<镇&」的单位" in admin.last.text
    await admin.send("镇")
    assert admin.last.buttons == ["城关镇", "新马桥镇"]
    await admin.tap("新马桥镇")
    await admin.send_photo(b"\x89PNG fake", caption="照片")
    assert "请输入文字" in admin.last.text
    await admin.send("赵六")
    assert LINK.search(admin.last.text) and "新马桥镇" in admin.last.text
    async with h.db.session() as s:
        inv = await s.scalar(select(Invitation))
    assert inv.role == "liaison" and inv.person.name == "赵六" and inv.person.unit.name == "新马桥镇"


async def test_cancel_leaves_nothing_behind(harness):
    h = harness
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/invite")
    await admin.tap("县领导")
    await admin.send("/cancel")
    assert admin.last.text == "已取消。"
    await admin.send("刘海涛")
    assert "请通过命令或按钮操作" in admin.last.text
    await admin.send("/cancel")
    assert admin.last.text == "当前没有进行中的操作。"
    assert await count(h.db, Invitation) == 0


async def test_group_chats_are_not_set_up(harness):
    h = harness
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    group = h.emu.group("城关镇工作群", members=[admin])
    await admin.send("大家好", chat=group)
    assert group.messages == []
    await admin.send("/help", chat=group)
    assert [m.text for m in group.messages] == ["本群未开通督办助手。请在与机器人的私聊中使用，或联系督查室。"]
    assert await count(h.db, Invitation) == 0


async def test_unknown_command_and_stray_text_from_a_known_person(harness):
    h = harness
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/frobnicate")
    assert "没有这个命令" in admin.last.text
    await admin.send("随便说点什么" * 600)
    assert "请通过命令或按钮操作" in admin.last.text
    await admin.send_document(b"%PDF-1.4", filename="a.pdf")
    assert "请通过命令或按钮操作" in admin.last.text


async def test_reinvited_person_on_a_new_phone_is_rebound(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    old_phone = h.emu.person("张三")
    await old_phone.send(f"/start {await invite_link(admin, '/invite 联络员 城关镇 张三')}")
    new_phone = h.emu.person("张三（新手机）")
    await new_phone.send(f"/start {await invite_link(admin, '/invite 联络员 城关镇 张三')}")
    assert "张三，您好" in new_phone.last.text
    await old_phone.send("/help")
    assert "请联系督查室获取邀请链接" in old_phone.last.text
    async with h.db.session() as s:
        assert (await s.scalar(select(Person).where(Person.name == "张三"))).telegram_id == new_phone.id


async def test_a_refused_invite_starts_no_dialog_and_stray_buttons_are_answered(harness):
    h = harness
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    zhang = h.emu.person("张三")
    await zhang.send(f"/start {await invite_link(admin, '/invite 联络员 城关镇 张三')}")
    await zhang.send("/invite")
    assert "您没有权限使用 /invite" in zhang.last.text
    # No dialog was opened, so the next text is not taken as a unit name.
    await zhang.send("城关")
    assert "请通过命令或按钮操作" in zhang.last.text
    await zhang.forge_tap("zzz:unknown")
    assert zhang.last_answer == "这个按钮已失效，请重新发送命令。"


async def test_a_stranger_who_blocks_the_bot_gets_no_answer(harness):
    stranger = harness.emu.person("路人乙")
    await stranger.send("你好")
    answered = len(stranger.inbox)
    await stranger.block()
    calls = harness.emu.stats.calls["sendMessage"]
    await stranger.unblock()
    assert len(stranger.inbox) == answered and harness.emu.stats.calls["sendMessage"] == calls



async def test_a_burst_sees_a_binding_made_by_an_earlier_update_of_the_same_burst(any_transport):
    # The senders of waiting updates are read together (bot.runtime.senders): 张三's /items waits
    # behind his /start, read as a stranger's; the binding his /start writes voids that copy.
    h = any_transport
    await add_units(h.db, h.clock, "城关镇")
    admin = h.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/start")
    code = await invite_link(admin, "/invite 联络员 城关镇 张三")
    zhang, bystanders = h.emu.person("张三"), [h.emu.person(f"路人{i}") for i in range(3)]
    await h.emu.user_sends(zhang.id, f"/start {code}")
    for who in bystanders:
        await h.emu.user_sends(who.id, "/help")
    await h.emu.user_sends(zhang.id, "/items")
    await h.emu.settle()
    assert "张三，您好" in zhang.inbox[-2].text
    assert zhang.last.text.startswith("📋 督查事项（全部）：共0件"), zhang.last.text
    assert all("请联系督查室获取邀请链接" in who.last.text for who in bystanders)
