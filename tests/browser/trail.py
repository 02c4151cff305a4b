"""What a failed browser test shows besides Playwright's message: one time line of the sandbox's
Bot API calls and chat events, the bot's log records, and the live events the page received.

A rare failure is read from this in CI's output, where nothing else of the run survives. Recording
is cheap (a subscription to the emulator, a logging handler, one console line per live event on the
page), so every browser test keeps its trail and only a failed one prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

LIMIT = 400  # lines kept: the end of the story is what a failure needs
PAGE_PREFIX = "trail "

# Each live event as the page's own EventSource receives it, and each call of the page's API (sent,
# answered), summarised on one console line.
PAGE_SCRIPT = """
(() => {
  const nativeFetch = window.fetch;
  window.fetch = async function (url, options) {
    const call = ((options && options.method) || "GET") + " " + url;
    console.debug("%s> " + call);
    try {
      const response = await nativeFetch.apply(this, arguments);
      console.debug("%s< " + call + " " + response.status);
      return response;
    } catch (err) {
      console.debug("%s< " + call + " failed: " + err);
      throw err;
    }
  };
  const Native = window.EventSource;
  window.EventSource = function (url, options) {
    const source = new Native(url, options);
    source.addEventListener("open", () => console.debug("%sopen"));
    source.addEventListener("error", () => console.debug("%serror"));
    source.addEventListener("message", (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch (err) { return; }
      const msg = e.message || {};
      const buttons = (msg.buttons || []).flat().map((b) => b.text).join("|");
      console.debug("%s" + ["#" + (e.seq ?? "-"), e.type, e.chat_id ?? e.user_id ?? "", msg.id ?? e.message_id ?? "",
        msg.edited ? "edited" : "", buttons && "[" + buttons + "]", e.text || ""].join(" ").trim());
    });
    return source;
  };
  window.EventSource.prototype = Native.prototype;
})();
""".replace("%s", PAGE_PREFIX)


class Trail:
    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=LIMIT)
        self.start = time.monotonic()

    def add(self, source: str, text: str) -> None:
        self.lines.append(f"{time.monotonic() - self.start:8.3f} {source:<4} {text}")

    def text(self) -> str:
        return "\n".join(self.lines)

    def on_console(self, message: Any) -> None:  # a Playwright ConsoleMessage
        if message.text.startswith(PAGE_PREFIX):
            self.add("page", message.text[len(PAGE_PREFIX) :])


def _buttons(markup: Any) -> str:
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    texts = [b.get("text", "") for row in rows for b in row]
    return f" [{'|'.join(texts)}]" if texts else ""


def summary(kind: str, chat_id: Any, data: dict) -> str | None:
    """One emulator event on one line: the call and its status, or the message and its buttons.
    None for what only fills the trail: a poll that got its updates, a menu's contents."""
    if kind == "call":
        if data.get("method") == "getUpdates" and data.get("status") == 200:
            return None
        return f"call {data.get('method')} chat={chat_id} {data.get('status')} {data.get('description') or ''}".strip()
    if kind in ("message", "edit"):
        body = str(data.get("text") or data.get("caption") or "").replace("\n", " ")[:50]
        edited = " edited" if "edit_date" in data else ""
        return f"{kind} chat={chat_id} id={data.get('message_id')}{edited} {body!r}{_buttons(data.get('reply_markup'))}"
    if kind == "callback_query":
        return f"tap chat={chat_id} data={data.get('data')!r}"
    if kind == "commands":
        return f"commands chat={chat_id}"
    return f"{kind} chat={chat_id} {json.dumps(data, ensure_ascii=False, default=str)[:120]}"


class _Records(logging.Handler):
    def __init__(self, trail: Trail) -> None:
        super().__init__(logging.INFO)
        self.trail = trail

    def emit(self, record: logging.LogRecord) -> None:
        self.trail.add("log", f"{record.levelname} {record.name} {record.getMessage()}"[:300])


@contextlib.asynccontextmanager
async def recording(emu: Any, trail: Trail) -> AsyncIterator[Trail]:
    """Record the emulator's events and the bot's log records (INFO and up) into ``trail``."""
    sub = emu.subscribe()

    async def pump() -> None:
        async for event in sub:
            line = summary(event.kind, event.chat_id, event.data)
            if line is not None:
                trail.add("emu", line)

    task = asyncio.get_running_loop().create_task(pump())
    logger = logging.getLogger("duban")
    handler, level = _Records(trail), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield trail
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        sub.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
