"""/people: people who come and go. The office deactivates a departed liaison (refused at once),
changes roles and units, hands a unit's liaison role to a colleague (who gets the unit's open
items in one message), re-invites; every change is confirmed, audited and announced."""

from __future__ import annotations

from sqlalchemy import select

from store.models import AuditEntry, OutboxMessage, Person
from store.workflow import Assignment
from tests.conftest import time_out_dialogs
from tests.e2e.conftest import ADMIN_ID


async def test_office_deactivates_a_liaison_who_is_refused_at_once(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    office, liaison = c.people["王敏"], c.liaison("城关镇")
    await liaison.send("/items")
    assert "道路修复" in liaison.last.text

    await office.send(f"/people {liaison.name}")
    card = office.last
    assert f"👤 {liaison.name}" in card.text and "单位：城关镇" in card.text and "角色：联络员" in card.text
    assert card.button_rows == [["停用（离岗）", "更改角色"], ["更改单位", "移交联络员"], ["重新邀请"]]
    await office.tap("停用（离岗）", card)
    assert "确认停用" in card.text and card.button_rows == [["确认停用", "取消"]]
    await office.tap("确认停用", card)
    assert "✅ 已停用，并已通知本人" in card.text and "（已停用）" in card.text
    assert "城关镇现在没有联络员" in card.text
    assert card.button_rows == [["重新邀请"]]
    assert "督查室已停用您在督办助手的账号" in liaison.last.text and "不能再查看或办理事项" in liaison.last.text

    assert set(liaison.commands) == {"start"}  # the menu is a stranger's again
    await liaison.send("/items")
    assert "仅供受邀人员使用" in liaison.last.text
    notice = next(m for m in liaison.inbox if "签收" in m.buttons)
    await liaison.tap("签收", notice)
    assert "请先通过督查室的邀请链接绑定账号" in liaison.last_answer
    async with h.db.session() as s:
        row = await s.get(Person, c.row(liaison.name).id)
        assert row.active is False and row.telegram_id is None
        audit = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "person.deactivate"))).all()
        assert any(a.entity == "people" and a.after.get("active") is False for a in audit)
        assert audit[0].actor_id == c.row("王敏").id

    await office.forge_tap(f"pp:offy:{c.row(liaison.name).id}", card)  # an old confirmation tapped again
    assert "已经停用，无需重复操作" in office.last_answer


async def test_hand_over_gives_the_new_liaison_the_open_items_in_one_message(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("城区主干道路面修复")
    await demo_item("某涉密工程选址", confidential=True)
    await demo_item("中小学校舍维修", lead="县教育局")
    office, old, head = c.people["王敏"], c.liaison("城关镇"), c.head("城关镇")
    head_before = len(head.inbox)

    await office.send("/people 城关镇")
    listing = office.last
    assert "包含「城关镇」的人员：2人" in listing.text
    await office.tap(f"{old.name}（城关镇）", listing)
    card = office.last
    await office.tap("移交联络员", card)
    assert "请选择接任城关镇联络员的人员" in card.text and card.button_rows[0] == [f"{head.name}（单位负责人）"]
    await office.tap(f"{head.name}（单位负责人）", card)
    assert f"确认将城关镇的联络员由{old.name}移交给{head.name}" in card.text and "账号将停用" in card.text
    await office.tap("确认移交", card)
    assert "✅ 联络员已移交，新联络员已收到本单位在办事项2件" in card.text

    new_messages = head.inbox[head_before:]
    assert len(new_messages) == 1  # one grouped message, whatever the number of items
    brief = new_messages[0].text
    assert f"您已接任城关镇的联络员（原联络员：{old.name}）" in brief and "城关镇在办督查事项：共2件" in brief
    assert "督字〔2026〕1号 城区主干道路面修复" in brief and "督字〔2026〕2号 涉密事项（请到督查室查阅）" in brief
    assert "选址" not in brief and "校舍" not in brief
    assert new_messages[0].button_rows == [["查看 督字〔2026〕1号", "查看 督字〔2026〕2号"]]
    await head.tap("查看 督字〔2026〕1号", new_messages[0])
    assert "签收" in head.last.buttons  # the new liaison can act at once
    await head.tap("签收", head.last)
    async with h.db.session() as s:
        lead = await s.scalar(select(Assignment).where(Assignment.item_id == 1, Assignment.role == "lead"))
        assert lead.acknowledged_by_id == c.row(head.name).id

    assert "联络员工作已移交" in old.last.text
    await old.send("/items")
    assert "仅供受邀人员使用" in old.last.text
    async with h.db.session() as s:
        actions = set((await s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("person.%")))).all())
    assert "person.liaison_handover" in actions


