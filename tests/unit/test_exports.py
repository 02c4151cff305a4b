"""The Excel exports, opened again with openpyxl: the score table and the item ledger, and the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_workflow_support import CAL, make_world, register

from bot.documents import excel as exports
from bot.__main__ import main
from bot.domain import assignments as asg
from bot.domain import review
from bot.domain.errors import DomainError
from bot.domain.ledger import score_table
from bot.domain.records import issue_bulletin
from bot.domain.score import add_manual_event, record_event
from bot.domain.workflow import DeadlineSpec
from bot.documents.excel import (
    ITEM_COLUMNS,
    ExportJob,
    check_export,
    export_off_loop,
    export_path,
    items_workbook,
    parse_date,
    scores_workbook,
)
from bot.documents.xlsx import Book, Column
from store.score import ScoreYear

OFFICE = "固镇县人民政府督查室"


def at(m: int, d: int, hour: int = 2) -> datetime:
    return datetime(2026, m, d, hour, tzinfo=UTC)


def share(item, unit) -> int:
    return next(a.id for a in item.assignments if a.unit_id == unit.id)


async def scenario(db, clock):
    """An important item (lead 城关镇, due 03-19) finished late on 03-25 after two progress reports;
    a confidential NPC proposal of 县水利局 still open; a bulletin, a late feedback, a fraud event."""
    clock.set(at(3, 10))
    w = await make_world(db, clock.now())
    cg, water = w.unit("lead"), w.unit("water")
    road = await register(db, w, clock.now(), approve=True)
    secret = await register(db, w, clock.now(), approve=True, title="涉密管网改造", source="proposal",
                            importance="normal", deadline=DeadlineSpec.on_date(date(2026, 3, 31)), confidential=True,
                            lead_unit_id=water.id, assisting_unit_ids=[])
    lead = share(road, cg)
    for day, text in ((12, "东段已开工。"), (18, "东段完工。")):
        clock.set(at(3, day))
        async with db.session() as s:
            await asg.add_progress(s, w.lead_liaison, lead, text=text, now=clock.now())
    clock.set(at(3, 25))
    async with db.session() as s:
        report = await asg.submit_report(s, w.lead_liaison, lead, text="全部修复完成。", now=clock.now())
    async with db.session() as s:
        await review.approve_report(s, w.office, report.id, now=clock.now())
        await issue_bulletin(s, w.office, item_id=road.id, unit_id=cg.id, kind="criticism",
                             rule_code="criticism.decision", text="进度滞后。", office_name=OFFICE, now=clock.now())
        await record_event(s, year=2026, unit_id=cg.id, rule_code="late_feedback", reason="第12周未反馈",
                           now=clock.now(), item_id=road.id, automatic=True, dedupe_key="fb:1")
        await add_manual_event(s, w.office, unit_id=water.id, rule_code="fraud", item_id=secret.id,
                               reason="虚报涉密工程进度", now=clock.now())
    return w, road, secret


def cells(ws, row: int) -> list:
    return [c.value for c in ws[row]]


async def test_the_item_ledger(db, clock):
    w, road, secret = await scenario(db, clock)
    async with db.session() as s:
        data = await items_workbook(s, date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 4, 1), calendar=CAL,
                                    office_name=OFFICE)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["督办台账"]
    ws = wb["督办台账"]
    assert cells(ws, 1) == [c.title for c in ITEM_COLUMNS] and cells(ws, 1)[:3] == ["事项编号", "事项名称", "事项来源"]
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["B"].width == 32 and ws.column_dimensions["E"].width == 22
    assert all(c.font.bold for c in ws[1])
    rows = {(r[0], r[4]): dict(zip(cells(ws, 1), r)) for r in ws.iter_rows(min_row=2, max_row=5, values_only=True)}
    lead = rows[("督字〔2026〕1号", "城关镇")]
    assert lead["事项名称"] == "城区主干道破损路面修复" and lead["承办方式"] == "主办" and lead["重要程度"] == "重要"
    assert lead["交办日期"] == datetime(2026, 3, 10) and lead["办结时限"] == datetime(2026, 3, 19)
    assert lead["办结日期"] == datetime(2026, 3, 25) and lead["承办状态"] == "已办结"
    # finished Wed 03-25, due Thu 03-19: Fri, Mon, Tue, Wed = 4 working days late; two progress reports
    assert (lead["超期工作日"], lead["反馈次数"], lead["退回重办次数"]) == (4, 2, 0)
    assist = rows[("督字〔2026〕1号", "县交通运输局")]
    assert assist["办结日期"] is None and assist["签收日期"] is None and assist["承办状态"] == "待签收"
    assert assist["超期工作日"] == 9 and assist["反馈次数"] == 0  # still open on 04-01: 03-20 … 04-01
    hidden = rows[("督字〔2026〕2号", "县水利局")]
    assert hidden["事项名称"] == "（涉密事项）" and hidden["事项来源"] == "人大代表建议、政协委员提案"
    assert hidden["超期工作日"] == 1  # due Tue 03-31, still open Wed 04-01
    assert ws.cell(2, 7).number_format == "yyyy-mm-dd"
    assert len(rows) == 4 and ws.cell(6, 1).value is None
    notes = [ws.cell(r, 1).value for r in range(7, ws.max_row + 1)]
    assert notes[0] == f"{OFFICE}　督办事项台账　2026-01-01至2026-12-31" and "共2个事项、4条承办记录" in notes[1]
    assert "涉密管网改造" not in str(list(ws.values))

    # A range before anything was assigned, or backwards: refused, nothing produced.
    async with db.session() as s:
        with pytest.raises(DomainError, match="2025-01-01至2025-12-31期间没有督查事项"):
            await items_workbook(s, date(2025, 1, 1), date(2025, 12, 31), today=date(2026, 4, 1), calendar=CAL,
                                 office_name=OFFICE)
        with pytest.raises(DomainError, match="结束日期 2026-01-01 早于开始日期"):
            await items_workbook(s, date(2026, 3, 1), date(2026, 1, 1), today=date(2026, 4, 1), calendar=CAL,
                                 office_name=OFFICE)
    assert parse_date("2026年3月1日") == date(2026, 3, 1)
    with pytest.raises(DomainError, match="格式不对"):
        parse_date("2026-02-30")


async def test_the_score_table(db, clock):
    w, road, secret = await scenario(db, clock)
    async with db.session() as s:
        data = await scores_workbook(s, 2026, today=date(2026, 4, 1), office_name=OFFICE)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["考核汇总", "考核明细", "待结算扣分"]
    table = wb["考核汇总"]
    assert cells(table, 1) == ["排名", "单位", "得分", "加分", "扣分", "考核记录（条）", "当年承办督办事项", "评先评优资格", "备注"]
    assert table.freeze_panes == "A2" and table.column_dimensions["B"].width == 26
    body = [r for r in table.iter_rows(min_row=2, max_row=6, values_only=True)]
    # handled: 城关镇 93, 交通 100, 住建 100, 水利 100 (disqualified); 财政 handled nothing → (93+300)/4 = 98.25
    assert body == [
        (1, "县交通运输局", 100, 0, 0, 0, "是", "保留", None),
        (1, "县住建局", 100, 0, 0, 0, "是", "保留", None),
        (1, "县水利局", 100, 0, 0, 1, "是", "取消", None),
        (4, "县财政局", 98.25, 0, 0, 0, "否", "保留", "当年未承办督办事项，按平均分98.25计"),
        (5, "城关镇", 93, 0, -7, 2, "是", "保留", None),
    ]
    notes = [table.cell(r, 1).value for r in range(8, table.max_row + 1)]
    assert notes[:2] == [f"{OFFICE}　2026年度政务督查工作考核", "状态：尚未审定，分数随考核记录变化"]
    assert "另有超期未办结待结算扣分1项（合计−2分）" in notes[2] and "承办单位平均分：98.25" in notes

    events = wb["考核明细"]
    assert cells(events, 1)[:6] == ["记录号", "记录日期", "单位", "考核规则", "条款", "分值"]
    rows = [r for r in events.iter_rows(min_row=2, values_only=True)]
    assert [(r[2], r[5], r[6]) for r in rows] == [("城关镇", -5, "督字〔2026〕1号"), ("城关镇", -2, "督字〔2026〕1号"),
                                                  ("县水利局", 0, "督字〔2026〕2号")]
    assert rows[0][1] == datetime(2026, 3, 25) and events.cell(2, 2).number_format == "yyyy-mm-dd"
    assert rows[0][7] == "城区主干道破损路面修复" and rows[0][9] == "自动" and rows[2][9] == "人工"
    assert rows[2][7] == rows[2][8] == "（涉密事项）"  # neither the title nor the reason of a confidential item
    pending = wb["待结算扣分"]
    assert [r for r in pending.iter_rows(min_row=2, values_only=True)] == [
        ("县水利局", "督字〔2026〕2号", "主办", datetime(2026, 3, 31), "人大建议、政协提案未按时办结（主办）", -2)]

    async with db.session() as s:
        with pytest.raises(DomainError, match="2025年度没有考核记录"):
            await scores_workbook(s, 2025, today=date(2026, 4, 1), office_name=OFFICE)


async def run_cli(capsys, config: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m bot export ...`` in-process; in a thread, as the command runs its own event loop."""
    capsys.readouterr()
    argv = ["export", *args, "--config", str(config)]
    try:
        status = await asyncio.to_thread(main, argv)
    except SystemExit as exc:  # argparse's own exits
        status = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, status, out, err)


