"""分工 per unit and 督查室自办 through /new (issue 12 point 6, §4(五), §5(二)): each unit's own task
and deadline asked for in the dialog; an item the office handles itself, reported to the leader."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.domain.dossier import dossier
from store.workflow import Assignment, Item

LEAD, ASSIST = "城关镇", "县交通运输局"


def find(person, text: str):
    for m in reversed(person.inbox):
        if text in (m.text or ""):
            return m
    raise LookupError(f"{person.name} has no message containing {text!r}")


async def _shares(h) -> dict[str, tuple[str | None, date | None]]:
    async with h.db.session() as s:
        return {a.unit.name: (a.task, a.due_date) for a in (await s.scalars(select(Assignment))).all()}


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
    await head.tap("同意", find(head, "立项审批"))

    # Tue 2026-03-10: 7 working days → 03-19 for the item, 3 → 03-13 for the assisting unit.
    assert await _shares(h) == {
        LEAD: ("牵头修复城区主干道破损路面，统筹报送验收材料。", date(2026, 3, 19)),
        ASSIST: ("负责施工期间交通疏导。", date(2026, 3, 13)),
    }
    notice = find(c.liaison(ASSIST), "督办通知单")
    assert "本单位分工：负责施工期间交通疏导。" in notice.text and "办结时限：2026-03-13" in notice.text
    assert "本单位分工：牵头修复" in find(c.liaison(LEAD), "督办通知单").text

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
    await head.tap("同意", find(head, "立项审批"))
    async with h.db.session() as s:
        item = await s.get(Item, 1)
        assert (item.office_handled, item.state, item.assignments) == (True, "in_progress", [])

    await office.send("/item 1")
    assert "督查室自办" in office.last.text
    await office.tap("报送办理结果", office.last)
    await office.send("已会同住建部门完成修复，验收合格。")
    await office.tap("完成")
    assert "办理结果已报送" in office.last.text
    request = find(leader, "办理结果请审阅")
    assert "督查室（自办）" in request.text and "已会同住建部门完成修复" in request.text
    await leader.tap("同意", request)
    async with h.db.session() as s:
        assert (await s.get(Item, 1)).state == "closed"
        d = await dossier(s, 1)
    assert d.office_handled and "报送办理结果（督查室自办）" in [e.label for e in d.entries]
