"""Input the fuzz test (test_fuzz.py) found crashing a handler, one short conversation per kind:
each gets a clear answer and changes nothing."""

from __future__ import annotations


async def test_a_list_button_on_a_message_the_bot_cannot_edit_sends_the_page_anew(demo_county, demo_item):
    c = demo_county
    office = c.people["王敏"]
    await demo_item("道路修复", days=1)
    mine = await office.send("/items")  # the person's own message: not the bot's to edit
    listing = office.last
    await office.forge_tap("ls:red:1", mine)
    assert office.last.message_id != listing.message_id and "📋 督查事项（🔴红灯）" in office.last.text
    await office.forge_tap("ls:all:1", office.last.message_id + 50)  # a message that does not exist
    assert "📋 督查事项（全部）" in office.last.text and office.last_answer is None
    assert listing.text.startswith("📋 督查事项（全部）") and not listing.edited


async def _new_until_lead(office) -> None:  # noqa: ANN001
    await office.send("/new")
    await office.forge_tap("new:conf:0")
    await office.send("道路修复")
    await office.send("按要求办理")
    await office.forge_tap("new:src:other")
    await office.forge_tap("new:imp:normal")


async def test_dialog_buttons_naming_ids_past_32_bits_are_refused(demo_county):
    c = demo_county
    office = c.people["王敏"]
    await _new_until_lead(office)
    await office.forge_tap("new:lead:999999999999")
    assert "该单位不存在或已停用" in office.last_answer
    await office.send("/cancel")

    await office.send("/score add")
    await office.forge_tap("sa:u:9999999999")
    assert office.last_answer
    await office.send("/cancel")
    await office.forge_tap("sc:u:2026:9999999999")
    assert "找不到该单位" in office.last_answer

    await office.send("/invite")
    await office.forge_tap("inv:role:liaison")
    await office.forge_tap("inv:unit:99999999999")
    assert "无效的选择" in office.last_answer


async def test_dialog_buttons_on_messages_the_bot_cannot_edit(demo_county):
    c = demo_county
    office = c.people["王敏"]
    await office.send("/invite")
    mine = await office.send("不是按钮")
    await office.forge_tap("inv:role:liaison", mine)
    assert "请输入所属单位名称" in office.last.text
    await office.send("城关")
    await office.forge_tap("inv:unit:1", office.last.message_id + 40)
    assert "请输入被邀请人的姓名" in office.last.text
    await office.send("/cancel")

    await _new_until_lead(office)
    await office.send("城关")
    await office.tap("城关镇")
    await office.forge_tap("new:as:2", mine)
    assert office.last_answer
    await office.send("/cancel")

    await office.send("/score add")
    await office.send("城关")
    unit_id = c.row(c.liaison("城关镇")).unit_id
    await office.forge_tap(f"sa:u:{unit_id}", mine)
    await office.forge_tap("sa:r:late_feedback", office.last.message_id + 40)
    assert "请输入关联的督查事项编号" in office.last.text
    assert all("处理时出现错误" not in (m.text or "") for m in office.inbox)


async def test_an_outbox_page_button_on_a_message_that_is_gone_sends_the_page_anew(demo_county):
    office = demo_county.people["王敏"]
    await office.send("/outbox")
    before = len(office.inbox)
    await office.forge_tap("ob:p:1", office.last.message_id + 40)
    assert len(office.inbox) == before + 1 and office.last.text == office.inbox[-2].text


async def test_control_characters_from_a_tampered_client_never_reach_the_database(demo_county, demo_item):
    """Telegram's clients drop them; PostgreSQL's text cannot even hold NUL (the suite's PG run)."""
    from sqlalchemy import select

    from store.workflow import Attachment, Progress

    c = demo_county
    await demo_item("道路修复")
    lead = c.liaison("城关镇")
    notice = next(m for m in reversed(lead.inbox) if "督办通知单" in (m.text or ""))
    await lead.reply(notice, "进展\x00顺利\x07")
    assert "进展已记录" in lead.last.text
    await lead.send_document(b"%PDF", filename="方案\x00.pdf", mime_type="application/pdf\x00", reply_to=notice)
    assert "进展已记录（附件1个）" in lead.last.text
    async with c.h.db.session() as s:
        texts = (await s.scalars(select(Progress.text))).all()
        files = (await s.execute(select(Attachment.file_name, Attachment.mime_type))).all()
    assert "进展顺利" in texts and [tuple(f) for f in files] == [("方案.pdf", "application/pdf")]