async def test_roles_and_unit_change_with_confirmation(demo_county, demo_item):
    c, _h = demo_county, demo_county.h
    await demo_item("农村公路养护", lead="新马桥镇")
    office, head = c.people["王敏"], c.head("城关镇")

    await office.send(f"/people {head.name}")
    card = office.last
    assert card.button_rows == [["停用（离岗）", "更改角色"], ["更改单位"], ["重新邀请"]]
    await office.tap("更改角色", card)
    assert card.button_rows == [["增加「联络员」"], ["取消「单位负责人」"], ["返回"]]
    await office.tap("取消「单位负责人」", card)
    await office.tap("确认取消", card)
    assert "这是" in office.last_answer and "唯一的角色" in office.last_answer  # refused: use 停用
    await office.tap("取消", card)
    assert card.button_rows[0] == ["停用（离岗）", "更改角色"]
    await office.tap("更改角色", card)
    await office.tap("增加「联络员」", card)
    assert "确认为" in card.text and "增加角色「联络员」" in card.text
    await office.tap("确认增加", card)
    assert "✅ 已增加角色「联络员」" in card.text and "角色：联络员、单位负责人" in card.text
    assert "people" not in head.commands and "items" in head.commands  # the menu follows the roles
    assert "督查室已为您增加角色「联络员」" in head.last.text and "本单位目前没有在办事项" in head.last.text

    await office.tap("更改单位", card)
    assert "请输入" in office.last.text and "新单位名称" in office.last.text
    await office.send("不存在的<单位>")
    assert "没有名称包含「不存在的<单位>」的单位" in office.last.text  # shown as typed
    await office.send("新马桥")
    await office.tap("新马桥镇", office.last)
    confirm = office.last
    assert "由「城关镇」改为「新马桥镇」" in confirm.text
    await office.tap("确认更改", confirm)
    assert "✅ 已更改单位" in confirm.text and "单位：新马桥镇" in confirm.text and "在办事项1件" in confirm.text
    assert "由「城关镇」改为「新马桥镇」" in head.last.text and "督字〔2026〕1号 农村公路养护" in head.last.text
    await head.send("/items")
    assert "农村公路养护" in head.last.text

    await office.tap("更改角色", confirm)
    await office.tap("取消「单位负责人」", confirm)
    await office.tap("确认取消", confirm)
    assert "✅ 已取消角色「单位负责人」" in confirm.text and "角色：联络员" in confirm.text
    assert "督查室已取消您的角色「单位负责人」" in head.last.text


async def test_reinvite_restores_a_deactivated_person_and_old_links_stop_working(demo_county, demo_item):
    c, _h = demo_county, demo_county.h
    await demo_item("城区主干道路面修复")
    office, liaison = c.people["王敏"], c.liaison("城关镇")
    await office.send("/invite 联络员 城关镇 " + liaison.name)
    old_link = office.last.text.split("start=")[1].split()[0]

    await office.send(f"/people {liaison.name}")
    card = office.last
    await office.tap("停用（离岗）", card)
    await office.tap("确认停用", card)
    await liaison.send(f"/start {old_link}")  # an unused link from before cannot bring them back
    assert "过期" in liaison.last.text

    await office.tap("重新邀请", card)
    assert card.button_rows == [["邀请为「联络员」"], ["邀请为「单位负责人」"], ["返回"]]
    await office.tap("邀请为「联络员」", card)
    await office.tap("确认生成链接", card)
    assert f"已为{liaison.name}（城关镇）生成联络员邀请链接" in card.text
    code = card.text.split("start=")[1].split()[0]
    before = len(liaison.inbox)
    await liaison.send(f"/start {code}")
    texts = [m.text for m in liaison.inbox[before:]]
    assert any("城关镇在办督查事项：共1件" in t for t in texts)  # welcomed back with the unit's open items
    await liaison.send("/items")
    assert "城区主干道路面修复" in liaison.last.text


