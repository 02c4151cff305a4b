"""分工 per unit (issue 12 point 6, §4(五), §5(二)): each unit's own task and deadline asked for in
/new, and one unit's changed later with a reason; an item the office handles itself (督查室自办),
registered through /new or the domain, reported to the leader; the assisting units' contributions
beside the lead unit's 办结报告."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from bot.domain.dossier import dossier
from bot.kernel.clock import OFFICE_TZ
from bot.runtime.sweeps import run_due
from store.workflow import Assignment, Item

LEAD, ASSIST = "城关镇", "县交通运输局"


async def _shares(h) -> dict[str, tuple[str | None, date | None]]:
    async with h.db.session() as s:
        return {a.unit.name: (a.task, a.due_date) for a in (await s.scalars(select(Assignment))).all()}


async def test_the_office_changes_one_units_task_and_deadline_with_a_reason(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item(assists=(ASSIST,))
    office, head = c.people["王敏"], c.people["赵建国"]
    await office.send("/item 1")
    card = office.last
    await office.tap("变更分工", card)
    await office.send("交通")
    await office.tap(ASSIST)
    await office.send("负责施工期间交通疏导和绕行公告。")
    assert "另起一行写明变更理由" in office.last.text  # no reason: asked again
    await office.send("负责施工期间交通疏导和绕行公告。\n理由：县政府专题会议调整了分工")
    assert "变更单位分工申请已提交" in office.last.text
    request = head.newest("事项变更审批")
    assert "新的分工：负责施工期间交通疏导和绕行公告。" in request.text and "县政府专题会议调整了分工" in request.text
    await head.tap("同意变更", request)
    told = c.liaison(ASSIST).newest("变更单位分工")
    assert "新的分工：负责施工期间交通疏导和绕行公告。" in told.text
    assert all("变更单位分工" not in (m.text or "") for m in c.liaison(LEAD).inbox)  # only the unit affected

    await office.tap("变更单位时限", card)
    await office.send("交通")
    await office.tap(ASSIST)
    await office.send("2026-03-16 理由：交通疏导须先于施工完成")
    await head.tap("同意变更", head.newest("变更单位时限"))
    assert "该单位办结时限：原 2026-03-19，改为 2026-03-16" in c.liaison(ASSIST).newest("变更单位时限").text
    shares = await _shares(h)
    assert shares[ASSIST] == ("负责施工期间交通疏导和绕行公告。", date(2026, 3, 16))
    assert shares[LEAD] == (None, date(2026, 3, 19))

    # The unit's reminders carry its own 分工 and deadline (Thu 03-12: 2 working days left).
    when = datetime.combine(date(2026, 3, 12), time(9, 0), OFFICE_TZ)
    h.clock.set(when)
    await run_due(h.app.bot_data["services"], when)
    await h.settle()
    reminder = c.liaison(ASSIST).newest("督办提醒")
    assert "时限 2026-03-16" in reminder.text and "分工：负责施工期间交通疏导和绕行公告。" in reminder.text
    async with h.db.session() as s:
        labels = [e.label for e in (await dossier(s, 1)).entries]
    assert labels.count("变更单位分工") >= 1 or any("分工" in x for x in labels)


async def test_the_lead_report_shows_the_assisting_units_contribution(demo_county, demo_item):
    c = demo_county
    await demo_item(assists=(ASSIST,))
    office, lead, assist = c.people["王敏"], c.liaison(LEAD), c.liaison(ASSIST)
    await assist.tap("提交办结报告", assist.newest("督办通知单"))
    await assist.send("已完成施工期间交通疏导，发布绕行公告3次。")
    await assist.tap("完成")

    await lead.tap("提交办结报告", lead.newest("督办通知单"))
    assert "协办单位办理情况" in lead.last.text and "已完成施工期间交通疏导" in lead.last.text
    await lead.send("城区主干道破损路面已全部修复，交通局配合疏导。")
    await lead.tap("完成")
    review = office.newest("城区主干道破损路面已全部修复")
    assert "协办单位办理情况" in review.text and "县交通运输局（办结报告待审核）：已完成施工期间交通疏导" in review.text


async def test_the_office_reports_an_item_it_handles_itself_to_the_leader(demo_county):
    c, h = demo_county, demo_county.h
    from bot.domain import items as items_svc

    office, leader = c.people["王敏"], c.people["陈志远"]
    services = h.app.bot_data["services"]
    calendar, now = await services.calendar(), h.clock.now()
    async with h.db.session() as s:
        item = await items_svc.register_item(
            s, c.rows["王敏"], title="县政府督查工作制度修订", requirements="修订督查工作制度，报县政府审定。",
            source="other", importance="important", lead_unit_id=None, office_handled=True,
            leader_ids=[c.rows["陈志远"].id], calendar=calendar, now=now)
        await items_svc.submit_item(s, c.rows["王敏"], item.id, now=now)
        await items_svc.approve_item(s, c.rows["赵建国"], item.id, calendar=calendar, now=now)
    async with h.db.session() as s:
        item = await s.get(Item, 1)
        assert (item.office_handled, item.state, item.weekly_feedback, item.assignments) == (True, "in_progress", False, [])

    await office.send("/item 1")
    assert "本事项由督查室自办" in office.newest("立项已审批").text
    card = office.newest("督查室自办（不交办承办单位）")
    assert ["报送办理结果"] in card.button_rows
    assert "增加单位" not in card.buttons and "变更分工" not in card.buttons
    await office.tap("报送办理结果", card)
    await office.tap("完成")
    assert "还没有收到任何内容" in office.last.text  # bad input: asked again
    await office.send("制度已修订，报县政府常务会议审定通过。")
    await office.tap("完成")
    assert "办理结果已报送" in office.last.text
    request = leader.newest("办理结果请审阅")
    assert "督查室（自办）" in request.text and "制度已修订" in request.text and "督查室审核" not in request.text
    await leader.tap("同意", request)
    async with h.db.session() as s:
        assert (await s.get(Item, 1)).state == "closed"
        d = await dossier(s, 1)
    assert d.office_handled and "报送办理结果（督查室自办）" in [e.label for e in d.entries]


async def _new_until_units(office) -> None:
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("城区主干道破损路面修复")
    await office.send("修复城区主干道破损路面，报送修复前后照片。")
    await office.tap("县政府重要工作部署")
    await office.tap("重要")


async def test_each_unit_gets_its_own_task_and_deadline_from_new(demo_county):
    c, h = demo_county, demo_county.h
    office, head = c.people["王敏"], c.people["赵建国"]
    await _new_until_units(office)
    await office.send("城关")
    await office.tap(LEAD)
    await office.send("交通")
    await office.tap(ASSIST)
    await office.tap("完成（已选1个）")
    assert "为各单位分别填写分工吗" in office.last.text and office.last.buttons == ["逐个填写分工", "不需要，下一步"]
    await office.tap("逐个填写分工")
    assert "分工（1/2）" in office.last.text and "城关镇" in office.last.text and office.last.buttons == ["跳过此单位"]
    await office.send("牵头修复城区主干道破损路面，统筹报送验收材料。")
    assert "分工（2/2）" in office.last.text and ASSIST in office.last.text
    await office.send("负责施工期间交通疏导。\n时限：下个月")
    assert "请重新输入" in office.last.text  # bad input: asked again, nothing kept
    await office.send("负责施工期间交通疏导。\n时限：3个工作日")
    assert "办结时限" in office.last.text
    await office.tap("默认：7个工作日")
    await office.tap("需要每周反馈（默认）")
    await office.tap("陈志远")
    await office.tap("完成（已选1位）")
    summary = office.last
    assert "分工｜城关镇：牵头修复城区主干道破损路面" in summary.text
    assert "分工｜县交通运输局：负责施工期间交通疏导。（时限：批准后3个工作日）" in summary.text
    await office.tap("提交审批")
    await head.tap("同意", head.newest("立项审批"))

    # Tue 2026-03-10: 7 working days → 03-19 for the item, 3 → 03-13 for the assisting unit.
    assert await _shares(h) == {
        LEAD: ("牵头修复城区主干道破损路面，统筹报送验收材料。", date(2026, 3, 19)),
        ASSIST: ("负责施工期间交通疏导。", date(2026, 3, 13)),
    }
    notice = c.liaison(ASSIST).newest("督办通知单")
    assert "本单位分工：负责施工期间交通疏导。" in notice.text and "办结时限：2026-03-13" in notice.text
    assert "本单位分工：牵头修复" in c.liaison(LEAD).newest("督办通知单").text

    # The office's /item lists every unit's 分工; a unit sees its own only.
    await office.send("/item 1")
    assert "分工：牵头修复城区主干道" in office.last.text and "分工：负责施工期间交通疏导" in office.last.text
    liaison = c.liaison(ASSIST)
    await liaison.send("/item 1")
    assert "分工：负责施工期间交通疏导" in liaison.last.text and "分工：牵头修复" not in liaison.last.text

    async with h.db.session() as s:
        d = await dossier(s, 1)
    assert [(x.unit, x.task, x.due) for x in d.shares] == [
        (LEAD, "牵头修复城区主干道破损路面，统筹报送验收材料。", "2026-03-19"),
        (ASSIST, "负责施工期间交通疏导。", "2026-03-13"),
    ]


async def test_an_item_the_office_handles_itself_has_no_unit_and_goes_to_the_leader(demo_county):
    c, h = demo_county, demo_county.h
    office, head, leader = c.people["王敏"], c.people["赵建国"], c.people["陈志远"]
    await _new_until_units(office)
    assert "督查室自办（不交办单位）" in office.last.buttons
    await office.tap("督查室自办（不交办单位）")
    assert "办结时限" in office.last.text
    await office.tap("默认：7个工作日")
    await office.tap("不需要")
    await office.tap("陈志远")
    await office.tap("完成（已选1位）")
    assert "承办：督查室自办" in office.last.text
    await office.tap("提交审批")
    await head.tap("同意", head.newest("立项审批"))
    async with h.db.session() as s:
        item = await s.get(Item, 1)
        assert (item.office_handled, item.state, item.assignments) == (True, "in_progress", [])

    await office.send("/item 1")
    assert "督查室自办" in office.last.text
    await office.tap("报送办理结果", office.last)
    await office.send("已会同住建部门完成修复，验收合格。")
    await office.tap("完成")
    assert "办理结果已报送" in office.last.text
    request = leader.newest("办理结果请审阅")
    assert "督查室（自办）" in request.text and "已会同住建部门完成修复" in request.text
    await leader.tap("同意", request)
    async with h.db.session() as s:
        assert (await s.get(Item, 1)).state == "closed"
        d = await dossier(s, 1)
    assert d.office_handled and "报送办理结果（督查室自办）" in [e.label for e in d.entries]
