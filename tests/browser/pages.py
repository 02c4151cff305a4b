"""Page objects for the sandbox page, so browser tests read like what a person does:

    wang = await page.open_chat("王敏")
    liaison = await page.open_chat(unit="城关镇", role="联络员")
    await wang.send("/invite")
    await wang.tap("县领导")
    await liaison.expect_bot_text("……")

Flows still to come (an item registered by clicking, acknowledged by the liaison, escalated
when the clock passes its deadline) are written with the same verbs: ``send``, ``tap``,
``send_photo``/``send_document``, ``expect_bot_text``, ``page.advance(...)``.
Every wait is on a page condition (Playwright's ``expect``), never a fixed sleep. As a person
would, wait for the bot's answer to a tap (``expect_bot_text``) before typing the next thing.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

try:
    from playwright.async_api import Locator, Page, Route, expect
except ImportError:  # the conftest skips (or fails in CI) before anything here runs
    Locator = Page = Route = Any  # type: ignore[misc,assignment]
    expect = None  # type: ignore[assignment]

LOCAL_PREFIXES = ("data:", "blob:", "about:")


class ChatPane:
    """One person's chat with the bot, as shown in a pane."""

    def __init__(self, page: SandboxPage, name: str) -> None:
        self.page = page
        self.name = name
        self.root: Locator = page.page.locator(f'[data-testid="pane"][data-name="{name}"]')

    @property
    def input(self) -> Locator:
        return self.root.get_by_test_id("message-input")

    @property
    def messages(self) -> Locator:
        return self.root.get_by_test_id("message")

    @property
    def bot_messages(self) -> Locator:
        return self.root.locator('[data-testid="message"][data-from="bot"]')

    @property
    def own_messages(self) -> Locator:
        return self.root.locator('[data-testid="message"][data-from="user"]')

    @property
    def last_bot(self) -> Locator:
        return self.bot_messages.last

    def bot_message(self, text: str) -> Locator:
        return self.bot_messages.filter(has_text=text)

    async def send(self, text: str) -> None:
        """Type and press Enter, then wait until the message shows in the chat."""
        before = await self.own_messages.count()
        await self.input.fill(text)
        await self.input.press("Enter")
        await expect(self.own_messages).to_have_count(before + 1)
        await expect(self.own_messages.last.get_by_test_id("message-text")).to_have_text(text)

    async def expect_bot_text(self, text: str | re.Pattern) -> Locator:
        """Wait for a bot message containing ``text``; returns it (by id: it may be edited later)."""
        message = self.bot_messages.filter(has_text=text).last
        await expect(message).to_be_visible()
        return self.message(await message.get_attribute("data-message-id"))

    def message(self, message_id: int | str) -> Locator:
        return self.root.locator(f'[data-testid="message"][data-message-id="{message_id}"]')

    async def tap(self, label: str) -> None:
        """Tap the inline button with this label on the newest bot message that has it."""
        button = self.root.get_by_test_id("inline-button").filter(
            has_text=re.compile(f"^{re.escape(label)}$")).last
        await button.click()

    async def expect_answer(self, text: str | re.Pattern) -> None:
        """Wait for the bot's answer to a tap, shown for a moment over the pane (a toast)."""
        await expect(self.root.get_by_test_id("callback-answer").filter(has_text=text).last).to_be_visible()

    async def close(self) -> None:
        """Close the pane (the chat goes on; the person can be opened again from the picker)."""
        await self.root.get_by_test_id("pane-close").click()
        await expect(self.root).to_have_count(0)

    async def menu_commands(self) -> list[str]:
        """Open the "/" menu and read the commands in it (closed again afterwards)."""
        await self.root.get_by_test_id("menu-button").click()
        menu = self.root.get_by_test_id("command-menu")
        await expect(menu).to_be_visible()
        names = await menu.locator(".command-name").all_text_contents()
        await self.root.get_by_test_id("menu-button").click()
        await expect(menu).to_be_hidden()
        return names

    async def choose_command(self, command: str) -> None:
        await self.root.get_by_test_id("menu-button").click()
        await self.root.get_by_test_id("command-item").filter(has_text=command).click()

    async def send_photo(self, data: bytes, name: str = "照片.png", mime: str = "image/png") -> Locator:
        """Attach → 照片 → choose a file; returns the photo as shown in the chat."""
        before = await self.own_messages.count()
        await self.root.get_by_test_id("attach-button").click()
        async with self.page.page.expect_file_chooser() as chooser:
            await self.root.get_by_test_id("attach-photo").click()
        await (await chooser.value).set_files({"name": name, "mimeType": mime, "buffer": data})
        await expect(self.own_messages).to_have_count(before + 1)
        photo = self.own_messages.last.get_by_test_id("message-photo")
        await expect(photo).to_be_visible()
        return photo

    async def send_document(self, data: bytes, name: str, mime: str = "application/octet-stream") -> Locator:
        before = await self.own_messages.count()
        await self.root.get_by_test_id("attach-button").click()
        async with self.page.page.expect_file_chooser() as chooser:
            await self.root.get_by_test_id("attach-document").click()
        await (await chooser.value).set_files({"name": name, "mimeType": mime, "buffer": data})
        await expect(self.own_messages).to_have_count(before + 1)
        document = self.own_messages.last.get_by_test_id("message-document")
        await expect(document).to_contain_text(name)
        return document


