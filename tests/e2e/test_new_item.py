"""/new: the office registers an item in a guided dialog; bad input is explained; /cancel and the
timeout leave nothing behind."""

from __future__ import annotations

from sqlalchemy import func, select

from store.audit import Actor
from store.models import AuditEntry, Unit
from store.workflow import Item
from tests.conftest import time_out_dialogs


async def items_in(db) -> list[Item]:
    async with db.session() as s:
        return list((await s.scalars(select(Item).order_by(Item.id))).all())


async def start_new(office, title="城区主干道破损路面修复", requirements="修复城区主干道破损路面，报送修复前后照片。"):
    await office.send("/new")
    await office.tap("不涉密")
    await office.send(title)
    await office.send(requirements)


async def test_the_office_registers_an_important_item_with_buttons_and_unit_search(demo_county):
    c, h = demo_county, demo_county.h
    office, head = c.people["王敏"], c.people["赵建国"]
    await office.send("/new")
    assert "第1步：该事项是否涉密" in office.last.text and office.last.buttons == ["不涉密", "🔒 涉密"]
    await office.tap("不涉密")
    assert office.inbox[-2].text == "是否涉密：不涉密"
    assert "第2步：请输入事项名称" in office.last.text
    await office.send("城区主干道破损路面修复")
    assert "办理要求" in office.last.text
    await office.send("两周内完成城区主干道破损路面修复，并报送修复前后照片。")
    assert office.last.buttons == ["县政府重要工作部署", "县政府重大项目", "县政府重要会议决定事项", "领导批办、交办事项",
                                   "上级党委、政府交办事项", "人大代表建议、政协委员提案", "其他督查事项"]
    await office.tap("县政府重要工作部署")
    assert office.inbox[-2].text == "事项来源：县政府重要工作部署" and office.inbox[-2].buttons == []
    assert office.last.buttons == ["一般", "重要", "紧急"]
    await office.tap("重要")
    assert "主办单位" in office.last.text

    await office.send("城关")
    assert office.last.buttons == ["城关镇"]
    await office.tap("城关镇")
    assert "协办单位" in office.last.text and office.last.buttons == ["无协办单位，下一步"]
    await office.send("局")
    results = office.last
    assert "县交通运输局" in results.buttons and "县水利局" in results.buttons and "城关镇" not in results.buttons
    await office.tap("县交通运输局", results)
    assert office.last_answer == "已选：县交通运输局"
    assert "✅ 县交通运输局" in results.buttons and "完成（已选1个）" in results.buttons
    await office.tap("县水利局", results)
    await office.tap("县财政局", results)
    await office.tap("✅ 县财政局", results)  # tapped twice: out again
    assert "已选：县交通运输局、县水利局" in results.text and "完成（已选2个）" in results.buttons
    await office.tap("完成（已选2个）", results)
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    assert results.text == "协办单位：县交通运输局、县水利局"

    assert "办结时限" in office.last.text and office.last.buttons == ["默认：7个工作日"]
    await office.tap("默认：7个工作日")
    # Tue 03-10 + 7 working days = Thu 03-19: longer than a week, so weekly feedback is on by default.
    assert office.last.buttons == ["需要每周反馈（默认）", "不需要"]
    await office.tap("需要每周反馈（默认）")
    assert office.last.buttons == ["陈志远", "刘海涛", "孙丽", "完成（已选0位）"]
    await office.tap("完成（已选0位）")
    assert office.last_answer == "请至少选择一位负责审阅的县领导"
    await office.tap("陈志远")
    await office.tap("✅ 陈志远")
    await office.tap("刘海涛")
    await office.tap("完成（已选1位）")

    summary = office.last
    assert summary.buttons == ["提交审批", "取消"]
    for text in ("事项名称：城区主干道破损路面修复", "事项来源：县政府重要工作部署", "重要程度：重要", "主办单位：城关镇",
                 "协办单位：县交通运输局、县水利局", "办结时限：批准后7个工作日（按今天批准计，约至2026-03-19）",
                 "是否涉密：不涉密", "每周反馈：需要", "审阅领导：刘海涛"):
        assert text in summary.text, (text, summary.text)
    assert await items_in(h.db) == []

    await office.tap("提交审批")
    assert summary.buttons == []
    assert "已提交督查室负责人审批" in office.last.text
    (item,) = await items_in(h.db)
    assert (item.state, item.title, item.source, item.importance, item.deadline_days, item.deadline_date) == (
        "pending", "城区主干道破损路面修复", "deployment", "important", 7, None)
    assert (item.confidential, item.weekly_feedback, item.follower_id) == (False, True, None)
    assert [(a.unit.name, a.role) for a in item.assignments] == [
        ("城关镇", "lead"), ("县交通运输局", "assist"), ("县水利局", "assist")]
    assert [p.name for p in item.leaders] == ["刘海涛"]
    assert item.created_by.name == "王敏"

    request = head.last
    assert "立项审批" in request.text and "城区主干道破损路面修复" in request.text
    assert request.buttons == ["同意", "退回"]
    async with h.db.session() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "items"))).all()
    assert "item.register" in actions and "item.submit" in actions


