"""/export, /notice, /dossier in the chat: the files arrive as documents and open with openpyxl / python-docx.

/export answers at once and the Excel file, written in a worker thread, comes through the outbox.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

import handlers.exports
from bot.documents import excel as exports
from bot.domain.records import issue_bulletin
from store.models import OutboxMessage, Unit


async def exports_done(c) -> None:  # noqa: ANN001
    """Wait for the exports started in the background, then for the outbox to deliver."""
    tasks = [t for t in c.h.app.bot_data.get("background", ()) if t.get_name().startswith("export:")]
    await asyncio.gather(*tasks)
    await c.h.settle()


async def export(c, person, command: str):  # noqa: ANN001, ANN201
    """Send ``command``: answered with "正在生成", then comes the file (or why not)."""
    seen = len(person.inbox)
    await person.send(command)
    await exports_done(c)
    working, result = person.inbox[seen:]
    assert "正在生成" in working.text and working.document is None, working.text
    return result


async def test_the_office_exports_the_score_table_and_the_ledger(demo_county, demo_item):
    c = demo_county
    first = await demo_item(assists=("县交通运输局",))
    async with c.h.db.session() as s:
        cg = await s.scalar(select(Unit.id).where(Unit.name == "城关镇"))
        await issue_bulletin(s, c.rows["王敏"], item_id=first, unit_id=cg, kind="criticism",
                             rule_code="criticism.project", text="进度落后。", office_name="固镇县人民政府督查室",
                             now=c.h.clock.now())
    wang = c.people["王敏"]

    doc = await export(c, wang, "/export scores 2026")
    assert doc.document["file_name"] == "2026年度政务督查考核表.xlsx" and "2026年度政务督查考核表" in doc.text
    wb = load_workbook(io.BytesIO(await wang.download(doc)))
    table = wb["考核汇总"]
    assert [table.cell(1, i).value for i in (1, 2, 3)] == ["排名", "单位", "得分"]
    last = [table.cell(21, i).value for i in (1, 2, 3, 5)]
    assert last == [20, "城关镇", 95, -5]
    assert [table.cell(2, i).value for i in (2, 3)] == ["县交通运输局", 100]
    assert wb["考核明细"].cell(2, 4).value == "民生工程、重点项目进度落后被通报批评"

    await export(c, wang, "/export items 2026-01-01 2026-12-31")
    ledger = load_workbook(io.BytesIO(await wang.download(wang.last)))["督办台账"]
    assert wang.last.document["file_name"] == "督办台账_2026-01-01_2026-12-31.xlsx"
    assert [ledger.cell(r, 5).value for r in (2, 3)] == ["城关镇", "县交通运输局"]
    assert ledger.cell(2, 2).value == "城区主干道破损路面修复" and ledger.cell(2, 9).value == datetime(2026, 3, 19)
    await export(c, wang, "/export items 2026")
    assert wang.last.document["file_name"] == "督办台账_2026-01-01_2026-12-31.xlsx"
    async with c.h.db.session() as s:  # through the outbox, as a reply: sent, ahead of broadcasts
        sent = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "document")
                                .order_by(OutboxMessage.id))).all()  # PostgreSQL has no implicit order
    assert [(m.file_name, m.status, m.urgent) for m in sent][-1] == ("督办台账_2026-01-01_2026-12-31.xlsx", "sent", True)

    sent = len(wang.inbox)
    for text, expected in {
        "/export items 2025-01-01 2025-12-31": "期间没有督查事项",
        "/export items 2026-12-31 2026-01-01": "早于开始日期",
        "/export items 2026-02-30 2026-12-31": "开始日期「2026-02-30」格式不对",
        "/export scores 2025": "2025年度没有考核记录",
        "/export scores 2030": "年度应为",
        "/export scores 今年": "格式不对",
        "/export": "用法",
        "/export tables": "用法",
    }.items():
        await wang.send(text)
        assert expected in wang.last.text and wang.last.document is None, (text, wang.last.text)
        assert "正在生成" not in wang.last.text
    assert len(wang.inbox) == sent + 8  # one answer each, at once: nothing started

    liaison = c.liaison("城关镇")
    for text in ("/export scores 2026", "/notice 1", "/dossier 1"):
        await liaison.send(text)
        assert "没有权限" in liaison.last.text and liaison.last.document is None


async def test_notice_and_dossier_as_word_files(demo_county, demo_item):
    c = demo_county
    await demo_item(assists=("县交通运输局",))
    await demo_item("涉密专项整治", confidential=True)
    wang = c.people["王敏"]

    await wang.send("/notice 1")
    assert wang.last.document["file_name"] == "督字〔2026〕1号-督办通知单.docx"
    doc = Document(io.BytesIO(await wang.download(wang.last)))
    assert [p.text for p in doc.paragraphs[:3]] == ["测试县人民政府督查室", "督办通知单", "督字〔2026〕1号"]
    fields = {row.cells[0].text: row.cells[1].text for row in doc.tables[0].rows}
    assert fields["事项名称"] == "城区主干道破损路面修复" and fields["协办单位"] == "县交通运输局"
    assert fields["审批人"] == "赵建国" and fields["审阅领导"] == "陈志远"

    await wang.send("/call 1")
    await wang.tap("城关镇（主办）")
    await wang.send("张伟")
    await wang.tap("现在")
    await wang.send("了解进度。")
    await wang.tap("无")
    await wang.send("/dossier 督字〔2026〕1号")
    assert wang.last.document["file_name"] == "督字〔2026〕1号-卷宗.docx"
    doc = Document(io.BytesIO(await wang.download(wang.last)))
    # The 办理过程 table (after the item's facts and the units' 分工): its 事项 column.
    (timeline,) = [t for t in doc.tables if t.rows[0].cells[0].text == "序号"]
    labels = [row.cells[2].text for row in timeline.rows[1:]]
    assert labels[-1] == "电话督查" and "下发督办通知单（协办）" in labels
    assert "二、附件清单" in [p.text for p in doc.paragraphs] and "无附件。" in [p.text for p in doc.paragraphs]

    for command in ("/notice 2", "/dossier 2"):
        await wang.send(command)
        assert "涉密事项，文书不经本机器人传送" in wang.last.text and wang.last.document is None
        assert "涉密专项整治" not in wang.last.text and "--item 2026-2" in wang.last.text
    await wang.send("/notice 9")
    assert "没有找到督字〔2026〕9号" in wang.last.text
    await wang.send("/notice")
    assert "用法" in wang.last.text


async def test_the_bot_keeps_answering_while_an_export_is_written(demo_county, demo_item):
    """The export waits in its worker thread (held here by the one-at-a-time lock): meanwhile the
    office and others get their answers; released, the file arrives."""
    c = demo_county
    await demo_item()
    wang, liaison = c.people["王敏"], c.liaison("城关镇")
    exports._ONE_AT_A_TIME.acquire()
    try:
        await wang.send("/export items 2026")
        assert "正在生成《督办台账_2026-01-01_2026-12-31.xlsx》" in wang.last.text
        await liaison.send("/help")
        assert liaison.last.text and liaison.last.document is None
        await wang.send("/export")
        assert "用法" in wang.last.text
        pending = [t for t in c.h.app.bot_data["background"] if t.get_name().startswith("export:")]
        assert len(pending) == 1 and not pending[0].done()
    finally:
        exports._ONE_AT_A_TIME.release()
    await exports_done(c)
    assert wang.last.document["file_name"] == "督办台账_2026-01-01_2026-12-31.xlsx"
    ledger = load_workbook(io.BytesIO(await wang.download(wang.last)))["督办台账"]
    assert ledger.cell(2, 1).value == "督字〔2026〕1号"


async def test_an_export_that_fails_is_reported_not_left_waiting(demo_county, demo_item, monkeypatch, caplog):
    c = demo_county
    await demo_item()
    wang = c.people["王敏"]

    async def broken(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exports, "write_items", broken)
    await export(c, wang, "/export items 2026")
    assert "生成《督办台账_2026-01-01_2026-12-31.xlsx》时出错" in wang.last.text and wang.last.document is None
    assert "disk on fire" not in wang.last.text and "export_failed" in caplog.text
    monkeypatch.undo()

    # The data changed between the check and the work: the refusal comes through the outbox too.
    async def unchecked(session, job):  # noqa: ANN001, ANN202
        return None

    monkeypatch.setattr(handlers.exports, "check_export", unchecked)
    await export(c, wang, "/export items 2025")
    assert "2025-01-01至2025-12-31期间没有督查事项" in wang.last.text and wang.last.document is None
    assert list((c.files_dir / "exports").iterdir()) == []  # no file, whole or partial, is left behind
