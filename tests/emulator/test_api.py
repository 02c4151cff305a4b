"""Bot API methods through a real PTB Bot, over both transports (in-process and HTTP)."""

import asyncio

import pytest
from telegram import (BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat,
                      InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto,
                      MenuButtonCommands)
from telegram.constants import ChatAction
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken

async def polls_started(emu, count: int, timeout: float = 5.0) -> None:
    """Yield to the event loop until ``count`` more getUpdates calls have reached the emulator (over
    HTTP that takes a few loop turns); a condition, not a guessed sleep."""
    target, loop = emu._poll_generation + count, asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while emu._poll_generation < target:
        assert loop.time() < deadline, "getUpdates never reached the emulator"
        await asyncio.sleep(0)


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("签收", callback_data="ack:1"),
                                  InlineKeyboardButton("退回", callback_data="back:1")]])


async def test_get_me(emu, bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (123456, "duban_bot", "督办助手", True)
    assert me.can_read_all_group_messages is False  # privacy mode, as for a fresh bot


async def test_wrong_token_is_unauthorized(emu, transport):
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with transport.make_bot("123456:WRONG"):
            pass
    assert emu.stats.errors[401] == 1


async def test_send_edit_and_delete(emu, bot):
    alice = emu.person("张三")
    sent = await bot.send_message(alice.id, "<b>督办</b>任务 &lt;一号&gt;", parse_mode="HTML",
                                  reply_markup=KEYBOARD)
    assert sent.text == "督办任务 <一号>"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 2)]
    assert sent.reply_markup == KEYBOARD
    assert sent.chat.id == alice.id and sent.from_user.id == bot.id
    msg = alice.last
    assert (msg.text, msg.html, msg.buttons) == ("督办任务 <一号>", "<b>督办</b>任务 &lt;一号&gt;",
                                                 ["签收", "退回"])

    edited = await bot.edit_message_text("已签收", chat_id=alice.id, message_id=sent.message_id)
    assert edited.text == "已签收" and edited.edit_date is not None
    assert msg.text == "已签收" and msg.edited and msg.buttons == []  # keyboard removed by the edit
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("已签收", chat_id=alice.id, message_id=sent.message_id)
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=KEYBOARD)
    assert msg.buttons == ["签收", "退回"] and msg.text == "已签收"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=KEYBOARD)

    reply = await bot.send_message(alice.id, "回复", reply_to_message_id=sent.message_id)
    assert reply.reply_to_message.message_id == sent.message_id
    assert reply.message_id == sent.message_id + 1
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(alice.id, "x", reply_to_message_id=999)

    assert await bot.delete_message(alice.id, sent.message_id) is True
    assert msg.deleted and [m.text for m in alice.inbox] == ["回复"]
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(alice.id, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=sent.message_id)


async def test_text_is_checked_like_telegram(emu, bot):
    alice = emu.person("张三")
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag"):
        await bot.send_message(alice.id, "张三说: 1<2 成立", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Can't parse entities: can't find end tag"):
        await bot.send_message(alice.id, "<b>未闭合", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "字" * 4097)
    await bot.send_message(alice.id, "<i>" + "字" * 4096 + "</i>", parse_mode="HTML")  # fits
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "x", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("长", callback_data="x" * 65)]]))
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(42, "x")
    assert len(alice.inbox) == 1


async def test_upload_then_get_file_and_download(emu, bot):
    alice = emu.person("张三")
    report = "整改报告".encode() * 1000
    sent = await bot.send_document(alice.id, report, filename="报告.docx", caption="<b>附件</b>",
                                   parse_mode="HTML")
    assert sent.document.file_name == "报告.docx" and sent.document.file_size == len(report)
    assert sent.caption == "附件" and alice.last.html == "<b>附件</b>"
    file = await bot.get_file(sent.document.file_id)
    assert file.file_size == len(report) and file.file_path.endswith(".docx")
    assert bytes(await file.download_as_bytearray()) == report
    assert await alice.download(alice.last) == report

    again = await bot.send_document(alice.id, sent.document.file_id)  # re-send by file_id
    assert again.document.file_id == sent.document.file_id

    image = b"\x89PNG fake image bytes"
    photo = await bot.send_photo(alice.id, image, caption="现场")
    assert len(photo.photo) == 2 and photo.photo[-1].width > photo.photo[0].width
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == image
    with pytest.raises(BadRequest, match="Can't use file of type photo as document"):
        await bot.send_document(alice.id, photo.photo[0].file_id)
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(alice.id, "AgACnonexistent")
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")

    album = await bot.send_media_group(alice.id, [InputMediaPhoto(b"one"), InputMediaPhoto(b"two")])
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id

    # what a user uploads, the bot can fetch
    await emu.user_sends(alice.id, photo=b"user photo", caption="现场照片")
    update = (await bot.get_updates())[-1]
    assert update.message.caption == "现场照片"
    user_file = await bot.get_file(update.message.photo[-1].file_id)
    assert bytes(await user_file.download_as_bytearray()) == b"user photo"