async def test_an_urgent_item_needs_a_follower_and_a_date_deadline_is_accepted(demo_county):
    c, h = demo_county, demo_county.h
    office = c.people["王敏"]
    await start_new(office, "防汛物资紧急调运")
    await office.tap("其他督查事项")
    await office.tap("紧急")
    await office.send("水利")
    await office.tap("县水利局")
    await office.tap("无协办单位，下一步")
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    assert office.last.buttons == []  # no default for an urgent item
    await office.send("3月13日")  # Friday: three days, so weekly feedback is off by default
    assert office.last.buttons == ["需要每周反馈", "不需要（默认）"]
    await office.tap("不需要（默认）")
    assert "专人跟踪" in office.last.text and office.last.buttons == ["王敏", "李强"]
    await office.forge_tap("new:fol:3")  # the office head is not office staff
    assert office.last_answer == "跟踪专人须为督查室工作人员"
    await office.tap("李强")
    await office.tap("陈志远")
    await office.tap("完成（已选1位）")
    assert "办结时限：2026-03-13" in office.last.text and "专人跟踪：李强" in office.last.text
    await office.tap("提交审批")
    assert "事项「防汛物资紧急调运」已登记（登记号1）" in office.last.text
    (item,) = await items_in(h.db)
    assert (item.importance, item.deadline_date.isoformat(), item.deadline_days) == ("urgent", "2026-03-13", None)
    assert (item.confidential, item.weekly_feedback, item.follower.name) == (False, False, "李强")
    request = c.people["赵建国"].last
    assert "防汛物资紧急调运" in request.text and request.buttons == ["同意", "退回"]


async def test_bad_input_is_explained_and_asked_again(demo_county):
    c, h = demo_county, demo_county.h
    office = c.people["王敏"]
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("长" * 101)
    assert "事项名称太长：最多100字，现有101字" in office.last.text and "请重新输入" in office.last.text
    await office.send("\u200b\u200b")  # looks empty
    assert "事项名称不能为空" in office.last.text
    await office.send_photo(b"\xff\xd8 photo")
    assert "请按提示输入文字或点选按钮" in office.last.text
    await office.send("  城区   主干道修复 ")
    await office.send("要" * 2001)
    assert "办理要求太长：最多2000字，现有2001字" in office.last.text
    await office.send("按要求修复。")
    await office.forge_tap("new:src:nonsense")
    assert office.last_answer == "无效的选择"
    await office.tap("县政府重大项目")
    await office.tap("一般")
    await office.send("不存在的单位")
    assert "没有名称包含「不存在的单位」的单位" in office.last.text
    async with h.db.session(Actor.system("test")) as s:
        s.add(Unit(name="县档案馆", kind="直属单位", created_at=h.clock.now()))
    await office.send("县")  # eleven units: ten buttons and a hint
    assert len(office.last.buttons) == 10 and "只显示前10个" in office.last.text
    await office.send("城关")
    await office.tap("城关镇")
    await office.tap("无协办单位，下一步")
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    for text, expected in {
        "0": "办结时限的工作日天数应为 1–250 的整数",
        "251个工作日": "办结时限的工作日天数应为 1–250 的整数",
        "2026-02-30": "日期「2026-02-30」不存在",
        "下周五": "日期「下周五」格式不对",
        "2026-03-10": "办结日期 2026-03-10 应晚于今天（2026-03-10）",
        "2031-01-01": "太远",
    }.items():
        await office.send(text)
        assert expected in office.last.text, (text, office.last.text)
    await office.send("5个工作日")
    await office.tap("不需要（默认）")
    await office.tap("孙丽")
    await office.tap("完成（已选1位）")
    assert "事项名称：城区 主干道修复" in office.last.text and "批准后5个工作日" in office.last.text
    await office.tap("提交审批")
    (item,) = await items_in(h.db)
    assert (item.title, item.deadline_days, item.state) == ("城区 主干道修复", 5, "pending")


