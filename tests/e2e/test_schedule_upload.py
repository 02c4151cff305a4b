"""The office loads a year's holiday schedule by sending the file in the chat (issue 12 point 10):
a preview first (with a warning for the fictional example), then 载入 — the same load as
``python -m bot workdays load``: the year is known at once, provisional deadlines are recounted
and the units told."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from store.workflow import Assignment

EXAMPLE = (Path(__file__).resolve().parents[2] / "docs/schedule-example-2027.toml").read_bytes()
REAL = EXAMPLE.replace(b"example = true\n", b"").replace("示例，非官方通知".encode(), "国办发明电〔2026〕7号".encode())


async def test_office_uploads_a_schedule_previews_it_and_loads_it(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    office, liaison = c.people["王敏"], c.liaison("城关镇")
    services = h.app.bot_data["services"]
    h.clock.set(datetime(2026, 12, 21, 2, 0, tzinfo=UTC))  # Mon 2026-12-21: 10 working days reach into 2027
    item_id = await demo_item("冬季供暖保障", lead="城关镇", days=10)
    async with h.db.session() as s:
        a = await s.scalar(select(Assignment).where(Assignment.item_id == item_id))
    assert a.due_provisional and a.due_date == date(2027, 1, 4)  # weekends only in 2027

    await office.send_document(REAL, filename="2027年放假安排.toml")
    preview = office.last
    assert "放假安排文件：2027年放假安排.toml" in preview.text
    assert "2027年放假安排：放假" in preview.text and "元旦 3 天" in preview.text
    assert "来源：国办发明电〔2026〕7号" in preview.text and "示例文件" not in preview.text
    assert preview.buttons == ["载入", "取消"]
    assert not (await services.calendar()).knows(2027)  # nothing loaded before 载入

    await office.tap("载入", preview)
    assert office.last_answer == "已载入"
    assert "已载入2027年放假安排" in office.last.text and "已重新计算 2 个暂定期限，并通知相关单位" in office.last.text  # the item's and the unit's
    assert preview.buttons == []
    assert (await services.calendar()).knows(2027)  # at once, no minute's wait
    async with h.db.session() as s:
        a = await s.get(Assignment, a.id, populate_existing=True)
    assert not a.due_provisional and a.due_date == date(2027, 1, 5)  # 2027-01-01..03 off
    assert "放假安排已公布，期限重新计算" in liaison.last.text and "2027-01-05" in liaison.last.text


async def test_the_example_file_is_announced_as_fictional(demo_county):
    office = demo_county.people["王敏"]
    await office.send_document(EXAMPLE, filename="schedule-example-2027.toml")
    assert "这是示例文件" in office.last.text and "日期是虚构的" in office.last.text
    await office.tap("载入")
    assert "已载入2027年放假安排" in office.last.text and "载入的是示例文件" in office.last.text


async def test_a_bad_file_is_refused_with_the_reason_and_cancel_loads_nothing(demo_county):
    c = demo_county
    office, liaison = c.people["王敏"], c.liaison("城关镇")
    services = c.h.app.bot_data["services"]
    await office.send_document('year = 2027\n[holidays]\n"春节" = ["2027-02-30"]\n'.encode(), filename="2027.toml")
    assert "文件 2027.toml 未载入" in office.last.text and "2027-02-30" in office.last.text
    assert office.last.buttons == []
    await office.send_document(b"year = [2027\n", filename="broken.toml")
    assert "不是有效的 TOML 格式（文件末尾：列表的方括号 ] 没有闭合）" in office.last.text

    await office.send_document(REAL, filename="2027.toml")
    await office.tap("取消")
    assert office.last.text == "已取消，未载入放假安排。"
    assert not (await services.calendar()).knows(2027)

    await liaison.send_document(REAL, filename="2027.toml")
    assert liaison.last.text == "您没有权限使用 载入放假安排。如有需要，请联系督查室。"
