"""/new refuses a title without words and questions a deadline on a day off; prompts show an
example date that is never in the past (issue 12 point 10)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from store.workflow import Item
from tests.e2e.test_new_item import start_new


async def to_deadline(office) -> None:
    await start_new(office)
    await office.tap("县政府重要工作部署")
    await office.tap("一般")
    await office.send("城关")
    await office.tap("城关镇")
    await office.tap("无协办单位，下一步")
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)


async def test_a_title_of_punctuation_is_refused_and_asked_again(demo_county):
    office = demo_county.people["王敏"]
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("。")
    assert "事项名称要有文字，「。」不能作为事项名称" in office.last.text
    await office.send("城区主干道破损路面修复")
    assert "办理要求" in office.last.text


async def test_the_deadline_prompt_shows_next_months_last_working_day(demo_county):
    office = demo_county.people["王敏"]
    await to_deadline(office)  # today is Tue 2026-03-10
    assert "或具体日期（如“2026-04-30”）" in office.last.text
    demo_county.h.clock.advance(days=60)  # Sat 2026-05-09: May 31 is a Sunday
    await to_deadline(office)
    assert "或具体日期（如“2026-06-30”）" in office.last.text


async def test_a_saturday_deadline_is_questioned_and_moved_to_the_friday(demo_county):
    c = demo_county
    office = c.people["王敏"]
    await to_deadline(office)
    await office.send("2026-03-21")
    assert "2026-03-21 是星期六，不是工作日" in office.last.text
    assert office.last.buttons == ["改为 2026-03-20（星期五）", "仍用 2026-03-21"]
    await office.tap("改为 2026-03-20（星期五）")
    assert office.inbox[-2].text == "办结时限：2026-03-20"
    await office.tap("需要每周反馈（默认）")
    await office.tap("陈志远")
    await office.tap("完成（已选1位）")
    await office.tap("提交审批")
    async with c.h.db.session() as s:
        item = await s.scalar(select(Item))
    assert item.deadline_date == date(2026, 3, 20)


async def test_a_holiday_deadline_may_be_kept_knowingly(demo_county):
    c = demo_county
    office = c.people["王敏"]
    await to_deadline(office)
    await office.send("2026-04-05")
    assert "2026-04-05 是清明节，不是工作日" in office.last.text
    await office.tap("仍用 2026-04-05")
    assert office.inbox[-2].text == "办结时限：2026-04-05"
    assert office.last.buttons == ["需要每周反馈（默认）", "不需要"]
