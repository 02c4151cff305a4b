"""The 督查工作情况报告 (issue 12 point 9, regulation §7(一), §5(六)) through the chat.

Office staff ask for a month's report (/report, a month button); the Word file comes back to them
and goes to the office head, who returns it with a reason or approves it; approved, it reaches
every county leader. Once a month the sweep builds last month's report by itself, once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from docx import Document
from sqlalchemy import select

from bot.domain import assignments as assignment_svc
from bot.runtime.sweeps import run_sweep
from store.report import UpwardReport
from store.workflow import Assignment, Item

LEADERS = ("陈志远", "刘海涛", "孙丽")


def document_text(path: str) -> str:
    doc = Document(path)
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


async def march_with_two_late_items(c, demo_item) -> None:
    """Two items given out on Tue 2026-03-10: the road (城关镇, 7 working days → 03-19) with a
    progress report, the bridge (县交通运输局, 3 working days → 03-13) with none. Nobody finishes."""
    await demo_item("城区主干道破损路面修复", lead="城关镇", days=7)
    await demo_item("危桥加固", lead="县交通运输局", days=3)
    async with c.h.db.session() as s:
        road = await s.scalar(select(Assignment).join(Item).where(Item.title == "城区主干道破损路面修复"))
        await assignment_svc.add_progress(s, c.rows[c.liaison("城关镇").name], road.id,
                                          text="已完成施工招标，因连续降雨推迟开工。", now=c.h.clock.now())
    c.h.clock.set(datetime(2026, 4, 1, 2, 0, tzinfo=UTC))  # Wed 2026-04-01 10:00 in Beijing


async def test_office_asks_for_a_report_the_head_returns_then_approves_and_leaders_receive_it(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    office, head = c.people["王敏"], c.people["赵建国"]
    await march_with_two_late_items(c, demo_item)

    # /report offers the months; last month first.
    await office.send("/report")
    assert "督查工作情况报告" in office.last.text
    assert office.last.buttons[:3] == ["2026年3月", "2026年4月", "2026年2月"]
    await office.tap("2026年3月")
    mine = office.last
    assert mine.document["file_name"] == "督查工作情况报告（2026年3月）.docx"
    assert "已送督查室负责人 1 人审核" in mine.text

    # The office head gets the file with the figures and 同意报送 / 退回.
    request = head.last
    assert request.document["file_name"] == "督查工作情况报告（2026年3月）.docx"
    assert "督查工作情况报告（2026年3月）待审核" in request.text and "由 王敏 生成" in request.text
    assert "本月立项 2 项，办结 0 项，月末在办 2 项" in request.text and "超期 2 项" in request.text
    assert request.buttons == ["同意报送", "退回"]

    async with h.db.session() as s:
        first = await s.scalar(select(UpwardReport))
    text = document_text(first.file_path)
    for expected in ("督查工作情况报告", "（2026年3月）", "本月新立项督查事项2项", "三、超期事项及原因",
                     "城区主干道破损路面修复", "最近反馈（2026-03-10）：已完成施工招标，因连续降雨推迟开工。",
                     "危桥加固", "未反馈办理情况", "县交通运输局（主办）", "2026-03-13", "12个工作日",
                     "四、通报情况", "本月未发布通报", "2026年度考核得分情况（截至目前）", "城关镇"):
        assert expected in text, expected

    # 退回 asks the reason; the office is told, with a button to build it again.
    await head.tap("退回", request)
    assert "请输入退回" in head.last.text
    await head.send("请补充超期事项的督办措施")
    assert "已退回督查工作情况报告（2026年3月）" in head.last.text
    returned = office.last
    assert "被 赵建国 退回" in returned.text and "退回理由：请补充超期事项的督办措施" in returned.text
    assert returned.buttons == ["重新生成2026年3月报告"]

    await office.tap("重新生成2026年3月报告", returned)
    second = head.last
    assert second.document is not None and second.message_id != request.message_id

    # The returned one cannot be approved any more; the new one can.
    await head.tap("同意报送", request)
    assert "该报告已由赵建国处理（已退回）" in head.last_answer
    await head.tap("同意报送", second)
    assert "已送县领导 3 人" in head.last.text
    for name in LEADERS:
        got = c.people[name].last
        assert got.document["file_name"] == "督查工作情况报告（2026年3月）.docx", name
        assert "经 赵建国 审核同意" in got.text and "按时办结率 —" in got.text
    assert "已由 赵建国 同意报送，已送县领导 3 人" in office.last.text

    # A second tap changes nothing and sends nothing twice.
    leader_messages = len(c.people["陈志远"].inbox)
    await head.forge_tap(f"rp:ok:{first.id + 1}", second)
    assert "已由赵建国处理（已同意报送）" in head.last_answer
    await h.settle()
    assert len(c.people["陈志远"].inbox) == leader_messages

    async with h.db.session() as s:
        rows = (await s.scalars(select(UpwardReport).order_by(UpwardReport.id))).all()
    assert [(r.period, r.state, r.reason) for r in rows] == [
        ("2026-03", "returned", "请补充超期事项的督办措施"), ("2026-03", "approved", None)]


async def test_who_may_ask_and_what_month(demo_county, demo_item):
    c = demo_county
    office, head, liaison, leader = c.people["王敏"], c.people["赵建国"], c.liaison("城关镇"), c.people["陈志远"]
    await liaison.send("/report")
    assert liaison.last.text == "您没有权限使用 /report。如有需要，请联系督查室。"
    await office.send("/report 2026-05")
    assert "2026年5月还没有开始" in office.inbox[-2].text and "用法：/report" in office.last.text
    await office.send("/report 十一月")
    assert "看不懂" in office.inbox[-2].text

    await office.send("/report 2026-02")  # an empty month still builds (on demand)
    request = head.last
    assert request.document is not None and "本月立项 0 项" in request.text
    # Only the office head decides: a leader's forged tap is refused, nothing changes.
    await leader.forge_tap("rp:ok:1")
    assert "没有权限" in leader.last_answer
    # Asking again for the same month supersedes the waiting one.
    await office.send("/report 2026年2月")
    await head.tap("同意报送", request)
    assert "已有更新的版本" in head.last_answer


async def test_the_monthly_report_is_built_once_on_the_first_working_day(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    head = c.people["赵建国"]
    await demo_item("城区主干道破损路面修复", lead="城关镇", days=7)
    services = h.app.bot_data["services"]

    # Tue 2026-03-31 (not the first working day of a month): nothing.
    h.clock.set(datetime(2026, 3, 31, 2, 0, tzinfo=UTC))
    before = len(head.inbox)
    await run_sweep(services, "monthly_report")
    await h.settle()
    assert len(head.inbox) == before

    # Wed 2026-04-01 09:00: the March report goes to the office head, once.
    h.clock.set(datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    result = await run_sweep(services, "monthly_report")
    await h.settle()
    assert result is not None and result.extra["period"] == "2026-03"
    assert head.last.document["file_name"] == "督查工作情况报告（2026年3月）.docx"
    assert "每月例行生成" in head.last.text
    assert await run_sweep(services, "monthly_report") is None  # not due again
    again = await run_sweep(services, "monthly_report", force=True)  # forced: the key holds
    await h.settle()
    assert again.messages == 0
    async with h.db.session() as s:
        assert [r.dedupe_key for r in (await s.scalars(select(UpwardReport))).all()] == ["monthly:2026-03"]

    # Approved by the office head: the office staff hear of it (nobody asked for this one).
    await head.tap("同意报送", head.last)
    assert "已同意报送" in head.last.text
    assert "已送县领导 3 人" in c.people["王敏"].last.text and "已送县领导 3 人" in c.people["李强"].last.text


async def test_an_unanswered_or_cancelled_return_leaves_the_report_waiting(demo_county):
    from tests.conftest import time_out_dialogs

    c = demo_county
    office, head = c.people["王敏"], c.people["赵建国"]
    await office.send("/report 2026-02")
    request = head.last
    await head.tap("退回", request)
    assert await time_out_dialogs(c.h.app) == 1  # the dialog's TIMEOUT_SECONDS have passed
    assert head.last.text == "⌛ 退回报告的操作已超时结束，报告仍待您审核。"
    await head.tap("退回", request)
    await head.send("/cancel")
    assert head.last.text == "已取消退回，报告仍待您审核。"
    await head.tap("同意报送", request)  # still pending: it can be approved
    assert "已送县领导 3 人" in head.last.text
