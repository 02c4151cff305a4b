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