async def test_the_command_line(db, clock, tmp_path, capsys):
    await scenario(db, clock)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db.url}"\n[office]\nname = "{OFFICE}"\n'
                      f'[storage]\nfiles_dir = "{tmp_path / "files"}"\n', encoding="utf-8")
    out = tmp_path / "考核.xlsx"
    done = await run_cli(capsys, config, "scores", "--year", "2026", str(out))
    assert done.returncode == 0, done.stderr
    assert "已导出到" in done.stdout
    ws = load_workbook(out)["考核汇总"]
    assert ws.cell(6, 2).value == "城关镇" and ws.cell(6, 3).value == 93

    ledger = tmp_path / "台账.xlsx"
    done = await run_cli(capsys, config, "items", "--from", "2026-03-01", "--to", "2026-03-31", str(ledger))
    assert done.returncode == 0, done.stderr
    ws = load_workbook(ledger)["督办台账"]
    assert ws.cell(2, 1).value == "督字〔2026〕1号" and ws.cell(2, 11).value == datetime(2026, 3, 25)

    notice = tmp_path / "通知单.docx"
    assert (await run_cli(capsys, config, "notice", "--item", "2026-1", str(notice))).returncode == 0
    assert notice.stat().st_size > 0

    for args, message in [
        (("scores", str(tmp_path / "x.xlsx")), "导出考核表须指定年度"),
        (("scores", "--year", "2025", str(tmp_path / "x.xlsx")), "2025年度没有考核记录"),
        (("scores", "--year", "二〇二六", str(tmp_path / "x.xlsx")), "命令行参数有误"),
        (("items", "--from", "2026-02-30", "--to", "2026-12-31", str(tmp_path / "x.xlsx")), "开始日期「2026-02-30」格式不对"),
        (("items", "--from", "2020-01-01", "--to", "2020-12-31", str(tmp_path / "x.xlsx")), "期间没有督查事项"),
        (("items", "--from", "2026-01-01", str(tmp_path / "x.xlsx")), "须指定时间段"),
        (("scores", "--year", "2026", str(tmp_path / "x.docx")), "输出文件应以 .xlsx 结尾"),
        (("scores", "--year", "2026", str(tmp_path / "nope" / "x.xlsx")), "不存在"),
        (("dossier", "--item", "2026-9", str(tmp_path / "x.docx")), "没有找到督字〔2026〕9号"),
        (("tables", str(tmp_path / "x.xlsx")), "命令行参数有误"),
    ]:
        result = await run_cli(capsys, config, *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.xlsx").exists() and not (tmp_path / "x.docx").exists()


def sheets(data: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


async def test_batches_of_one_give_the_same_files(db, clock, monkeypatch):
    """Rows are read in keyset batches: batches of one row must give what one batch gives."""
    await scenario(db, clock)
    async with db.session() as s:
        ledger = await items_workbook(s, date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 4, 1), calendar=CAL,
                                      office_name=OFFICE)
        table = await scores_workbook(s, 2026, today=date(2026, 4, 1), office_name=OFFICE)
    monkeypatch.setattr(exports, "BATCH", 1)
    async with db.session() as s:
        assert sheets(await items_workbook(s, date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 4, 1),
                                           calendar=CAL, office_name=OFFICE)) == sheets(ledger)
        assert sheets(await scores_workbook(s, 2026, today=date(2026, 4, 1), office_name=OFFICE)) == sheets(table)
    assert len(sheets(table)["考核明细"]) == 4 and len(sheets(ledger)["督办台账"]) == 9


