"""A real PTB Application against the emulator, driven like a conversation (both transports)."""

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler,
                          filters)

from bot.emulator import Emulator


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    arg = " ".join(context.args) or "无"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("签收", callback_data="ack:7"),
                                      InlineKeyboardButton("退回", callback_data="back:7")]])
    await update.effective_message.reply_html(f"<b>任务7</b> 参数: {arg}", reply_markup=keyboard)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query.data not in ("ack:7", "back:7"):
        await query.answer("无效操作", show_alert=True)
        return
    await query.answer("已签收" if query.data == "ack:7" else "已退回")
    await query.edit_message_text(f"任务7 {'已签收 ✅' if query.data == 'ack:7' else '已退回'}")


async def media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    attachment = message.document or message.photo[-1]
    data = await (await attachment.get_file()).download_as_bytearray()
    name = message.document.file_name if message.document else "照片"
    await message.reply_text(f"收到{name} {len(data)} 字节 {message.caption or ''}".strip())
    await context.bot.send_document(message.chat_id, bytes(data[::-1]), filename="回执.bin")


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    replied = message.reply_to_message
    prefix = f"回复#{replied.message_id}: " if replied else "收到: "
    await message.reply_text(prefix + message.text)


def add_handlers(app) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, media))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))


async def test_conversation_with_buttons_media_and_replies(emu, transport, polling):
    app = transport.builder().build()
    add_handlers(app)
    alice = emu.person("张三")
    async with polling(app, emu):
        await alice.send("/start abc")
        task = alice.last
        assert task.text == "任务7 参数: abc" and task.html == "<b>任务7</b> 参数: abc"
        assert task.buttons == ["签收", "退回"]

        await alice.tap("签收")
        assert alice.last_answer == "已签收"
        assert task.text == "任务7 已签收 ✅" and task.buttons == [] and task.edited
        with pytest.raises(LookupError) as info:
            await alice.tap("签收")
        assert "no button '签收' in chat" in str(info.value)

        await alice.send("/start x")
        with pytest.raises(LookupError, match=r"Buttons there: #\d+ '任务7 参数: x': \['签收', '退回'\]"):
            await alice.tap("催办")
        await alice.forge_tap("ack:999")  # a crafted callback the bot must refuse
        assert alice.last_answer == "无效操作" and alice.answers[-1]["show_alert"] is True
        await alice.tap("退回", message=alice.last)
        assert alice.last.text == "任务7 已退回"

        await alice.send_photo(b"jpeg-bytes", caption="现场照片")
        assert [m.text for m in alice.inbox[-2:]] == ["收到照片 10 字节 现场照片", None]
        assert await alice.download(alice.last) == b"setyb-gepj"
        await alice.send_document("进展".encode(), filename="进展.docx")
        assert alice.inbox[-2].text == "收到进展.docx 6 字节"

        receipt = alice.inbox[-2]
        mine = await alice.reply(receipt, "进展文字")
        assert mine.reply_to == receipt.message_id
        assert alice.last.text == f"回复#{mine.reply_to}: 进展文字"
    assert emu.unemulated == {}
    assert all(a["text"] for a in alice.answers)  # every tap was answered


async def test_group_privacy_mode(emu, transport, polling):
    app = transport.builder().build()
    add_handlers(app)
    alice, bob = emu.person("张三"), emu.person("李四")
    group = emu.group("某某群", members=[alice, bob])
    async with polling(app, emu):
        await bob.send("大家好", chat=group)  # privacy mode: the bot does not see this
        assert group.messages == []
        await alice.send("/start@duban_bot 群里", chat=group)
        assert group.last.text == "任务7 参数: 群里"
        await bob.tap("签收", chat=group)
        assert bob.last_answer == "已签收" and group.last.text == "任务7 已签收 ✅"
        await bob.send("/start@other_bot", chat=group)  # a command for another bot
        await alice.send("@duban_bot 看一下", chat=group)
        assert group.last.text == "收到: @duban_bot 看一下"
        await bob.reply(group.last, "好的")
        assert group.last.text.endswith(": 好的")
        assert len(group.messages) == 3


