"""The statistics workbook (/stats → 导出Excel): one sheet each by unit, by leader and by source,
written with the streaming writer (``bot.documents.xlsx``); definitions under each table."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from bot.documents.xlsx import Book, Column
from bot.domain.stats import KINDS, Stats

COLUMNS = (
    Column("名称", 26),
    Column("事项（件）", 10),
    Column("已办结", 9),
    Column("按时办结", 10),
    Column("超期办结", 10),
    Column("按时办结率（%）", 13),
    Column("在办", 8),
    Column("超期未办结", 11),
)
SHEETS = (("unit", "按承办单位"), ("leader", "按责任领导"), ("source", "按事项来源"))


def _notes(stats: Stats, kind: str, office_name: str) -> list[str]:
    unit = kind == "unit"
    return [
        f"{office_name}　{stats.year}年度督查事项统计（{KINDS[kind]}），截至{stats.today.isoformat()}",
        "按承办单位：每个单位的承办任务各计一次（转办的计入接办单位，无法协办的不计）"
        if unit
        else "每个事项计一次，以主办单位的办结日期和时限为准；一个事项有多位责任领导的，分别计入",
        "按时办结：办结报告提交日不晚于办结时限（批准延期后按新时限）；按时办结率 = 按时办结 / 已办结",
        "超期未办结：截至统计日已超过办结时限仍未办结",
    ]


def write_stats(stats: Stats, target: str | Path | BinaryIO, office_name: str) -> None:
    book = Book(target)
    try:
        for kind, title in SHEETS:
            sheet = book.sheet(title, COLUMNS)
            rows = stats.rows(kind)
            for r in rows:
                sheet.append(
                    (
                        r.name,
                        r.total,
                        r.done,
                        r.on_time,
                        r.late_done,
                        round(r.rate * 100, 1) if r.rate is not None else None,
                        r.open,
                        r.overdue_open,
                    )
                )
            if kind != "unit":
                t = stats.items
                sheet.append(
                    (
                        "合计（事项）",
                        t.total,
                        t.done,
                        t.on_time,
                        t.late_done,
                        round(t.rate * 100, 1) if t.rate is not None else None,
                        t.open,
                        t.overdue_open,
                    )
                )
            sheet.notes(_notes(stats, kind, office_name))
    except BaseException:
        book.abort()
        raise
    book.close()
