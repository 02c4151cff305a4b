"""The 督查工作情况报告 as a Word file, and building one: on demand (/report) and once a month.

``report_docx`` lays out ``bot.domain.report.ReportData``; ``build_report`` stores the file under
``files_dir/documents/reports/<YYYY-MM>/`` and hands it to ``bot.domain.report.submit_report``
(which queues it, through the outbox, to the office head). ``monthly_report_sweep`` is the sweep
(``bot.runtime.sweeps``): on the month's first working day it builds last month's report once
(``dedupe_key`` "monthly:YYYY-MM" — a second run, or a second instance, builds nothing).

No telegram here.
"""

from __future__ import annotations

import copy
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.documents.word import FONT, TITLE_FONT, _bytes, _new_document, _paragraph
from bot.domain.attachments import write_atomically
from bot.domain.report import (
    Period,
    ReportData,
    first_working_day,
    report_data,
    submit_report,
)
from bot.domain.urging import SweepResult
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import local_date
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.config import Settings
from store.models import Person
from store.report import UpwardReport

MAX_ROWS = 200  # rows per table in the document; more are counted, not listed
CELL_STYLE = "报告表格"


def _heading(doc, text: str) -> None:  # noqa: ANN001
    _paragraph(doc, text, size=14, bold=True, font=TITLE_FONT)


def _capped(rows: list[tuple], doc, total: int | None = None) -> list[tuple]:  # noqa: ANN001
    """At most MAX_ROWS rows; ``total`` is how many there are in all (the domain lists only the first)."""
    total = len(rows) if total is None else total
    if total > min(len(rows), MAX_ROWS):
        _paragraph(doc, f"共{total}项，以下列出前{min(len(rows), MAX_ROWS)}项。", size=10.5)
    return rows[:MAX_ROWS]


def _table(doc, header: tuple[str, ...] | None, rows: list[tuple], widths: tuple[float, ...]) -> None:  # noqa: ANN001
    """As ``bot.documents.word._table``, fast for long tables: one row is laid out (widths, the
    cell style, a run) and copied for every row, its texts then set. python-docx's own way finds a
    row's cells by walking the whole table and sets each run's font element by element: about a
    millisecond a cell, seconds for a county's overdue list."""
    table = doc.add_table(rows=1, cols=len(widths))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    style_id = _cell_style(doc).style_id
    for c, cell in enumerate(table.rows[0].cells):
        cell.width = Cm(widths[c])
        paragraph = cell.paragraphs[0]
        paragraph._p.style = style_id  # noqa: SLF001
        paragraph.add_run("-")
    template = table.rows[0]._tr  # noqa: SLF001
    tbl = table._tbl  # noqa: SLF001
    tbl.remove(template)
    for r, values in enumerate([header, *rows] if header else rows):
        tr = copy.deepcopy(template)
        for t, value in zip(tr.iter(qn("w:t")), values, strict=True):
            t.text = "" if value is None else str(value)
        if header and r == 0:
            for run in tr.iter(qn("w:r")):
                rpr = OxmlElement("w:rPr")
                rpr.append(OxmlElement("w:b"))
                run.insert(0, rpr)
        tbl.append(tr)


