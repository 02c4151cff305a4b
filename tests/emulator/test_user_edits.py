"""A user edits a message they sent: Telegram sends the bot an ``edited_message`` update."""

import pytest
from telegram import Update
from telegram.ext import MessageHandler, filters


async def test_an_edit_reaches_the_bot_as_edited_message(emu, transport, polling):
    seen: list[Update] = []

    async def record(update: Update, context) -> None:  # noqa: ANN001
        seen.append(update)

    app = transport.builder().build()
    app.add_handler(MessageHandler(filters.ALL, record))
    alice, bob = emu.person("张三"), emu.person("李四")
    async with polling(app, emu):
        mine = await alice.send("/item 3")
        await alice.edit(mine, "/item 4")
        photo = await alice.send_photo(b"jpeg", caption="现场")
        await alice.edit(photo, "现场照片")
        with pytest.raises(ValueError):
            await alice.edit(mine, "  ")  # Telegram refuses an empty text
        with pytest.raises(ValueError):
            await bob.edit(mine, "别人的消息")
    edited = [u.edited_message for u in seen if u.edited_message is not None]
    assert [m.text or m.caption for m in edited] == ["/item 4", "现场照片"]
    assert all(u.message is None for u in seen if u.edited_message is not None)
    assert edited[0].message_id == mine.message_id and edited[0].edit_date is not None
    assert edited[0].entities[0].type == "bot_command"
    assert mine.text == "/item 4" and mine.edited and photo.text == "现场照片"
