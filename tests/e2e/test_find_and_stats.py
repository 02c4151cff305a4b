"""Finding things: /find over the items a person may see (titles, numbers, units; confidential
items by number only), paged; /items 已办结 and 已归档; /stats by unit, leader and source in the
chat and as an Excel workbook through the outbox."""

from __future__ import annotations

import io

from openpyxl import load_workbook


async def _close(c, item_id: int) -> None:
    """签收, 办结报告, 审核通过, the leader's 同意 — through the services (the subject here is what
    comes after; the chat path is tests/e2e/test_lifecycle.py's)."""
    from sqlalchemy import select

    from bot.domain import assignments, review
    from store.workflow import Assignment, CompletionReport

    h = c.h
    now = h.clock.now()
    async with h.db.session() as s:
        a = await s.scalar(select(Assignment).where(Assignment.item_id == item_id, Assignment.role == "lead"))
        liaison = c.row(c.liaison(a.unit.name).name)
        await assignments.acknowledge(s, liaison, a.id, now=now)
        await assignments.submit_report(s, liaison, a.id, text="已全部完成。", now=now)
        report = await s.scalar(select(CompletionReport.id).where(CompletionReport.assignment_id == a.id))
        await review.approve_report(s, c.rows["王敏"], report, now=now)
        await review.leader_agree(s, c.rows["陈志远"], item_id, now=now)
    await h.settle()


async def test_find_shows_only_what_the_person_may_see(demo_county, demo_item):
    c = demo_county
    await demo_item("城区主干道路面修复")  # 1, 城关镇
    await demo_item("中小学校舍维修", lead="县教育局", leaders=("孙丽",))  # 2
    await demo_item("某涉密工程选址", confidential=True)  # 3, 城关镇
    lead, office = c.liaison("城关镇"), c.people["王敏"]

    await lead.send("/find 路面")
    assert lead.last.text.splitlines()[0] == "🔍 查找「路面」：共1件"
    assert "督字〔2026〕1号 城区主干道路面修复" in lead.last.text and "城关镇" in lead.last.text
    assert lead.last.buttons == ["🟢 督字〔2026〕1号"]
    await lead.tap("🟢 督字〔2026〕1号")
    assert "城区主干道路面修复" in lead.last.text and "承办单位" in lead.last.text

    for keyword in ("校舍", "县教育局", "2", "督字〔2026〕2号"):  # another unit's item, by title, unit, number
        await lead.send(f"/find {keyword}")
        assert "共0件" in lead.last.text and "中小学校舍维修" not in lead.last.text, keyword
        assert "没有找到您可查看的" in lead.last.text
    await lead.send("/find 涉密工程")  # a confidential item is never found by its title
    assert "共0件" in lead.last.text
    await lead.send("/find 3")  # … but by its number, shown without content
    assert "共1件" in lead.last.text and "督字〔2026〕3号 涉密事项（请到督查室查阅）" in lead.last.text
    assert "选址" not in lead.last.text

    await office.send("/find 城关镇")
    assert "共2件" in office.last.text and "督字〔2026〕1号" in office.last.text and "督字〔2026〕3号" in office.last.text
    await office.send("/find 登记号2")
    assert "共1件" in office.last.text and "中小学校舍维修" in office.last.text
    await c.people["孙丽"].send("/find 维修")  # a leader: their own items
    assert "中小学校舍维修" in c.people["孙丽"].last.text and "共1件" in c.people["孙丽"].last.text
    await c.people["陈志远"].send("/find 维修")
    assert "共0件" in c.people["陈志远"].last.text

    await lead.forge_tap("fd:1:校舍", lead.last)  # a forged page of someone else's search: still only theirs
    assert "共0件" in lead.last.text


async def test_find_pages_and_refuses_bad_input(demo_county, demo_item):
    c = demo_county
    office = c.people["王敏"]
    for n in range(10):
        await demo_item(f"背街小巷整治{n + 1}", days=20)
    await office.send("/find 背街")
    page = office.last
    assert "共10件，第1/2页" in page.text and page.button_rows[-1] == ["下一页"]
    assert "背街小巷整治10" in page.text  # newest first
    await office.tap("下一页", page)
    assert page.edited and "第2/2页" in page.text and page.button_rows[-1] == ["上一页"]
    assert "背街小巷整治1\n" in page.text + "\n"
    await office.tap("上一页", page)
    assert "第1/2页" in page.text

    for text, expected in (
        ("/find", "请在 /find 后写上关键词"),
        ("/find 　 ", "请在 /find 后写上关键词"),
        ("/find " + "很长的关键词" * 3, "关键词太长（最多16个字）"),
        ("/find 没有这样的事项", "没有找到您可查看的"),
    ):
        await office.send(text)
        assert expected in office.last.text, (text, office.last.text)
    await office.forge_tap("fd:1:" + "长" * 40, page)
    assert "按钮已失效" in office.last_answer
    await office.forge_tap("fd:x:背街", page)
    assert "按钮已失效" in office.last_answer