async def test_empty_years_and_ranges_are_refused_before_any_work(db, clock):
    await scenario(db, clock)
    today = date(2026, 4, 1)
    async with db.session() as s:
        await check_export(s, ExportJob("scores", today, OFFICE, year=2026))
        await check_export(s, ExportJob("items", today, OFFICE, start=date(2026, 3, 1), end=date(2026, 3, 31)))
        with pytest.raises(DomainError, match="2025年度没有考核记录"):
            await check_export(s, ExportJob("scores", today, OFFICE, year=2025))
        with pytest.raises(DomainError, match="2025-01-01至2025-12-31期间没有督查事项"):
            await check_export(s, ExportJob("items", today, OFFICE, start=date(2025, 1, 1), end=date(2025, 12, 31)))
        with pytest.raises(DomainError, match="早于开始日期"):
            await check_export(s, ExportJob("items", today, OFFICE, start=date(2026, 3, 1), end=date(2026, 1, 1)))
        # An approved year is judged by its stored table, as the export itself does.
        for year, handled in ((2024, False), (2023, True)):
            s.add(ScoreYear(year=year, frozen_at=at(1, 5), snapshot=json.dumps({"average": None, "rows": [
                {"unit_id": 1, "unit": "城关镇", "score": "100", "rank": 1, "disqualified": False, "handled": handled,
                 "bonus": 0, "deduction": 0, "events": 0}]})))
        await s.flush()
        await check_export(s, ExportJob("scores", today, OFFICE, year=2023))
        with pytest.raises(DomainError, match="2024年度没有考核记录"):
            await check_export(s, ExportJob("scores", today, OFFICE, year=2024))
        for year in (2023, 2024):  # the cheap check and the table agree
            assert any(r.handled for r in (await score_table(s, year, today)).rows) == (year == 2023)