class SandboxPage:
    """The whole page: the person picker, the panes, the clock bar."""

    def __init__(self, page: Page, sandbox: Any) -> None:
        self.page = page
        self.sandbox = sandbox
        self.origin = sandbox.server.url  # http://127.0.0.1:<port>
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    async def open(self) -> None:
        await self.page.goto(self.origin + "/")
        await expect(self.page.locator("body")).to_have_attribute("data-ready", "true")
        await expect(self.page.get_by_test_id("connection")).to_have_attribute("data-state", "open")

    async def screenshot(self, path: str) -> None:
        """A picture of the page rendered afresh (a reload: no hover, focus or layer history
        from the test's clicks), so an unchanged page gives the same file."""
        await self.page.reload()
        await expect(self.page.locator("body")).to_have_attribute("data-ready", "true")
        await expect(self.page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
        await self.page.mouse.move(0, 0)
        await self.page.wait_for_function(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        await self.page.evaluate(
            "document.querySelectorAll('.messages').forEach(m => m.scrollTop = m.scrollHeight)")
        await self.page.screenshot(path=path, animations="disabled", caret="hide")

    def check_clean(self) -> None:
        """Every request of the page stayed on the sandbox; no script failed."""
        foreign = [u for u in self.requests
                   if not (u.startswith(self.origin + "/") or u.startswith(LOCAL_PREFIXES))]
        assert not foreign, f"the page requested something outside the sandbox: {foreign}"
        assert not self.errors, f"script errors on the page: {self.errors}"

    # --- people and panes ----------------------------------------------------------------
    def person_option(self, name: str | None = None, *, unit: str | None = None,
                      role: str | None = None) -> Locator:
        scope = self.page.get_by_test_id(f"unit-{unit}") if unit else self.page.get_by_test_id("picker-list")
        option = scope.locator('[data-testid="person-option"]' + (f'[data-name="{name}"]' if name else ""))
        if role:
            option = option.filter(has_text=role)
        return option.first

    async def open_chat(self, name: str | None = None, *, unit: str | None = None,
                        role: str | None = None, loaded: bool = True) -> ChatPane:
        picker = self.page.get_by_test_id("picker")
        if not await picker.is_visible():  # phone width: the picker is behind a button
            await self.page.get_by_test_id("open-picker").click()
        option = self.person_option(name, unit=unit, role=role)
        name = name or await option.get_attribute("data-name")
        await option.click()
        pane = self.pane(name)
        await expect(pane.root).to_be_visible()
        await expect(pane.root.get_by_test_id("pane-name")).to_have_text(name)
        if loaded:  # as a person waits for the chat to show (test_sandbox_page.py races the loading)
            await expect(pane.root.get_by_test_id("messages")).not_to_have_attribute("aria-busy", "true")
        return pane

    def pane(self, name: str) -> ChatPane:
        return ChatPane(self, name)

    # --- clock and reset -------------------------------------------------------------------
    @property
    def clock_time(self) -> Locator:
        return self.page.get_by_test_id("clock-time")

    async def advance(self, button: str) -> None:
        """Click one of the clock buttons: "+1小时", "+1天", "下一个工作日"."""
        testid = {"+1小时": "clock-plus-hour", "+1天": "clock-plus-day",
                  "下一个工作日": "clock-next-workday"}[button]
        before = await self.clock_time.get_attribute("data-iso")
        await self.page.get_by_test_id(testid).click()
        await expect(self.clock_time).not_to_have_attribute("data-iso", before or "")

    async def reset(self) -> None:
        await self.page.get_by_test_id("reset").click()
        await self.page.get_by_test_id("modal-ok").click()
        await expect(self.page.get_by_test_id("toast").filter(has_text="演示已重置")).to_be_visible()


def png(width: int = 64, height: int = 48) -> bytes:
    """A small PNG (sky, sun, fields and a road: a "site photo") made without an image library."""
    horizon, sun_x, sun_y, sun_r = height * 0.58, width * 0.76, height * 0.26, max(2.0, height * 0.09)
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            if (x - sun_x) ** 2 + (y - sun_y) ** 2 <= sun_r ** 2:
                pixel = (255, 214, 90)
            elif y < horizon:
                t = y / horizon
                pixel = (int(120 + 90 * t), int(175 + 60 * t), int(235 + 15 * t))
            else:
                t = (y - horizon) / (height - horizon)
                road = abs(x - width / 2) < (0.04 + 0.30 * t) * width
                stripe = int(t * 12) % 2
                pixel = (150, 150, 145) if road else ((88, 160, 70) if stripe else (104, 176, 84))
            row += bytes(pixel)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def lose_edits(sandbox: Any, monkeypatch: Any) -> None:
    """From now on the sandbox's live edit events fail on the server, as an event lost on its way
    to the page would: the page gets no edit, and the next event's number skips one."""
    translate = sandbox.web._translate

    def edits_lost(emu: Any, event: Any) -> Any:
        if event.kind == "edit":
            raise RuntimeError("lost on the way")
        return translate(emu, event)

    monkeypatch.setattr(sandbox.web, "_translate", edits_lost)