async def test_webhook_delivery_to_ptb(emu, transport, free_port):
    app = transport.builder().build()
    add_handlers(app)
    alice = emu.person("张三")
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(listen="127.0.0.1", port=free_port, url_path="hook",
                                    webhook_url=f"http://127.0.0.1:{free_port}/hook",
                                    secret_token="s3cret")
    emu.settle_hook = app.update_queue.join
    try:
        assert emu.webhook == {"url": f"http://127.0.0.1:{free_port}/hook",
                               "secret_token": "s3cret", "max_connections": 40}
        await alice.send("/start 网络钩子")
        assert alice.last.text == "任务7 参数: 网络钩子"
        await alice.tap("签收")
        assert alice.last_answer == "已签收"
        info = await app.bot.get_webhook_info()
        assert info.pending_update_count == 0 and info.last_error_message is None

        # PTB refuses a POST without the secret: that is what the header is for
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{free_port}/hook", json={})
        assert response.status_code == 403
    finally:
        emu.settle_hook = None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_webhook_retries_until_the_receiver_answers(emu, free_port):
    """A receiver that fails first: the update stays pending, the error shows, then it arrives."""
    import tornado.httpserver
    import tornado.web

    received, fail = [], [2]

    class Hook(tornado.web.RequestHandler):
        def post(self):
            if fail[0]:
                fail[0] -= 1
                self.set_status(500)
                return
            received.append((self.request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                             self.request.body))

    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/hook", Hook)]))
    server.listen(free_port, "127.0.0.1")
    try:
        alice = emu.person("张三")
        reply = await emu.request("setWebhook", {"url": f"http://127.0.0.1:{free_port}/hook",
                                                 "secret_token": "abc"})
        assert reply.ok
        await emu.user_sends(alice.id, "你好")
        info = (await emu.request("getWebhookInfo")).body["result"]
        assert info["pending_update_count"] == 1  # the receiver fails the first two deliveries
        await emu.wait_confirmed(timeout=3)
        assert len(received) == 1 and received[0][0] == "abc"
        assert b'"text": "\xe4\xbd\xa0\xe5\xa5\xbd"' in received[0][1]
        info = (await emu.request("getWebhookInfo")).body["result"]
        assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
        assert emu.stats.webhook_failures == 2
    finally:
        server.stop()


async def test_events_for_a_ui(emu):
    alice = emu.person("张三")
    events = emu.subscribe()
    await emu.user_sends(alice.id, "/start")
    await emu.request("sendMessage", {"chat_id": alice.id, "text": "你好"})
    await emu.request("editMessageText", {"chat_id": alice.id, "message_id": 2, "text": "您好"})
    kinds = []
    while not events.queue.empty():
        event = await events.__anext__()
        kinds.append((event.kind, event.chat_id))
    assert kinds == [("message", alice.id), ("message", alice.id), ("call", alice.id),
                     ("edit", alice.id), ("call", alice.id)]
    events.close()


async def test_settle_times_out_without_a_bot(emu):
    alice = emu.person("张三")
    await emu.user_sends(alice.id, "有人吗")
    with pytest.raises(TimeoutError, match="not confirmed"):
        await emu.wait_confirmed(timeout=0.05)
    with pytest.raises(TimeoutError):
        await emu.settle(timeout=0.05)


def test_emulator_imports_nothing_from_the_project():
    import ast
    import pathlib

    package = pathlib.Path(Emulator.__module__.replace(".", "/")).parent
    root = pathlib.Path(__file__).resolve().parents[2]
    for path in (root / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in ("handlers", "store"), f"{path.name} imports {name}"
                assert top != "bot" or name.startswith("bot.emulator"), f"{path.name} imports {name}"
                if top == "telegram":
                    assert path.name == "ptb_request.py", f"{path.name} imports telegram"
