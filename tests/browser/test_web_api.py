"""The sandbox page's server side without a browser: the JSON API and the event stream.
These run wherever the project runs (no Chromium needed)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable

import httpx
import pytest

from bot.demo.county import demo_people
from tests.browser.pages import lose_edits, png

pytestmark = pytest.mark.asyncio(loop_scope="session")
BOT = "duban_demo_bot"
LIAISON = next(p.name for p in demo_people() if p.unit == "城关镇" and "liaison" in p.roles)


# ------------------------------------------------------------------ the API over HTTP
@pytest.fixture
async def client(sandbox):
    async with httpx.AsyncClient(base_url=sandbox.server.url, timeout=10) as c:
        yield c


async def _events_until(lines, last: Callable[[dict], bool], timeout: float = 10.0) -> list[dict]:
    """Every Server-Sent Event up to and including the first for which ``last`` is true."""

    async def read() -> list[dict]:
        events = []
        async for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if last(events[-1]):
                    return events
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(read(), timeout)


async def _event(lines, want: str, timeout: float = 10.0) -> dict:
    """The next Server-Sent Event of type ``want``."""
    return (await _events_until(lines, lambda e: e["type"] == want, timeout))[-1]


async def test_page_and_assets_are_served_with_a_strict_policy(client):
    page = await client.get("/")
    assert page.status_code == 200 and "督办助手" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/app.css"):
        assert (await client.get(asset)).status_code == 200
    # Nothing the page loads names another host (the SVG namespace is a name, not a request).
    for path in ("/", "/static/app.js", "/static/app.css"):
        text = (await client.get(path)).text
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path, urls)
        assert "@import" not in text and "url(" not in text.replace("url(#", "")
    # The emulator's Bot API still answers on the same port.
    me = await client.get("/bot424242:DEMO-sandbox-token-not-a-secret/getMe")
    assert me.json()["result"]["username"] == "duban_demo_bot"


async def test_people_are_grouped_by_office_leaders_and_units(client):
    data = (await client.get("/api/people")).json()
    sections = {s["key"]: s for s in data["sections"]}
    assert list(sections) == ["office", "leaders", "towns", "departments"]
    office = sections["office"]["groups"][0]["people"]
    assert [p["name"] for p in office] == ["王敏", "李强", "赵建国"]
    assert office[0]["role"] == "督查室工作人员" and office[2]["role"] == "督查室负责人"
    town = sections["towns"]["groups"][0]
    assert town["title"] == "城关镇"
    assert [p["role"] for p in town["people"]] == ["联络员", "单位负责人"]
    assert all(p["unit"] == "城关镇" for p in town["people"])
    assert len(sections["departments"]["groups"]) == 10


async def test_send_tap_and_live_events(client, sandbox):
    wang = sandbox.people["王敏"].id
    async with client.stream("GET", "/api/events") as stream:
        lines = stream.aiter_lines()
        hello = await _event(lines, "hello")
        assert hello["clock"]["time"] == "09:00"
        sent = await client.post(f"/api/chats/{wang}/send", json={"text": "/invite"})
        assert sent.json()["message"]["html"] == "/invite"
        mine = await _event(lines, "message")
        assert mine["chat_id"] == wang and not mine["message"]["from_bot"]
        question = await _event(lines, "message")
        assert question["message"]["from_bot"]
        buttons = [b for row in question["message"]["buttons"] for b in row]
        leader = next(b for b in buttons if b["text"] == "县领导")
        tap = await client.post(f"/api/chats/{wang}/tap",
                                json={"message_id": question["message"]["id"], "data": leader["data"]})
        assert tap.status_code == 200
        edited = await _event(lines, "edit")
        assert edited["message"]["html"] == "角色：县领导" and edited["message"]["buttons"] == []
        # The keyboard is gone: tapping it again is refused, politely.
        again = await client.post(f"/api/chats/{wang}/tap",
                                  json={"message_id": question["message"]["id"], "data": leader["data"]})
        assert again.status_code == 409 and again.json()["error"] == "这个按钮已失效"
    chat = (await client.get(f"/api/chats/{wang}")).json()
    assert chat["person"]["name"] == "王敏"
    # Bound people get their role's menu at start-up.
    assert {"help", "invite"} <= {c["command"] for c in chat["commands"]}
    assert chat["messages"][-1]["html"] == "请输入被邀请人的姓名："


def _bot_says(text: str) -> Callable[[dict], bool]:
    return lambda e: e["type"] == "message" and e["message"]["from_bot"] and text in e["message"]["html"]


async def test_live_events_are_numbered_and_one_lost_leaves_a_gap(client, sandbox, monkeypatch):
    wang = sandbox.people["王敏"].id
    async with client.stream("GET", "/api/events") as stream:
        lines = stream.aiter_lines()
        hello = await _event(lines, "hello")
        await client.post(f"/api/chats/{wang}/send", json={"text": "/invite"})
        events = await _events_until(lines, _bot_says("请选择被邀请人的角色"))
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(hello["seq"] + 1, hello["seq"] + 1 + len(events)))

        lose_edits(sandbox, monkeypatch)
        question = events[-1]["message"]
        leader = next(b for row in question["buttons"] for b in row if b["text"] == "县领导")
        await client.post(f"/api/chats/{wang}/tap", json={"message_id": question["id"], "data": leader["data"]})
        after = await _events_until(lines, _bot_says("请输入被邀请人的姓名"))
    assert "edit" not in {e["type"] for e in after}
    numbers = [seqs[-1]] + [e["seq"] for e in after]
    assert [b - a for a, b in zip(numbers, numbers[1:])].count(2) == 1  # the lost edit's number
    assert all(b - a in (1, 2) for a, b in zip(numbers, numbers[1:]))


async def test_bad_requests_get_chinese_errors(client, sandbox):
    liaison = sandbox.people[LIAISON].id
    assert (await client.get("/api/chats/42")).json()["error"].startswith("没有这个人")
    empty = await client.post(f"/api/chats/{liaison}/send", json={"text": "  "})
    assert empty.status_code == 400 and empty.json()["error"] == "不能发送空消息"
    long = await client.post(f"/api/chats/{liaison}/send", json={"text": "字" * 4097})
    assert long.status_code == 400
    not_json = await client.post(f"/api/chats/{liaison}/send", content=b"[")
    assert not_json.status_code == 400 and not_json.json()["error"] == "请求格式有误"
    fake_photo = await client.post(f"/api/chats/{liaison}/upload", data={"kind": "photo"},
                                   files={"file": ("a.png", b"not an image", "image/png")})
    assert fake_photo.status_code == 400 and "图片" in fake_photo.json()["error"]
    assert (await client.post("/api/clock", json={"hours": -1})).status_code == 400
    assert (await client.post("/api/clock", json={"hours": "x"})).status_code == 400
    assert (await client.get("/api/files/nope")).status_code == 404


async def test_uploads_are_served_back_safely(client, sandbox):
    liaison = sandbox.people[LIAISON].id
    photo = await client.post(f"/api/chats/{liaison}/upload", data={"kind": "photo", "caption": "现场"},
                              files={"file": ("现场.png", png(), "image/png")})
    view = photo.json()["message"]["photo"]
    shown = await client.get(view["url"])
    assert shown.headers["content-type"] == "image/png" and shown.content == png()
    assert shown.headers["content-disposition"].startswith("inline")
    html_doc = await client.post(f"/api/chats/{liaison}/upload", data={"kind": "document"},
                                 files={"file": ("报告.html", b"<script>alert(1)</script>", "text/html")})
    doc = html_doc.json()["message"]["document"]
    assert doc["name"] == "报告.html"
    served = await client.get(doc["url"])
    # A document is always a download, never a page of ours.
    assert served.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in served.headers["content-security-policy"]


async def test_clock_and_reset(client, sandbox):
    moved = (await client.post("/api/clock", json={"to": "next_workday"})).json()
    assert moved["display"] == "2026年3月11日 星期三 09:00" and moved["day_kind"] == "工作日"
    moved = (await client.post("/api/clock", json={"hours": 24 * 4})).json()
    assert moved["display"] == "2026年3月15日 星期日 09:00" and moved["day_kind"] == "周末"
    wang = sandbox.people["王敏"].id
    await client.post(f"/api/chats/{wang}/send", json={"text": "你好"})
    old_emu = sandbox.emu
    async with client.stream("GET", "/api/events") as stream:
        lines = stream.aiter_lines()
        await _event(lines, "hello")
        reset = await client.post("/api/reset")
        assert reset.status_code == 200
        event = await _event(lines, "reset")
        assert event["clock"]["display"] == "2026年3月10日 星期二 09:00"
        # The stream survives the reset and follows the new emulator.
        await client.post(f"/api/chats/{wang}/send", json={"text": "/help"})
        answer = await _event(lines, "message")
        assert answer["message"]["html"] == "/help"
    assert sandbox.emu is not old_emu and sandbox.server.emu is sandbox.emu
    assert [m["html"] for m in (await client.get(f"/api/chats/{wang}")).json()["messages"]][0] == "/help"