async def test_forward_copy_and_caption_edit(emu, bot):
    alice = emu.person("张三")
    group = emu.group("督办群", members=[alice])
    await emu.user_sends(alice.id, photo=b"scene", caption="现场")
    (update,) = await bot.get_updates()
    forwarded = await bot.forward_message(group.id, alice.id, update.message.message_id)
    assert forwarded.forward_origin.sender_user.id == alice.id
    assert forwarded.caption == "现场" and forwarded.photo[-1].file_id == update.message.photo[-1].file_id
    copied = await bot.copy_message(group.id, alice.id, update.message.message_id,
                                    caption="<i>转发</i>", parse_mode="HTML")
    assert group.last.message_id == copied.message_id and group.last.text == "转发"
    assert group.last.html == "<i>转发</i>"
    edited = await bot.edit_message_caption(group.id, copied.message_id, caption="已处理")
    assert edited.caption == "已处理" and group.last.html == "已处理"
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=group.id, message_id=copied.message_id)
    with pytest.raises(BadRequest, match="Message to forward not found"):
        await bot.forward_message(group.id, alice.id, 999)


async def test_command_menus_by_scope(emu, bot):
    alice, bob = emu.person("张三"), emu.person("李四", language_code="en")
    await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("help", "帮助")])
    await bot.set_my_commands([BotCommand("tasks", "我的任务")], scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands([BotCommand("admin", "管理")], scope=BotCommandScopeChat(bob.id))
    await bot.set_my_commands([BotCommand("renwu", "任务")], scope=BotCommandScopeAllPrivateChats(),
                              language_code="zh")
    assert alice.commands == {"renwu": "任务"}  # zh-hans user: the zh list wins
    assert bob.commands == {"admin": "管理"}
    group = emu.group("某某群", members=[alice])
    assert alice.commands_in(group) == {"start": "开始", "help": "帮助"}

    got = await bot.get_my_commands(scope=BotCommandScopeChat(bob.id))
    assert got == (BotCommand("admin", "管理"),)
    assert await bot.get_my_commands(language_code="en") == ()  # exact scope + language only
    await bot.delete_my_commands(scope=BotCommandScopeChat(bob.id))
    assert bob.commands == {"tasks": "我的任务"}
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "大写不行")])


async def test_get_updates_offset_and_long_polling(emu, bot):
    alice = emu.person("张三")
    await emu.user_sends(alice.id, "/start abc")
    await emu.user_sends(alice.id, "第二条")
    first, second = await bot.get_updates()
    assert first.message.text == "/start abc"
    assert first.message.entities[0].type == "bot_command" and first.message.entities[0].length == 6
    assert second.update_id == first.update_id + 1
    assert [u.update_id for u in await bot.get_updates()] == [first.update_id, second.update_id]
    assert [u.update_id for u in await bot.get_updates(offset=second.update_id)] == [second.update_id]
    assert emu.pending_updates[0]["update_id"] == second.update_id  # the first one is confirmed

    poll = asyncio.create_task(bot.get_updates(offset=second.update_id + 1, timeout=5))
    await polls_started(emu, 1)
    assert not poll.done()  # long polling: nothing to return yet
    assert emu.pending_updates == []
    await emu.user_sends(alice.id, "第三条")
    (third,) = await asyncio.wait_for(poll, 2)
    assert third.message.text == "第三条"
    await bot.get_updates(offset=third.update_id + 1)
    await emu.wait_confirmed(timeout=1)

    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""


async def test_second_poller_terminates_the_first(emu, transport):
    alice = emu.person("张三")
    async with transport.make_bot() as one, transport.make_bot() as two:
        first = asyncio.create_task(one.get_updates(timeout=5))
        await polls_started(emu, 1)
        second = asyncio.create_task(two.get_updates(timeout=5))
        await polls_started(emu, 1)
        await emu.user_sends(alice.id, "hi")
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 2)
        assert len(await asyncio.wait_for(second, 2)) == 1


async def test_blocked_and_unstarted_users_are_forbidden(emu, bot):
    alice = emu.person("张三")
    stranger = emu.person("王五", started=False)
    await bot.send_message(alice.id, "你好")
    await emu.user_blocks(alice.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "还在吗")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_chat_action(alice.id, ChatAction.TYPING)
    (update,) = await bot.get_updates()
    assert update.my_chat_member.new_chat_member.status == "kicked"
    await emu.user_unblocks(alice.id)
    await bot.send_message(alice.id, "欢迎回来")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "你好")
    await emu.user_sends(stranger.id, "/start")
    await bot.send_message(stranger.id, "你好")
    assert [m.text for m in alice.inbox] == ["你好", "欢迎回来"]


async def test_chat_info_and_accepted_methods(emu, bot):
    alice = emu.person("张三", username="zhangsan")
    group = emu.group("某某群", members=[alice], admins=[alice])
    chat = await bot.get_chat(alice.id)
    assert (chat.type, chat.first_name, chat.username) == ("private", "张三", "zhangsan")
    chat = await bot.get_chat(group.id)
    assert (chat.type, chat.title) == ("supergroup", "某某群")
    member = await bot.get_chat_member(group.id, alice.id)
    assert member.status == "administrator"
    assert await bot.send_chat_action(alice.id, ChatAction.TYPING) is True
    assert await bot.set_chat_menu_button(alice.id, MenuButtonCommands()) is True
    assert await bot.set_my_description("督办") is True
    with pytest.raises(BadRequest, match="Method not emulated: sendpoll"):
        await bot.send_poll(alice.id, "投票?", ["是", "否"])
    assert emu.unemulated["sendPoll"] == 1
