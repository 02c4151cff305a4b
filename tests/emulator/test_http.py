"""The HTTP server speaks the wire formats Telegram accepts, not only what PTB happens to send."""

import json

import httpx
import pytest
import tornado.web

from bot.emulator.http import EmulatorServer


@pytest.fixture
async def server(emu):
    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("沙盒")

    srv = EmulatorServer(emu, extra_handlers=[(r"/sandbox", Hello)])
    await srv.start()
    yield srv
    await emu.aclose()
    await srv.stop()


@pytest.fixture
async def client(server):
    async with httpx.AsyncClient(base_url=server.url) as http_client:
        yield http_client


async def test_get_with_query_string(emu, server, client):
    response = await client.get(f"/bot{emu.token}/getMe")
    assert response.status_code == 200
    assert response.json()["result"]["username"] == "duban_bot"
    alice = emu.person("张三")
    response = await client.get(f"/bot{emu.token}/sendMessage",
                                params={"chat_id": alice.id, "text": "查询串"})
    assert response.json()["result"]["text"] == "查询串"


async def test_json_body_with_nested_objects(emu, client):
    alice = emu.person("张三")
    body = {"chat_id": alice.id, "text": "<b>JSON</b>", "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [[{"text": "签收", "callback_data": "a"}]]}}
    response = await client.post(f"/bot{emu.token}/sendMessage", json=body)
    result = response.json()["result"]
    assert result["text"] == "JSON" and result["reply_markup"] == body["reply_markup"]
    assert alice.last.buttons == ["签收"]
    response = await client.post(f"/bot{emu.token}/sendMessage", content=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400


async def test_urlencoded_and_multipart(emu, client):
    alice = emu.person("张三")
    response = await client.post(f"/bot{emu.token}/sendMessage",
                                 data={"chat_id": str(alice.id), "text": "表单"})
    assert response.json()["result"]["text"] == "表单"
    response = await client.post(f"/bot{emu.token}/sendDocument",
                                 data={"chat_id": str(alice.id), "caption": "附件"},
                                 files={"document": ("表.xlsx", b"PK\x03\x04", "application/zip")})
    document = response.json()["result"]["document"]
    assert document["file_name"] == "表.xlsx" and document["mime_type"] == "application/zip"
    path = (await client.post(f"/bot{emu.token}/getFile",
                              data={"file_id": document["file_id"]})).json()["result"]["file_path"]
    download = await client.get(f"/file/bot{emu.token}/{path}")
    assert download.status_code == 200 and download.content == b"PK\x03\x04"


async def test_errors_are_telegram_json(emu, client):
    response = await client.get("/bot123456:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    response = await client.get("/nowhere")
    assert response.status_code == 404 and response.json()["description"] == "Not Found"
    response = await client.get(f"/file/bot{emu.token}/documents/missing.bin")
    assert response.status_code == 404
    response = await client.post(f"/bot{emu.token}/sendMessage", data={"chat_id": "1"})
    assert response.status_code == 400
    assert "missing required parameter 'text'" in response.json()["description"]
    emu.violations.clear()


async def test_method_names_are_case_insensitive(emu, client):
    response = await client.get(f"/bot{emu.token}/GETME")
    assert response.json()["ok"] is True
    assert emu.stats.calls["getMe"] == 1


async def test_extra_handlers_share_the_server(server, client):
    assert (await client.get("/sandbox")).text == "沙盒"

    class Later(tornado.web.RequestHandler):
        def get(self):
            self.write("later")

    server.add_handlers([(r"/later", Later)])
    assert (await client.get("/later")).text == "later"


async def test_allowed_updates_and_dropping_pending(emu, client):
    alice = emu.person("张三")
    url = f"/bot{emu.token}/getUpdates"
    await emu.user_sends(alice.id, "一")
    response = await client.post(url, data={"allowed_updates": json.dumps(["callback_query"])})
    assert len(response.json()["result"]) == 1  # queued before the filter: still delivered
    await emu.user_sends(alice.id, "二")  # filtered out now
    sent = (await client.post(f"/bot{emu.token}/sendMessage",
                              data={"chat_id": alice.id, "text": "选",
                                    "reply_markup": json.dumps({"inline_keyboard": [[
                                        {"text": "好", "callback_data": "ok"}]]})})).json()
    await emu.press_button(alice.id, alice.id, sent["result"]["message_id"], "ok")
    updates = (await client.post(url, data={"offset": "2"})).json()["result"]
    assert [list(u)[1] for u in updates] == ["callback_query"]
    await client.post(f"/bot{emu.token}/deleteWebhook", data={"drop_pending_updates": "true"})
    assert emu.pending_updates == []