async def test_cancel_works_at_any_step_and_keeps_nothing(demo_county):
    c, h = demo_county, demo_county.h
    office = c.people["王敏"]
    await start_new(office)
    await office.tap("其他督查事项")
    await office.send("/cancel")
    assert "已取消立项" in office.last.text
    await office.tap("一般", office.inbox[-2])  # a button of the cancelled dialog
    assert "此按钮已失效" in office.last_answer
    await office.send("城关")
    assert "请通过命令或按钮操作" in office.last.text
    await office.send("/cancel")
    assert office.last.text == "当前没有进行中的操作。"

    await start_new(office)
    await office.tap("其他督查事项")
    await office.tap("一般")
    await office.send("城关")
    await office.tap("城关镇")
    await office.tap("无协办单位，下一步")
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    await office.send("5")
    await office.tap("不需要（默认）")
    await office.tap("孙丽")
    await office.tap("完成（已选1位）")
    await office.tap("取消")
    assert "已取消立项" in office.last.text
    assert await items_in(h.db) == []
    async with h.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "items")) == 0


async def test_an_abandoned_dialog_times_out_politely(demo_county):
    c = demo_county
    office = c.people["王敏"]
    await start_new(office)
    assert await time_out_dialogs(c.h.app) == 1  # the dialog's TIMEOUT_SECONDS have passed
    await c.h.settle()
    assert "立项操作长时间未继续，已自动取消" in office.last.text and "/new" in office.last.text
    await office.send("城关")
    assert "请通过命令或按钮操作" in office.last.text
    assert await items_in(c.h.db) == []


async def test_only_office_staff_may_register(demo_county):
    c = demo_county
    for name in ("赵建国", "陈志远", c.liaison("城关镇").name, c.head("城关镇").name):
        person = c.people[name]
        await person.send("/new")
        assert "您没有权限使用 /new" in person.last.text
        await person.send("城区主干道破损路面修复")
        assert "请通过命令或按钮操作" in person.last.text
        assert "new" not in person.commands
    await c.people[c.liaison("城关镇").name].forge_tap("new:src:other")
    assert "此按钮已失效" in c.people[c.liaison("城关镇").name].last_answer
    assert await items_in(c.h.db) == []


async def test_a_draft_stays_when_there_is_no_office_head_to_submit_to(demo_county):
    c, h = demo_county, demo_county.h
    async with h.db.session() as s:
        (await s.get(type(c.row("赵建国")), c.row("赵建国").id)).active = False
    office = c.people["王敏"]
    await start_new(office)
    await office.tap("其他督查事项")
    await office.tap("一般")
    await office.send("城关镇")
    await office.tap("城关镇")
    await office.tap("无协办单位，下一步")
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    await office.send("5")
    await office.tap("不需要（默认）")
    await office.tap("孙丽")
    await office.tap("完成（已选1位）")
    await office.tap("提交审批")
    assert "已保存为草稿（登记号1）" in office.last.text and "尚未设置督查室负责人" in office.last.text
    (item,) = await items_in(h.db)
    assert item.state == "draft"
