"""The figures of the 督查工作情况报告 (bot.domain.report), from the records, and the Word file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from docx import Document

from bot.documents.report import monthly_period, report_docx
from bot.domain import assignments as assignment_svc
from bot.domain.errors import DomainError
from bot.domain.records import issue_bulletin
from bot.domain.report import Period, parse_period, recent_periods, report_data
from bot.domain.workflow import DeadlineSpec
from bot.kernel.clock import OFFICE_TZ
from tests.unit.test_workflow_support import CAL, make_world, register


def at(day: date, hh: int = 10) -> datetime:
    return datetime.combine(day, time(hh), tzinfo=OFFICE_TZ).astimezone(UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03", Period(2026, 3)), ("2026年3月", Period(2026, 3)), ("202603", Period(2026, 3)),
    ("3月", Period(2026, 3)), ("11月", Period(2025, 11)), ("2026/4", Period(2026, 4)),
])
def test_months_as_typed(text, expected):
    assert parse_period(text, date(2026, 4, 2)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("2026-05", "2026年5月还没有开始"), ("2026-13", "不存在"), ("上个月", "看不懂"), ("1999-12", "太早了"),
])
def test_bad_months_are_explained(text, message):
    with pytest.raises(DomainError, match=message):
        parse_period(text, date(2026, 4, 2))


def test_month_buttons_and_the_monthly_period():
    assert [p.key for p in recent_periods(date(2026, 1, 15))] == [
        "2025-12", "2026-01", "2025-11", "2025-10", "2025-09", "2025-08"]
    assert monthly_period(CAL, date(2026, 4, 1)) == Period(2026, 3)  # Wed: the first working day
    assert monthly_period(CAL, date(2026, 10, 5)) == Period(2026, 8)  # 国庆: October's has not come
    assert monthly_period(CAL, date(2026, 10, 9)) == Period(2026, 9)


async def test_a_month_in_figures(db, clock):
    w = await make_world(db, clock.now())  # Tue 2026-03-10
    road = await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.working_days(7))  # → 03-19
    secret = await register(db, w, clock.now(), approve=True, title="不宜公开的事项", confidential=True,
                            lead_unit_id=w.unit("other").id, assisting_unit_ids=[],
                            deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    shares = {a.unit.name: a.id for a in road.assignments}
    async with db.session() as s:  # the lead unit on time, one assisting unit late, the other silent
        await assignment_svc.submit_report(s, w.lead_liaison, shares["城关镇"], text="已修复完毕。",
                                           now=at(date(2026, 3, 18)))
        await assignment_svc.submit_report(s, w.a1_liaison, shares["县交通运输局"], text="配合完成交通疏导。",
                                           now=at(date(2026, 3, 25)))
        await assignment_svc.add_progress(s, w.a2_liaison, shares["县住建局"], text="材料采购中，预计4月中旬完成。",
                                          now=at(date(2026, 3, 20)))
        await issue_bulletin(s, w.office, item_id=secret.id, unit_id=w.unit("other").id, kind="criticism",
                             rule_code="criticism.other", text="逾期未办，予以通报批评。", office_name="测试县督查室",
                             now=at(date(2026, 3, 20)))

    async with db.session() as s:
        d = await report_data(s, Period(2026, 3), CAL, at(date(2026, 4, 2)))
    assert (d.new_items, d.closed_items, d.open_items, d.year_new) == (2, 0, 2, 2)
    assert (d.month_rate.finished, d.month_rate.on_time, d.month_rate.percent) == (2, 1, "50%")
    assert [(u.unit, u.finished, u.on_time, u.overdue) for u in d.units] == [
        ("县住建局", 0, 0, 1), ("县财政局", 0, 0, 1), ("县交通运输局", 1, 0, 0), ("城关镇", 1, 1, 0)]
    assert [(o.label, o.title, o.unit, o.days_over, o.reason) for o in d.overdue] == [
        ("督字〔2026〕2号", "涉密事项", "县财政局", 12, "未反馈办理情况"),
        ("督字〔2026〕1号", "城区主干道破损路面修复", "县住建局", 8,
         "最近反馈（2026-03-20）：材料采购中，预计4月中旬完成。"),
    ]
    assert [(o.unit, o.days_over, o.finished) for o in d.late_finished] == [("县交通运输局", 4, date(2026, 3, 25))]
    assert [(b.kind, b.unit, b.label, b.text) for b in d.bulletins] == [("批评", "县财政局", "督字〔2026〕2号", "")]
    assert next(s for s in d.scores if s.unit == "县财政局").deduction == -5
    assert d.notes == [] and d.complete

    text = "\n".join(c.text for t in Document(__import__("io").BytesIO(report_docx(d, office_name="测试县督查室")))
                     .tables for r in t.rows for c in r.cells)
    assert "不宜公开的事项" not in text and "逾期未办" not in text  # a confidential item: its number only
    assert "涉密事项" in text and "配合完成交通疏导" not in text

    async with db.session() as s:  # the current month, as far as it went
        now = await report_data(s, Period(2026, 4), CAL, at(date(2026, 4, 2)))
    assert now.notes == ["2026年4月尚未结束，数据截至2026-04-02。"] and not now.complete


async def test_only_the_longest_overdue_are_listed_and_all_are_counted(db, clock, monkeypatch):
    """A city's report names the worst cases (report.LISTED of them) and counts the rest."""
    from bot.domain import report as report_module

    w = await make_world(db, clock.now())  # Tue 2026-03-10
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 20)))
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    monkeypatch.setattr(report_module, "LISTED", 2)
    async with db.session() as s:
        d = await report_data(s, Period(2026, 3), CAL, at(date(2026, 4, 2)))
    assert d.overdue_count == 6 and len(d.overdue) == 2  # two items, three units each, nobody done
    assert [o.due for o in d.overdue] == [date(2026, 3, 13)] * 2  # the longest overdue come first
    assert d.summary()["overdue"] == 6
    paragraphs = [p.text for p in Document(__import__("io").BytesIO(report_docx(d, office_name="测试县督查室"))).paragraphs]
    assert "共6项，以下列出前2项。" in paragraphs


async def test_the_report_names_no_share_in_its_statements(db, clock, monkeypatch):
    """A county's report reads 100,000s of shares: none of its statements lists them one by one
    (an IN list of every share's id was kept compiled, tens of MB, after the report ran). Beyond
    the few it lists (report.LISTED), the parameters of its statements do not grow with the shares."""
    from sqlalchemy import event

    from bot.domain import report as report_module

    monkeypatch.setattr(report_module, "LISTED", 2)
    w = await make_world(db, clock.now())
    params: list[int] = []

    def count(_conn, _cursor, _statement, parameters, _context, _many) -> None:  # noqa: ANN001
        params.append(len(parameters) if isinstance(parameters, (list, tuple, dict)) else 0)

    async def parameters() -> tuple[int, list[int]]:
        params.clear()
        for engine in db.sync_engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            async with db.session() as s:
                d = await report_data(s, Period(2026, 3), CAL, at(date(2026, 4, 2)))
        finally:
            for engine in db.sync_engines:
                event.remove(engine, "before_cursor_execute", count)
        return d.overdue_count, sorted(params)

    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 20)))
    few, with_few = await parameters()
    for _ in range(4):
        await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 20)))
    many, with_many = await parameters()
    assert (few, many) == (3, 15)  # three units share each item
    assert with_many == with_few  # the same statements, each with as many parameters
