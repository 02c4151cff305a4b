"""Every request is checked against the official Bot API spec; violations are recorded."""

import json

import pytest
from telegram.error import BadRequest

from bot.emulator import Emulator, UploadedFile, spec as spec_module
from bot.emulator.spec import BotApiSpec, default_spec_path
from bot.emulator.ptb_request import EmulatorRequest


@pytest.fixture(scope="module")
def api() -> BotApiSpec:
    return BotApiSpec.from_file(default_spec_path())


def test_form_strings_are_decoded_by_declared_type(api):
    decoded, problems = api.check_call("sendMessage", {
        "chat_id": "-1001", "text": "123", "disable_notification": "true",
        "reply_markup": json.dumps({"inline_keyboard": [[{"text": "签收", "callback_data": "a"}]]}),
    })
    assert problems == []
    assert decoded["chat_id"] == -1001 and decoded["text"] == "123"
    assert decoded["disable_notification"] is True
    assert decoded["reply_markup"]["inline_keyboard"][0][0]["text"] == "签收"
    assert api.check_call("sendMessage", {"chat_id": "@channel", "text": "x"})[1] == []


def test_problems_name_the_offending_value(api):
    _, problems = api.check_call("sendMessage", {"chat_id": 1, "txt": "x", "disable_notification": "maybe"})
    assert "unknown parameter 'txt' (did you mean 'text'?)" in problems
    assert "missing required parameter 'text' (String)" in problems
    assert "disable_notification: expected Boolean, got String 'maybe'" in problems


def test_nested_objects_are_checked_recursively(api):
    markup = {"inline_keyboard": [[{"text": "签收", "callback": "a"}], [{"txt": "x"}]]}
    _, problems = api.check_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": markup})
    assert "reply_markup.inline_keyboard[0][0].callback: unknown field of InlineKeyboardButton " \
           "(did you mean 'callback_game' or 'callback_data'?)" in problems
    assert "reply_markup.inline_keyboard[1][0]: InlineKeyboardButton lacks required field 'text'" \
           in problems
    _, problems = api.check_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": [1]})
    assert problems == ["reply_markup: expected InlineKeyboardMarkup or ReplyKeyboardMarkup or "
                        "ReplyKeyboardRemove or ForceReply, got Array [1]"]


def test_subtype_unions_use_the_discriminator(api):
    ok = {"type": "chat", "chat_id": 5}
    assert api.check_call("setMyCommands", {"commands": [], "scope": ok})[1] == []
    _, problems = api.check_call("setMyCommands", {"commands": [], "scope": {"type": "chat"}})
    assert problems == ["scope: BotCommandScopeChat lacks required field 'chat_id'"]
    _, problems = api.check_call("setMyCommands", {"commands": [], "scope": {"type": "everyone"}})
    assert problems[0].startswith("scope: 'everyone' is not a valid type for BotCommandScope")
    media = [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "id"}]
    assert api.check_call("sendMediaGroup", {"chat_id": 1, "media": media})[1] == []
    mixed = [{"type": "photo", "media": "a"}, {"type": "document", "media": "b"}]
    assert api.check_call("sendMediaGroup", {"chat_id": 1, "media": mixed})[1] != []
    _, problems = api.check_call("sendMediaGroup", {"chat_id": 1, "media": [{"type": "photo"}]})
    assert problems == ["media[0]: InputMediaPhoto lacks required field 'media'"]


def test_files_and_arrays(api):
    upload = UploadedFile("a.jpg", b"x", "image/jpeg")
    assert api.check_call("sendPhoto", {"chat_id": 1, "photo": upload})[1] == []
    assert api.check_call("sendPhoto", {"chat_id": 1, "photo": "AgAC-file-id"})[1] == []
    _, problems = api.check_call("getUpdates", {"allowed_updates": '["message", 5]'})
    assert problems == ["allowed_updates[1]: expected String, got Integer 5"]


def test_results_can_be_checked_too(api):
    message = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "txt": "x"}
    assert api.check_result("sendMessage", message) == ["result.txt: unknown field of Message "
                                                        "(did you mean 'text'?)"]
    assert api.check_result("editMessageText", True) == []


@pytest.mark.filterwarnings("ignore:Please use 'Bot.sendMessage'")  # a raw call on purpose
async def test_violations_through_ptb_are_recorded(emu, bot):
    alice = emu.person("张三")
    with pytest.raises(BadRequest, match=r"^Bad Request \(Bot API spec\): sendMesage\(.*\): "
                                         r"unknown method 'sendMesage'$"):
        await bot.do_api_request("send_mesage", api_kwargs={"chat_id": alice.id, "text": "x"})
    with pytest.raises(BadRequest, match="unknown parameter 'colour'"):
        await bot.send_message(alice.id, "x", api_kwargs={"colour": "red"})
    with pytest.raises(BadRequest, match="missing required parameter 'text'"):
        await bot.do_api_request("sendMessage", api_kwargs={"chat_id": alice.id})
    with pytest.raises(BadRequest, match="message_thread_id: expected Integer, got String 'abc'"):
        await bot.send_message(alice.id, "x", message_thread_id="abc")
    assert [v.method for v in emu.violations] == ["sendMesage", "sendMessage", "sendMessage",
                                                  "sendMessage"]
    described = str(emu.violations[1])
    assert described.startswith(f"sendMessage(chat_id='{alice.id}', text='x', colour='red')")
    assert described.endswith("unknown parameter 'colour'")
    assert alice.inbox == []  # nothing was delivered by the rejected calls
    emu.violations.clear()


async def test_missing_spec_warns_once_and_still_works(monkeypatch, tmp_path, capsys, caplog):
    monkeypatch.setenv("DUBAN_BOTAPI_SPEC", str(tmp_path / "nope.json"))
    monkeypatch.setattr(spec_module, "_warned_missing", False)
    emu = Emulator(limits=None)
    Emulator(limits=None)
    assert emu.spec is None
    assert capsys.readouterr().err.count("WARNING: Bot API spec not usable") == 1
    assert "will NOT check requests" in caplog.text
    from telegram import Bot
    alice = emu.person("张三")
    async with Bot(emu.token, request=EmulatorRequest(emu)) as bot:
        msg = await bot.send_message(alice.id, "<b>仍然可用</b>", parse_mode="HTML")
        assert msg.text == "仍然可用"
        with pytest.raises(BadRequest, match="(?i)method not emulated: sendpoll"):
            await bot.send_poll(alice.id, "?", ["a", "b"])
    assert emu.violations == []