async def test_an_export_is_written_whole_in_a_worker_thread(db, clock, tmp_path, monkeypatch):
    await scenario(db, clock)
    threads = []
    write_items = exports.write_items

    async def noting_the_thread(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        threads.append(threading.current_thread())
        return await write_items(*args, **kwargs)

    monkeypatch.setattr(exports, "write_items", noting_the_thread)
    job = ExportJob("items", date(2026, 4, 1), OFFICE, start=date(2026, 1, 1), end=date(2026, 12, 31))
    out = tmp_path / "out"
    out.mkdir()
    path = out / "台账.xlsx"
    result = await export_off_loop(db.url, job, path, CAL)
    assert threads and threads[0] is not threading.current_thread()
    assert (result.path, result.rows, result.size) == (path, 4, path.stat().st_size)
    assert load_workbook(path)["督办台账"].cell(2, 1).value == "督字〔2026〕1号"

    scores = await export_off_loop(db.url, ExportJob("scores", date(2026, 4, 1), OFFICE, year=2026), out / "s.xlsx")
    assert scores.frozen is False and load_workbook(scores.path).sheetnames == ["考核汇总", "考核明细", "待结算扣分"]

    with pytest.raises(DomainError, match="期间没有督查事项"):
        await export_off_loop(db.url, ExportJob("items", date(2026, 4, 1), OFFICE, start=date(2025, 1, 1),
                                                end=date(2025, 12, 31)), out / "empty.xlsx", CAL)
    assert sorted(p.name for p in out.iterdir()) == ["s.xlsx", "台账.xlsx"]  # nothing partial left


def test_exported_files_are_kept_a_week(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    old, recent = folder / "old.xlsx", folder / "recent.xlsx"
    for p in (old, recent):
        p.write_bytes(b"x")
    now = time.time()
    os.utime(old, (now - 8 * 86400, now - 8 * 86400))
    os.utime(recent, (now - 6 * 86400, now - 6 * 86400))
    path = export_path(tmp_path, now=now)
    assert path.parent == folder and path.suffix == ".xlsx" and not path.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["recent.xlsx"]


def test_the_writer_keeps_text_as_text(tmp_path):
    """Whatever people typed arrives as typed: no formulas, no broken XML, spaces kept."""
    columns = (Column("文本", 20), Column("换行", 30, True), Column("数", 8))
    rows = [
        ("=SUM(A1:A9)", "a & b < c > d \"q\"", 1),
        ("  前后空格  ", None, 2.5),
        ("控制\x01字符\x1f", "多行\n文本", Decimal("98.25")),
        ("长" * 40000, True, -7),
        (date(2026, 3, 19), datetime(2026, 3, 19, 12, 0), 0),
    ]
    book = Book(tmp_path / "t.xlsx")
    sheet = book.sheet("表<1>&", columns)
    for row in rows:
        sheet.append(row)
    sheet.notes(["说明 & 备注"])
    book.close()
    ws = load_workbook(tmp_path / "t.xlsx")["表<1>&"]
    got = list(ws.iter_rows(min_row=2, max_row=6, values_only=True))
    assert got[0] == ("=SUM(A1:A9)", "a & b < c > d \"q\"", 1) and ws["A2"].data_type == "s"
    assert got[1] == ("  前后空格  ", None, 2.5) and got[2] == ("控制字符", "多行\n文本", 98.25)
    assert got[3] == ("长" * 32767, True, -7)
    assert got[4] == (datetime(2026, 3, 19), datetime(2026, 3, 19, 12, 0), 0)
    assert ws["A6"].number_format == ws["B6"].number_format == "yyyy-mm-dd"
    assert ws["B3"].alignment.wrap_text and ws["B3"].alignment.vertical == "top" and not ws["A2"].alignment.wrap_text
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb == "00DDEBF7" and ws.freeze_panes == "A2"
    assert ws.column_dimensions["B"].width == 30 and ws.cell(8, 1).value == "说明 & 备注" and ws.cell(7, 1).value is None