async def test_people_bad_input_and_forged_taps(demo_county):
    c = demo_county
    office, liaison = c.people["王敏"], c.liaison("城关镇")
    for text, expected in (
        ("/people", "用法：/people 姓名或单位"),
        ("/people 查无此人", "没有找到姓名或单位包含「查无此人」的人员"),
        ("/people " + "长" * 31, "查找内容太长（最多30个字）"),
    ):
        await office.send(text)
        assert expected in office.last.text, (text, office.last.text)
    await liaison.send("/people 王敏")
    assert "没有权限" in liaison.last.text
    await liaison.forge_tap(f"pp:offy:{c.row('王敏').id}", liaison.last)
    assert "没有权限" in liaison.last_answer
    await office.forge_tap(f"pp:offy:{c.row('王敏').id}", office.last)
    assert "不能停用自己的账号" in office.last_answer
    admin = c.h.emu.person("管理员", user_id=ADMIN_ID)
    await admin.send("/help")  # [office] admins: office staff from the first message
    await office.send("/people 管理员")
    await office.tap("停用（离岗）", office.last)
    await office.tap("确认停用", office.last)
    assert "配置文件中的管理员" in office.last_answer
    await office.forge_tap("pp:offy:99999", office.last)
    assert "找不到该人员" in office.last_answer
    await office.send(f"/people {liaison.name}")
    await office.tap("更改单位", office.last)
    await office.send("/cancel")
    assert office.last.text == "已取消，未更改单位。"
    await office.tap("更改单位", office.inbox[-3])
    assert await time_out_dialogs(c.h.app) == 1
    assert "更改单位已超时取消" in office.last.text
    await office.forge_tap("pp:zz:1", office.last)
    assert "按钮已失效" in office.last_answer
    await office.forge_tap(f"pp:ady:{c.row(liaison.name).id}:leader", office.last)
    assert "属于城关镇，县领导不属于承办单位" in office.last_answer
    await office.forge_tap(f"pp:htoy:{c.row(liaison.name).id}:{c.row('王敏').id}", office.last)
    assert "只能移交给本单位人员" in office.last_answer
    await office.forge_tap(f"pp:ucy:{c.row('陈志远').id}:1", office.last)
    assert "不属于承办单位" in office.last_answer
    async with c.h.db.session() as s:
        assert (await s.get(Person, c.row(liaison.name).id)).active  # nothing forged changed anyone
        assert (await s.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "cancelled"))) is None


async def test_full_import_lists_missing_people_and_marks_them_leaving_after_confirmation(demo_county, demo_item,
                                                                                          tmp_path):
    """The office's new directory leaves out the 城关镇 liaison: the import lists them, nothing
    happens until it is confirmed, then they are told and refused at once."""
    import io

    from bot.demo.county import demo_people
    from bot.domain.directory_import import run_import

    c, h = demo_county, demo_county.h
    await demo_item("城区主干道路面修复")
    gone = c.liaison("城关镇")
    names = {"office": "督查室工作人员", "office_head": "督查室负责人", "leader": "县领导", "liaison": "联络员",
             "unit_head": "单位负责人"}
    path = tmp_path / "人员.csv"
    path.write_text("姓名,单位,角色\n" + "\n".join(
        f"{p.name},{p.unit or ''},{'、'.join(names[r] for r in p.roles)}" for p in demo_people() if p.name != gone.name),
        encoding="utf-8")

    async def full(confirm):
        out, err = io.StringIO(), io.StringIO()
        code = await run_import(h.db, "people", path, out, err, full=True, confirm=confirm)
        await h.settle()
        return code, out.getvalue() + err.getvalue()

    code, text = await full(None)
    assert code == 2 and "以下1人不在本次完整名单中" in text and f"  {gone.name}（城关镇，联络员）" in text
    await gone.send("/items")
    assert "城区主干道路面修复" in gone.last.text  # listed, not yet marked
    code, text = await full(lambda: False)
    assert code == 1 and "已取消" in text

    code, text = await full(lambda: True)
    assert code == 0 and "人员导入完成：新增 0，更新 0，未变 45，标记离岗 1" in text
    assert "根据督查室最新的人员名单，您已不在名单中" in gone.last.text
    await gone.send("/items")
    assert "仅供受邀人员使用" in gone.last.text
    await c.people["王敏"].send(f"/people {gone.name}")
    assert "（已停用）" in c.people["王敏"].last.text
