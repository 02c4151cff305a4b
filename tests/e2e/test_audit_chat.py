"""/audit N in the chat: the office head reads who changed what on an item, and when; nobody else may."""

from __future__ import annotations

from bot.domain import assignments as asg
from bot.domain.trail import MAX_VALUE


async def test_the_office_head_reads_who_changed_what_on_an_item(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item()
    head = c.people["赵建国"]

    await head.send("/audit 1")
    text = head.last.text
    assert text.startswith("🔍 督字〔2026〕1号 变更记录（共")
    # Registered by 王敏 (the office), submitted, approved by the office head: in that order.
    registered = text.index("登记立项：新建事项")
    submitted = text.index("提交审批：修改事项")
    approved = text.index("审批同意：修改事项")
    assert registered < submitted < approved
    assert "王敏" in text[registered - 40:registered] and "赵建国" in text[approved - 40:approved]
    assert "· 事项名称：城区主干道破损路面修复" in text
    assert "· 状态：待提交 → 待审批" in text and "· 状态：待审批 → 已交办" in text
    assert "· 编号：（空） → 1" in text and "· 审批人：（空） → 赵建国" in text
    assert "审批同意：修改承办任务（城关镇）" in text and "· 状态：待交办 → 待签收" in text
    assert "审批同意：新建立项审批" in text and "· 同意：是" in text
    assert head.last.buttons == []  # one page

    # The same by the full number.
    await head.send("/audit 督字〔2026〕1号")
    assert head.last.text == text

    # 签收 and progress by the unit: the liaison is the one named.
    liaison = c.row(c.liaison("城关镇"))
    async with c.h.db.session() as s:
        a = await _lead_assignment(s, item_id)
        await asg.acknowledge(s, liaison, a, now=c.h.clock.now())
        await asg.add_progress(s, liaison, a, text="已完成东环路段修复。" * 20, now=c.h.clock.now())
    await head.send("/audit 1")
    page1 = head.last.text
    assert "第1/2页" in page1  # more than ten changes now
    assert "签收：修改承办任务（城关镇）" in page1
    assert f"· 签收人：（空） → {liaison.name}（城关镇）" in page1 and "· 状态：已交办 → 办理中" in page1
    await head.tap("下一页", head.last)
    text = head.last.text
    assert "第2/2页" in text and f"{liaison.name}（城关镇）\n　反馈进展：新建进展反馈" in text
    # A long text is cut in the trail (the dossier has it whole).
    shown = next(line for line in text.splitlines() if line.startswith("　· 内容："))
    assert len(shown) == len("　· 内容：") + MAX_VALUE and shown.endswith("…")


async def _lead_assignment(s, item_id: int) -> int:
    from bot.domain.workflow import load_item

    item = await load_item(s, item_id)
    return next(a.id for a in item.assignments if a.role == "lead")


async def test_a_long_trail_is_paged_in_place(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item()
    head = c.people["赵建国"]
    liaison = c.row(c.liaison("城关镇"))
    async with c.h.db.session() as s:
        a = await _lead_assignment(s, item_id)
        for week in range(8):
            c.h.clock.advance(days=7)
            await asg.add_progress(s, liaison, a, text=f"第{week + 1}周进展。", now=c.h.clock.now())

    await head.send("/audit 1")
    first = head.last
    assert "第1/2页" in first.text and first.buttons == ["下一页"]
    assert "第1周进展" not in first.text  # registration, submission, approval and 签收 come first
    messages = len(head.inbox)
    await head.tap("下一页", first)
    assert len(head.inbox) == messages  # the page is edited in place, not sent again
    assert "第2/2页" in first.text and first.buttons == ["上一页"]
    assert "第8周进展" in first.text
    await head.tap("上一页", first)
    assert "第1/2页" in first.text and "登记立项：新建事项" in first.text


async def test_only_the_office_head_may_read_a_trail(demo_county, demo_item):
    c = demo_county
    await demo_item()
    head = c.people["赵建国"]
    await head.send("/help")
    assert "/audit — 事项变更记录（谁在何时改了什么），如 /audit 3" in head.last.text
    for name in ("王敏", "陈志远"):
        await c.people[name].send("/help")
        assert "/audit" not in c.people[name].last.text
    for name in ("王敏", "陈志远"):  # office staff, a responsible leader
        person = c.people[name]
        await person.send("/audit 1")
        assert person.last.text == "您没有权限使用 /audit。如有需要，请联系督查室。"
    liaison = c.liaison("城关镇")
    await liaison.send("/audit 1")
    assert liaison.last.text == "您没有权限使用 /audit。如有需要，请联系督查室。"


async def test_a_bad_number_is_answered(demo_county, demo_item):
    c = demo_county
    await demo_item()
    head = c.people["赵建国"]
    await head.send("/audit")
    assert head.last.text.startswith("请在命令后写事项编号，如：\n/audit 3")
    await head.send("/audit 99")
    assert head.last.text == "没有找到督字〔2026〕99号督查事项，请检查编号"
    await head.send("/audit 第一件")
    assert head.last.text == "编号「第一件」格式不对，请输入如“3”或“督字〔2026〕3号”"


async def test_a_confidential_items_values_stay_out_of_the_chat(demo_county, demo_item):
    c = demo_county
    await demo_item("涉密的督查事项", confidential=True)
    head = c.people["赵建国"]
    await head.send("/audit 1")
    text = head.last.text
    assert "涉密事项：只列出谁在何时改了哪些内容" in text
    assert "· 事项名称：（保密）" in text and "· 状态：（保密） → （保密）" in text
    assert "涉密的督查事项" not in text