def _cell_style(doc):  # noqa: ANN001, ANN202
    """A paragraph style for table cells: 宋体 10.5 pt (made once per document)."""
    if CELL_STYLE in [s.name for s in doc.styles]:
        return doc.styles[CELL_STYLE]
    style = doc.styles.add_style(CELL_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    style.font.name = FONT
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return style


def report_docx(d: ReportData, *, office_name: str) -> bytes:
    """The report: totals, on-time rates, overdue shares with reasons, bulletins, scores so far."""
    doc = _new_document()
    _paragraph(doc, office_name, size=16, bold=True, font=TITLE_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "督查工作情况报告", size=22, bold=True, font=TITLE_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, f"（{d.period.label}）", size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "县人民政府：", size=12)
    _paragraph(
        doc,
        f"　　根据《关于进一步加强政务督查工作的通知》第七条（一）的规定，现将{d.period.label}全县政务"
        f"督查工作情况报告如下（数据截至{d.as_of.isoformat()}，由督办系统记录生成）。",
        size=12,
    )
    for note in d.notes:
        _paragraph(doc, f"　　说明：{note}", size=10.5)

    _heading(doc, "一、总体情况")
    _paragraph(
        doc,
        f"　　本月新立项督查事项{d.new_items}项，办结{d.closed_items}项，月末仍在办理{d.open_items}项；"
        f"本年累计立项{d.year_new}项，累计办结{d.year_closed}项。本月开展电话督查{d.phone_records}次、"
        f"实地督查{d.onsite_records}次（其中暗访{d.unannounced}次），发布通报{len(d.bulletins)}次。",
    )
    rows: list[tuple[str, ...]] = [(s.source, str(s.new), str(s.closed), str(s.open)) for s in d.by_source]
    _table(doc, ("事项来源", "本月立项", "本月办结", "月末在办"), rows, (7.0, 2.9, 2.9, 3.0))

    _heading(doc, "二、按时办结情况")
    _paragraph(
        doc,
        f"　　本月各承办单位办结承办事项{d.month_rate.finished}项，其中按时办结{d.month_rate.on_time}项，"
        f"按时办结率{d.month_rate.percent}；本年累计办结{d.year_rate.finished}项，按时办结率"
        f"{d.year_rate.percent}。（以办结报告报送日计，与考核口径一致。）",
    )
    if d.units:
        rows = [(u.unit, str(u.finished), str(u.on_time), u.rate, str(u.overdue)) for u in d.units]
        _table(
            doc,
            ("承办单位", "本月办结", "按时办结", "按时办结率", "月末超期"),
            _capped(rows, doc),
            (5.4, 2.5, 2.5, 2.8, 2.6),
        )
    else:
        _paragraph(doc, "　　本月无承办单位办结或超期事项。")

    _heading(doc, "三、超期事项及原因")
    if d.overdue:
        rows = [
            (o.label, o.title, f"{o.unit}（{o.role}）", o.due.isoformat(), f"{o.days_over}个工作日", o.reason)
            for o in d.overdue
        ]
        _table(
            doc,
            ("编号", "事项", "承办单位", "办结时限", "超期", "原因（据记录）"),
            _capped(rows, doc, d.overdue_count),
            (2.6, 3.2, 2.8, 2.2, 1.8, 3.2),
        )
    else:
        _paragraph(doc, "　　月末无超期未办结事项。")
    if d.late_finished:
        _paragraph(doc, "　　本月超期办结的事项：", size=12)
        rows = [
            (
                o.label,
                o.title,
                f"{o.unit}（{o.role}）",
                o.due.isoformat(),
                f"{o.days_over}个工作日",
                o.finished.isoformat() if o.finished else "",
            )
            for o in d.late_finished
        ]
        _table(
            doc,
            ("编号", "事项", "承办单位", "办结时限", "超期", "办结日期"),
            _capped(rows, doc, d.late_count),
            (2.6, 3.6, 3.0, 2.2, 2.0, 2.4),
        )

    _heading(doc, "四、通报情况")
    if d.bulletins:
        rows = [(b.day.isoformat(), b.kind, b.unit, b.label, b.text) for b in d.bulletins]
        _table(doc, ("日期", "类别", "单位", "事项", "通报内容"), _capped(rows, doc), (2.3, 1.4, 2.8, 2.8, 6.5))
    else:
        _paragraph(doc, "　　本月未发布通报。")

    _heading(doc, f"五、{d.period.year}年度考核得分情况（{'已审定' if d.scores_frozen else '截至目前'}）")
    if d.scores:
        rows = [
            (
                str(s.rank),
                s.unit + ("（取消评优资格）" if s.disqualified else ""),
                s.score,
                f"+{s.bonus}" if s.bonus else "0",
                str(s.deduction) if s.deduction else "0",
            )
            for s in d.scores
        ]
        _table(doc, ("名次", "单位", "得分", "加分", "扣分"), _capped(rows, doc), (1.6, 6.8, 2.4, 2.4, 2.6))
        if d.score_average:
            _paragraph(doc, f"　　承办单位平均分{d.score_average}分（未承办事项的单位按平均分计，第八条）。", size=10.5)
    else:
        _paragraph(doc, "　　暂无考核数据。")

    _paragraph(doc, "")
    _paragraph(doc, office_name, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, d.generated_at.astimezone(OFFICE_TZ).strftime("%Y年%m月%d日"), align=WD_ALIGN_PARAGRAPH.RIGHT)
    return _bytes(doc)


def report_path(files_dir: str | os.PathLike[str], period: Period, now: datetime) -> Path:
    """``files_dir/documents/reports/2026-11/20261201-093000-督查工作情况报告.docx``: one file per build."""
    stamp = now.astimezone(OFFICE_TZ).strftime("%Y%m%d-%H%M%S-%f")
    return Path(files_dir) / "documents" / "reports" / period.key / f"{stamp}-督查工作情况报告.docx"


async def build_report(
    session: AsyncSession,
    period: Period,
    calendar: WorkCalendar,
    settings: Settings,
    *,
    requested_by: Person | None,
    now: datetime,
    dedupe_key: str | None = None,
    unless_empty: bool = False,
) -> tuple[ReportData, UpwardReport | None]:
    """Build the month's report, keep the file, send it to the office head(s) for approval.
    ``unless_empty``: a month without a single item, bulletin or open share builds nothing."""
    data = await report_data(session, period, calendar, now)
    if unless_empty and not (data.new_items or data.closed_items or data.open_items or data.bulletins):
        return data, None
    path = write_atomically(
        report_path(settings.storage.files_dir, period, now), report_docx(data, office_name=settings.office.name)
    )
    row = await submit_report(session, data, path=str(path), requested_by=requested_by, now=now, dedupe_key=dedupe_key)
    if row is None:  # built twice by a repeated sweep: keep no orphan file
        path.unlink(missing_ok=True)
    return data, row


def monthly_period(calendar: WorkCalendar, today: date) -> Period:
    """The month whose report is due by ``today``: the one before the latest month whose first
    working day has come."""
    month = Period.of(today)
    if today < first_working_day(calendar, month):
        month = month.previous()
    return month.previous()


def latest_monthly(calendar: WorkCalendar, settings: Settings, now: datetime) -> datetime:
    """The sweep's schedule: the latest month's first working day at ``[reminders] round_time``."""
    today = local_date(now)
    month = Period.of(today)
    for _ in range(2):
        day = first_working_day(calendar, month)
        at = datetime.combine(day, settings.reminders.round_time, tzinfo=OFFICE_TZ)
        if at <= now:
            return at
        month = month.previous()
    return at - timedelta(days=31)


async def monthly_report_sweep(
    session: AsyncSession, calendar: WorkCalendar, now: datetime, settings: Settings
) -> SweepResult:
    """Last month's report, built once and sent to the office head (idempotent in ``now``)."""
    period = monthly_period(calendar, local_date(now))
    result = SweepResult("monthly_report")
    result.extra["period"] = period.key
    key = f"monthly:{period.key}"
    if await session.scalar(select(UpwardReport.id).where(UpwardReport.dedupe_key == key)) is not None:
        return result  # built before (a sweep run again after a restart): not read a second time
    # A county with no items yet (a fresh install) gets no empty report.
    _data, row = await build_report(
        session,
        period,
        calendar,
        settings,
        requested_by=None,
        now=now,
        dedupe_key=key,
        unless_empty=True,
    )
    if row is not None:
        result.messages += 1
        result.extra["report_id"] = row.id
    return result