async def test_items_lists_closed_and_archived_items(demo_county, demo_item):
    c = demo_county
    await demo_item("城区主干道路面修复")  # 1: closed, then archived
    await demo_item("背街小巷路灯维修")  # 2: closed
    await demo_item("农贸市场改造")  # 3: open
    await demo_item("中小学校舍维修", lead="县教育局")  # 4: another unit's, closed
    office, lead = c.people["王敏"], c.liaison("城关镇")
    await _close(c, 1)
    await _close(c, 2)
    await office.send("/archive 1")

    await lead.send("/items")
    assert "共1件" in lead.last.text and "农贸市场改造" in lead.last.text
    assert "/items 已办结" in lead.last.text  # the open list says where the others are
    await lead.send("/items 已办结")
    closed = lead.last
    assert closed.text.splitlines()[0] == "📋 督查事项（已办结）：共1件" and "背街小巷路灯维修" in closed.text
    assert closed.button_rows[-1] == ["⚪ 督字〔2026〕2号"]  # no light: nothing is owed
    assert ["·已办结·", "已归档"] in closed.button_rows
    await lead.tap("已归档", closed)
    assert closed.edited and closed.text.splitlines()[0] == "📋 督查事项（已归档）：共1件"
    assert "城区主干道路面修复" in closed.text and "已归档" in closed.text
    await c.liaison("县财政局").send("/items 已办结")
    assert "共0件" in c.liaison("县财政局").last.text
    await office.send("/items 归档")
    assert "📋 督查事项（已归档）：共1件" in office.last.text
    await office.send("/items 乱写")
    assert "/items 已办结 或 /items 已归档" in office.last.text


async def test_stats_in_chat_and_as_a_workbook(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("城区主干道路面修复", days=3)  # 1: closed on time
    await demo_item("背街小巷路灯维修", days=2, assists=("县交通运输局",))  # 2: overdue, open
    await demo_item("中小学校舍维修", lead="县教育局", leaders=("孙丽",), days=10)  # 3: open, on track
    office = c.people["王敏"]
    await _close(c, 1)
    h.clock.advance(days=6)  # Mon 03-16: item 2 (due Thu 03-12) is overdue

    await office.send("/stats")
    table = office.last
    text = table.text
    assert text.splitlines()[0] == "📊 2026年度督查事项统计（按承办单位）"
    assert "事项3件，已办结1件，按时办结率100%，超期未办结1件" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["城关镇", "2", "1", "100%", "1"] in lines  # two shares, one done on time, one overdue
    assert ["县交通运输局", "1", "0", "—", "1"] in lines
    assert ["县教育局", "1", "0", "—", "0"] in lines
    assert text.index("城关镇") < text.index("县教育局")  # the overdue first
    assert table.button_rows == [["·按单位·", "按领导", "按来源"], ["导出Excel"]]

    await office.tap("按领导", table)
    assert table.edited and "（按责任领导）" in table.text
    lines = [line.split() for line in table.text.splitlines()]
    assert ["陈志远", "2", "1", "100%", "1"] in lines and ["孙丽", "1", "0", "—", "0"] in lines
    await office.tap("按来源", table)
    assert ["其他督查事项", "3", "1", "100%", "1"] in [line.split() for line in table.text.splitlines()]

    await office.tap("导出Excel", table)
    assert "正在生成统计表" in office.last_answer
    document = office.last
    assert document.document["file_name"] == "2026年度督查事项统计.xlsx"
    book = load_workbook(io.BytesIO(await office.download(document)), read_only=True)
    assert book.sheetnames == ["按承办单位", "按责任领导", "按事项来源"]
    units = [r for r in book["按承办单位"].iter_rows(values_only=True)]
    assert units[0][:8] == ("名称", "事项（件）", "已办结", "按时办结", "超期办结", "按时办结率（%）", "在办", "超期未办结")
    assert ("城关镇", 2, 1, 1, 0, 100, 1, 1) in [r[:8] for r in units]
    sources = [r[:8] for r in book["按事项来源"].iter_rows(values_only=True)]
    assert ("合计（事项）", 3, 1, 1, 0, 100, 2, 1) in sources

    await c.people["孙丽"].send("/stats 领导")
    assert "（按责任领导）" in c.people["孙丽"].last.text
    liaison = c.liaison("城关镇")
    await liaison.send("/stats")
    assert liaison.last.text == "您没有权限使用 /stats。如有需要，请联系督查室。"
    for text, expected in (("/stats 2099", "2099年还没有开始"), ("/stats 随便", "看不懂「随便」"),
                           ("/stats 单位 2026 多余", "参数太多"), ("/stats 2025", "2025年度还没有已交办的督查事项")):
        await office.send(text)
        assert expected in office.last.text, (text, office.last.text)
    await liaison.forge_tap("st:xlsx:2026", liaison.last)
    assert "没有权限" in liaison.last_answer
