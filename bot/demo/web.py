"""The browser sandbox page: people chat with the bot through the emulator, on the emulator's port.

Mounted by ``start_sandbox`` with ``EmulatorServer.add_handlers``; the page (static/) talks to
the JSON API below and follows the chats live over Server-Sent Events built on
``emu.subscribe()``. The bot itself knows nothing of this: it sees only Telegram updates.

    GET  /                              the page (static/index.html); /static/* its script and style
    GET  /api/people                    the demo people grouped by office, leaders, 乡镇, 部门
    POST /api/people {name}             a new, unbound Telegram user (to open an invitation link)
    GET  /api/chats/<id>                a person's private chat: messages, command menu, keyboard
    GET  /api/chats/<id>/commands       the command menu alone
    POST /api/chats/<id>/send {text}    the person sends text (commands included)
    POST /api/chats/<id>/tap {message_id, data}      the person taps an inline button
    POST /api/chats/<id>/upload         multipart: file, kind=photo|document, caption
    GET  /api/files/<file_id>[?download=1]            a photo or document in a chat
    GET  /api/events                    Server-Sent Events: hello, message, edit, delete,
                                        commands, answer, clock, reset; numbered (seq, the
                                        last one's in hello) so a page can tell it missed one
    GET  /api/clock; POST /api/clock {hours} | {to: "next_workday"}
    POST /api/reset                     restore the demo county

Errors are JSON ``{"error": "<Chinese sentence>"}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import logging
import re
import secrets
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote
from zoneinfo import ZoneInfo

import tornado.iostream
import tornado.web
from sqlalchemy import select

from bot.domain.roles import ROLE_NAMES, UNIT_ROLES
from bot.domain.schedules import load_calendar
from bot.domain.workdays import ADJUSTED_WORKDAY, HOLIDAY, WEEKEND
from bot.kernel.clock import OFFICE_TZ
from store.models import Person as DbPerson

__all__ = ["mount", "WebHub", "sanitize_telegram_html", "text_to_html"]

log = logging.getLogger("duban.demo.web")

STATIC_DIR = Path(__file__).with_name("static")
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
MAX_TEXT = 4096  # what Telegram accepts from a user in one message
MAX_ADVANCE_HOURS = 24 * 366
WORKDAY_START = time(9, 0)
KEEPALIVE_SECONDS = 15.0
# The page and everything it loads come from this server; the browser enforces it too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_CLOSE = object()  # tells an event stream to end


# ------------------------------------------------------------------ rendering the bot's HTML
_SIMPLE_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")
_COMMAND = r"(?<![\w/@])(/[A-Za-z0-9_]{1,32})(?:@\w+)?(?![\w/])"


class _TelegramHtml(HTMLParser):
    """Telegram's HTML subset in, safe HTML out: allowed tags are re-emitted with safe
    attributes only; anything else (tags, comments, entities) ends up as escaped text."""

    def __init__(self, bot_username: str, live: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, str]] = []  # (source tag, closing html)
        self.live = live  # wrap /commands and the bot's own t.me links in clickable anchors
        self.links = _link_pattern(bot_username)

    def _open(self, tag: str, opening: str, closing: str) -> None:
        self.out.append(opening)
        self.stack.append((tag, closing))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in _SIMPLE_TAGS:
            name = _SIMPLE_TAGS[tag]
            self._open(tag, f"<{name}>", f"</{name}>")
        elif tag == "tg-spoiler" or (tag == "span" and values.get("class") == "tg-spoiler"):
            self._open(tag, '<span class="tg-spoiler">', "</span>")
        elif tag == "tg-emoji":
            self._open(tag, "", "")  # the fallback emoji inside is the text
        elif tag == "a":
            href = values.get("href", "").strip()
            start = _deep_link_payload(href, self.links)
            if start is not None:
                self._open(tag, _deep_link_anchor(start), "</a>")
            elif href.lower().startswith(_SAFE_SCHEMES):
                self._open(
                    tag, f'<a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener noreferrer">', "</a>"
                )
            else:
                self._open(tag, '<span class="link">', "</span>")
        else:
            self.out.append(html.escape(self.get_starttag_text() or f"<{tag}>"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(html.escape(self.get_starttag_text() or f"<{tag}/>"))

    def handle_endtag(self, tag: str) -> None:
        if any(open_tag == tag for open_tag, _ in self.stack):
            while self.stack:
                open_tag, closing = self.stack.pop()
                self.out.append(closing)
                if open_tag == tag:
                    break
        else:
            self.out.append(html.escape(f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        inert = any(t in ("a", "code", "pre") for t, _ in self.stack)
        self.out.append(_text_html(data, self.links, live=self.live and not inert))

    def handle_comment(self, data: str) -> None:
        self.out.append(html.escape(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.out.append(html.escape(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.out.append(html.escape(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.out.append(html.escape(f"<![{data}]>"))

    def result(self) -> str:
        self.close()
        while self.stack:
            self.out.append(self.stack.pop()[1])
        return "".join(self.out)


def _link_pattern(bot_username: str) -> re.Pattern:
    return re.compile(
        r"https?://t\.me/" + re.escape(bot_username) + r"\?start=([A-Za-z0-9_-]{1,64})\b"
        r"|" + _COMMAND,
        re.IGNORECASE,
    )


def _deep_link_payload(href: str, pattern: re.Pattern) -> str | None:
    match = pattern.fullmatch(href)
    return match.group(1) if match and match.group(1) else None


def _deep_link_anchor(start: str) -> str:
    return f'<a href="#" class="deeplink" data-testid="deep-link" data-start="{html.escape(start, quote=True)}">'


def _text_html(text: str, pattern: re.Pattern, live: bool) -> str:
    if not live:
        return html.escape(text, quote=False)
    out, pos = [], 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[pos : match.start()], quote=False))
        shown = html.escape(match.group(0), quote=False)
        if match.group(1):
            out.append(f"{_deep_link_anchor(match.group(1))}{shown}</a>")
        else:
            command = html.escape(match.group(2), quote=True)
            out.append(f'<a href="#" class="cmd" data-cmd="{command}">{shown}</a>')
        pos = match.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def sanitize_telegram_html(source: str, bot_username: str = "", *, live: bool = True) -> str:
    """Safe HTML for the page from the HTML the bot sent (parse_mode=HTML)."""
    parser = _TelegramHtml(bot_username, live)
    parser.feed(source)
    return parser.result()


def text_to_html(text: str, bot_username: str = "", *, live: bool = False) -> str:
    """Plain text (a user's message, or the bot's without parse_mode) as safe HTML."""
    return _text_html(text, _link_pattern(bot_username), live)


# ------------------------------------------------------------------ views of emulator state
def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:2] == b"BM":
        return "image/bmp"
    return None


def _size_text(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _file_url(file_id: str, download: bool = False) -> str:
    return f"/api/files/{quote(file_id, safe='')}" + ("?download=1" if download else "")


def _buttons(markup: dict | None) -> list[list[dict]]:
    rows = []
    for row in (markup or {}).get("inline_keyboard", []):
        out = []
        for button in row:
            view = {"text": str(button.get("text", ""))}
            if "callback_data" in button:
                view.update(kind="callback", data=str(button["callback_data"]))
            elif "url" in button and str(button["url"]).strip().lower().startswith(_SAFE_SCHEMES):
                view.update(kind="url", url=str(button["url"]).strip())
            elif isinstance(button.get("copy_text"), dict):
                view.update(kind="copy", copy=str(button["copy_text"].get("text", "")))
            else:
                view["kind"] = "unsupported"
            out.append(view)
        rows.append(out)
    return rows


def _reply_keyboard(markup: dict | None) -> list[list[str]] | None:
    if not markup or "keyboard" not in markup:
        return None
    return [[b if isinstance(b, str) else str(b.get("text", "")) for b in row] for row in markup["keyboard"]]


class WebHub:
    """State of the page side: the event fan-out, the clock and reset, the views."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.boot = secrets.token_hex(4)
        self.generation = 0
        self._listeners: set[asyncio.Queue] = set()
        # Every live event is numbered, as Telegram numbers a client's updates (pts): a page that
        # sees a number skipped missed something and reloads its chats instead of showing them stale.
        self.seq = 0
        self._sub: Any = None
        self._pump_task: asyncio.Task | None = None
        self.ready = asyncio.Event()  # cleared while a reset runs
        self.ready.set()
        self._reset_lock = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def epoch(self) -> str:
        """Changes with every reset and every server start: the page then reloads everything."""
        return f"{self.boot}-{self.generation}"

    @property
    def emu(self) -> Any:
        return self.sandbox.emu

    @property
    def tz(self) -> ZoneInfo:
        try:
            return self.sandbox.app.bot_data["services"].settings.office.tz
        except (AttributeError, KeyError):
            return OFFICE_TZ

    def attach(self) -> None:
        emu = self.emu
        self._sub = emu.subscribe()
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(emu, self._sub))

    async def detach(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._pump_task is not None:
            self._pump_task.cancel()
            try:
                await self._pump_task
            except asyncio.CancelledError:
                pass
            self._pump_task = None

    async def close(self) -> None:
        await self.detach()
        for queue in list(self._listeners):
            queue.put_nowait(_CLOSE)

    def listen(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue) -> None:
        self._listeners.discard(queue)

    def broadcast(self, event: dict) -> None:
        self.seq += 1
        event = {**event, "seq": self.seq}
        for queue in list(self._listeners):
            queue.put_nowait(event)

    async def _pump(self, emu: Any, sub: Any) -> None:
        async for event in sub:
            try:
                out = self._translate(emu, event)
            except Exception:  # one odd event must not stop the live view
                log.exception("event=sandbox_event_failed kind=%s", event.kind)
                self.seq += 1  # not shown: the pages see the gap and reload
                continue
            if out is not None:
                self.broadcast(out)

    def _translate(self, emu: Any, event: Any) -> dict | None:
        chat_id = event.chat_id
        if event.kind in ("message", "edit"):
            chat = emu.chats.get(chat_id)
            if chat is None or chat.type != "private":
                return None
            msg = chat.messages.get(event.data["message_id"], event.data)
            return {
                "type": event.kind,
                "chat_id": chat_id,
                "message": self.message_view(chat, msg),
                "keyboard": _reply_keyboard(chat.reply_keyboard),
            }
        if event.kind == "delete":
            return {"type": "delete", "chat_id": chat_id, "message_id": event.data["message_id"]}
        if event.kind == "commands":
            return {"type": "commands", "chat_id": chat_id}
        if event.kind == "callback_answer":
            return {
                "type": "answer",
                "chat_id": chat_id,
                "user_id": event.data.get("user_id"),
                "text": event.data.get("text"),
                "show_alert": bool(event.data.get("show_alert")),
            }
        return None

    # --- views ------------------------------------------------------------------------------
    def _local(self, when: datetime | float) -> datetime:
        if isinstance(when, int | float):
            when = datetime.fromtimestamp(when, self.tz)
        return when.astimezone(self.tz)

    def _day_text(self, local: datetime) -> str:
        return f"{local.year}年{local.month}月{local.day}日 {WEEKDAYS[local.weekday()]}"

    def message_view(self, chat: Any, msg: dict) -> dict:
        emu = self.emu
        mid = msg["message_id"]
        from_bot = msg.get("from", {}).get("id") == emu.bot_id
        username = emu.bot_user.get("username", "")
        raw_html = chat.html.get(mid) if from_bot else None
        body = msg.get("text", msg.get("caption"))
        if raw_html is not None:
            rendered = sanitize_telegram_html(raw_html, username)
        elif body:
            rendered = text_to_html(body, username, live=from_bot)
        else:
            rendered = ""
        local = self._local(msg.get("date", 0))
        view: dict[str, Any] = {
            "id": mid,
            "from_bot": from_bot,
            "html": rendered,
            "date": msg.get("date", 0),
            "time": local.strftime("%H:%M"),
            "day": self._day_text(local),
            "edited": "edit_date" in msg,
            "buttons": _buttons(msg.get("reply_markup")),
            "photo": None,
            "document": None,
            "reply_to": None,
        }
        if msg.get("photo"):
            largest = msg["photo"][-1]
            view["photo"] = {
                "file_id": largest["file_id"],
                "url": _file_url(largest["file_id"]),
                "download": _file_url(largest["file_id"], True),
            }
        if msg.get("document"):
            doc = msg["document"]
            view["document"] = {
                "file_id": doc["file_id"],
                "name": doc.get("file_name") or "文件",
                "size": _size_text(int(doc.get("file_size", 0))),
                "mime": doc.get("mime_type"),
                "url": _file_url(doc["file_id"], True),
            }
        replied = msg.get("reply_to_message")
        if replied:
            snippet = (
                replied.get("text")
                or replied.get("caption")
                or ("[照片]" if replied.get("photo") else "[文件]" if replied.get("document") else "")
            )
            view["reply_to"] = {
                "id": replied["message_id"],
                "text": snippet[:60],
                "from_bot": replied.get("from", {}).get("id") == emu.bot_id,
            }
        return view

    def chat_view(self, user_id: int) -> dict:
        emu = self.emu
        chat = emu.chats[user_id]
        messages = [self.message_view(chat, m) for _, m in sorted(chat.messages.items())]
        return {
            "messages": messages,
            "commands": self.commands(user_id),
            "keyboard": _reply_keyboard(chat.reply_keyboard),
        }

    def commands(self, user_id: int) -> list[dict]:
        return [
            {"command": c["command"], "description": c["description"]}
            for c in self.emu.effective_commands(user_id, user_id)
        ]

    async def people(self) -> dict:
        """Everyone with a sandbox account, grouped as the county is: office, leaders, units."""
        async with self.sandbox.db.session() as s:
            rows = (
                (await s.scalars(select(DbPerson).where(DbPerson.telegram_id.is_not(None)).order_by(DbPerson.id)))
                .unique()
                .all()
            )
        office: list[tuple] = []
        leaders: list[tuple] = []
        others: list[tuple] = []
        towns: dict[int, dict[str, Any]] = {}  # unit id -> its title, kind and people
        departments: dict[int, dict[str, Any]] = {}
        bound = set()
        order = list(ROLE_NAMES)
        for p in rows:
            if p.telegram_id not in self.emu.users:
                continue
            bound.add(p.telegram_id)
            view = _person_view(p)
            roles = p.roles
            if roles & {"office", "office_head"}:
                office.append((min(order.index(r) for r in roles), p.id, view))
            elif "leader" in roles:
                leaders.append((0, p.id, view))
            elif p.unit is not None and roles & UNIT_ROLES:
                target = towns if p.unit.kind == "乡镇" else departments
                group = target.setdefault(p.unit.id, {"title": p.unit.name, "kind": p.unit.kind, "people": []})
                group["people"].append((min(order.index(r) for r in roles), p.id, view))
            else:
                others.append((0, p.id, view))
        strangers = [
            _stranger_view(u) for uid, u in self.emu.users.items() if uid not in bound and uid != self.emu.bot_id
        ]

        def plain(entries: list) -> list[dict]:
            return [v for *_, v in sorted(entries, key=lambda e: e[:2])]

        def units(groups: dict) -> list[dict]:
            return [
                {"title": g["title"], "kind": g["kind"], "people": plain(g["people"])}
                for _, g in sorted(groups.items())
            ]

        sections: list[dict[str, Any]] = [
            {"key": "office", "title": "督查室", "groups": [{"title": None, "people": plain(office)}]},
            {"key": "leaders", "title": "县领导", "groups": [{"title": None, "people": plain(leaders)}]},
            {"key": "towns", "title": "乡镇", "groups": units(towns)},
            {"key": "departments", "title": "县直部门及单位", "groups": units(departments)},
        ]
        if others:
            sections.append(
                {"key": "others", "title": "其他人员", "groups": [{"title": None, "people": plain(others)}]}
            )
        if strangers:
            sections.append(
                {"key": "strangers", "title": "未绑定的新用户", "groups": [{"title": None, "people": strangers}]}
            )
        return {"sections": [s for s in sections if any(g["people"] for g in s["groups"])]}

    async def person(self, user_id: int) -> dict:
        async with self.sandbox.db.session() as s:
            p = (await s.scalars(select(DbPerson).where(DbPerson.telegram_id == user_id))).unique().first()
        return _person_view(p) if p is not None else _stranger_view(self.emu.users[user_id])

    # --- clock --------------------------------------------------------------------------------
    async def _calendar(self) -> Any:
        async with self.sandbox.db.session() as s:
            return await load_calendar(s)

    async def clock_view(self) -> dict:
        now = self._local(self.sandbox.clock.now())
        info = (await self._calendar()).describe_day(now.date(), provisional=True)
        if info.kind == HOLIDAY:
            kind = f"节假日（{info.holiday_name}）" if info.holiday_name else "节假日"
        elif info.kind == ADJUSTED_WORKDAY:
            kind = "调休上班"
        elif info.kind == WEEKEND:
            kind = "周末"
        else:
            kind = "工作日"
        if info.provisional:
            kind += "（该年节假日安排未载入，仅按周末计算）"
        offset = self.sandbox.clock.now() - datetime.now(now.tzinfo)
        return {
            "iso": now.isoformat(timespec="seconds"),
            "time": now.strftime("%H:%M"),
            "date": f"{now.year}年{now.month}月{now.day}日",
            "weekday": WEEKDAYS[now.weekday()],
            "display": f"{self._day_text(now)} {now.strftime('%H:%M')}",
            "day_kind": kind,
            "working": info.working,
            "offset_hours": round(offset.total_seconds() / 3600, 2) or 0.0,
        }

    async def next_workday_start(self) -> datetime:
        """09:00 of the first working day after today (unknown years: weekends only)."""
        calendar = await self._calendar()
        day: date = self._local(self.sandbox.clock.now()).date()
        for _ in range(60):
            day += timedelta(days=1)
            if calendar.is_working_day(day, provisional=True):
                return datetime.combine(day, WORKDAY_START, self.tz)
        raise RuntimeError("no working day within 60 days")  # no calendar has such a gap

    async def advance(self, hours: float | None = None, to: str | None = None) -> dict:
        clock = self.sandbox.clock
        if to == "next_workday":
            delta = await self.next_workday_start() - clock.now()
        else:
            delta = timedelta(hours=hours or 0)
        clock.advance(seconds=max(delta.total_seconds(), 0.0))
        log.info(
            "event=sandbox_clock_advanced hours=%.2f now=%s", delta.total_seconds() / 3600, clock.now().isoformat()
        )
        hook = getattr(self.sandbox, "after_clock_change", None)
        if callable(hook):
            result = hook()
            if inspect.isawaitable(result):
                await result
        view = await self.clock_view()
        self.broadcast({"type": "clock", "clock": view})
        return view

    # --- reset ----------------------------------------------------------------------------------
    async def reset(self) -> None:
        async with self._reset_lock:
            self.ready.clear()
            try:
                await self.detach()
                await self.sandbox.reset()
                self.attach()
                self.generation += 1
            finally:
                self.ready.set()
        self.broadcast({"type": "reset", "epoch": self.epoch, "clock": await self.clock_view()})


def _role_text(roles: frozenset[str]) -> str:
    order = list(ROLE_NAMES)
    return "、".join(ROLE_NAMES[r] for r in sorted(roles, key=order.index) if r in ROLE_NAMES)


def _person_view(p: DbPerson) -> dict:
    role = _role_text(p.roles)
    unit = p.unit.name if p.unit is not None else None
    if unit:
        subtitle = f"{unit} · {role}"
    elif p.title and p.title not in role:
        subtitle = f"{role} · {p.title}"
    else:
        subtitle = role
    return {
        "id": p.telegram_id,
        "name": p.name,
        "role": role,
        "roles": sorted(p.roles),
        "title": p.title,
        "unit": unit,
        "subtitle": subtitle,
        "bound": True,
    }


def _stranger_view(user: dict) -> dict:
    name = " ".join(x for x in (user.get("first_name"), user.get("last_name")) if x)
    return {
        "id": user["id"],
        "name": name,
        "role": "未绑定",
        "roles": [],
        "title": None,
        "unit": None,
        "subtitle": "新用户（尚未绑定身份）",
        "bound": False,
    }


# ------------------------------------------------------------------ tornado handlers
class _Page(tornado.web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-cache")

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((STATIC_DIR / "index.html").read_bytes())


class _Static(tornado.web.StaticFileHandler):
    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")


class _Api(tornado.web.RequestHandler):
    hub: WebHub

    def initialize(self, hub: WebHub) -> None:
        self.hub = hub

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def prepare(self) -> None:
        if not self.hub.ready.is_set():  # a reset is running: answer from the new county
            await self.hub.ready.wait()

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body, ensure_ascii=False))

    def fail(self, status: int, message: str) -> NoReturn:
        raise tornado.web.HTTPError(status, reason=None, log_message=message)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) if isinstance(exc, tornado.web.HTTPError) else None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": message or "服务器出错，请稍后再试"}, ensure_ascii=False))

    def body_json(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.fail(400, "请求格式有误")
        return body

    def chat_user(self, user_id: str) -> int:
        uid = int(user_id)
        chat = self.hub.emu.chats.get(uid)
        if chat is None or chat.type != "private":
            self.fail(404, "没有这个人，页面可能已过期，请刷新")
        return uid


class _People(_Api):
    async def get(self) -> None:
        self.reply(await self.hub.people())

    async def post(self) -> None:
        name = str(self.body_json().get("name", "")).strip()
        if not 1 <= len(name) <= 64:
            self.fail(400, "请输入 1 到 64 个字的姓名")
        user = self.hub.emu.add_user(name, started=False)
        self.reply({"person": _stranger_view(user)})


class _Chat(_Api):
    async def get(self, user_id: str) -> None:
        uid = self.chat_user(user_id)
        self.reply({"person": await self.hub.person(uid), **self.hub.chat_view(uid)})


class _Commands(_Api):
    async def get(self, user_id: str) -> None:
        self.reply({"commands": self.hub.commands(self.chat_user(user_id))})


class _Send(_Api):
    async def post(self, user_id: str) -> None:
        uid = self.chat_user(user_id)
        text = str(self.body_json().get("text", ""))
        if not text.strip():
            self.fail(400, "不能发送空消息")
        if len(text) > MAX_TEXT:
            self.fail(400, f"消息过长（最多 {MAX_TEXT} 个字）")
        msg = await self.hub.emu.user_sends(uid, text)
        self.reply({"message": self.hub.message_view(self.hub.emu.chats[uid], msg)})


class _Tap(_Api):
    async def post(self, user_id: str) -> None:
        uid = self.chat_user(user_id)
        body = self.body_json()
        try:
            message_id = int(body.get("message_id", ""))  # missing: ValueError, as null gives TypeError
        except (TypeError, ValueError):
            self.fail(400, "请求格式有误")
        try:
            await self.hub.emu.press_button(uid, uid, message_id, str(body.get("data", "")))
        except (KeyError, ValueError):
            self.fail(409, "这个按钮已失效")
        self.reply({"ok": True})


class _Upload(_Api):
    async def post(self, user_id: str) -> None:
        uid = self.chat_user(user_id)
        parts = self.request.files.get("file")
        if not parts or not parts[0].body:
            self.fail(400, "请选择要发送的文件")
        part = parts[0]
        kind = self.get_body_argument("kind", "document")
        caption = self.get_body_argument("caption", "").strip() or None
        if caption and len(caption) > 1024:
            self.fail(400, "说明文字过长（最多 1024 个字）")
        emu = self.hub.emu
        if kind == "photo":
            if _sniff_image(part.body) is None:
                self.fail(400, "请选择图片文件（JPG、PNG、GIF、WebP）")
            msg = await emu.user_sends(uid, photo=part.body, caption=caption)
        else:
            name = Path(part.filename or "文件").name[:255] or "文件"
            msg = await emu.user_sends(
                uid, document=part.body, filename=name, mime_type=part.content_type or None, caption=caption
            )
        self.reply({"message": self.hub.message_view(emu.chats[uid], msg)})


class _File(_Api):
    def get(self, file_id: str) -> None:
        stored = self.hub.emu.files.get(file_id)
        if stored is None:
            self.fail(404, "文件不存在（演示可能已重置）")
        image = _sniff_image(stored.data) if stored.kind == "photo" else None
        download = bool(self.get_query_argument("download", "")) or image is None
        if image is not None:
            content_type = image
        elif stored.kind == "photo":
            content_type = "application/octet-stream"
        else:
            content_type = stored.mime_type or "application/octet-stream"
        name = stored.file_name or f"照片{stored.file_path[stored.file_path.rfind('.') :]}"
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "private, max-age=3600")
        disposition = "attachment" if download else "inline"
        self.set_header("Content-Disposition", f"{disposition}; filename*=UTF-8''{quote(name, safe='')}")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(stored.data)


class _Clock(_Api):
    async def get(self) -> None:
        self.reply(await self.hub.clock_view())

    async def post(self) -> None:
        body = self.body_json()
        if body.get("to") == "next_workday":
            self.reply(await self.hub.advance(to="next_workday"))
            return
        try:
            hours = float(body.get("hours", ""))  # missing: ValueError, as null gives TypeError
        except (TypeError, ValueError):
            self.fail(400, "请指定要前进的小时数")
        if not 0 < hours <= MAX_ADVANCE_HOURS:
            self.fail(400, "时间只能向前拨，且一次不超过一年")
        self.reply(await self.hub.advance(hours=hours))


class _Reset(_Api):
    async def prepare(self) -> None:  # no waiting: a second reset simply queues on the lock
        pass

    async def post(self) -> None:
        await self.hub.reset()
        self.reply({"ok": True, "epoch": self.hub.epoch})


class _Events(_Api):
    """Server-Sent Events: one JSON object per event; the browser reconnects by itself."""

    _queue: asyncio.Queue | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")

    async def get(self) -> None:
        self._queue = queue = self.hub.listen()
        seq = self.hub.seq  # the events after this one are in the queue from here on
        try:
            hello = {"type": "hello", "epoch": self.hub.epoch, "seq": seq, "clock": await self.hub.clock_view()}
            self.write("retry: 1000\n")
            await self._send(hello)
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):  # not wait_for: it can swallow a cancel
                        event = await queue.get()
                except TimeoutError:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    continue
                if event is _CLOSE:
                    break
                await self._send(event)
        except tornado.iostream.StreamClosedError:
            return
        finally:
            self.hub.unlisten(queue)
        # tornado types the connection as its Optional HTTPConnection interface; ours is an
        # HTTP1Connection, which has the stream.
        if not self.request.connection.stream.closed():  # type: ignore[union-attr]
            self.finish()

    async def _send(self, event: dict) -> None:
        self.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n")
        await self.flush()

    def on_connection_close(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(_CLOSE)


def routes(hub: WebHub) -> list:
    args = {"hub": hub}
    return [
        (r"/", _Page),
        (r"/index\.html", _Page),
        (r"/static/(.*)", _Static, {"path": str(STATIC_DIR)}),
        (r"/api/people", _People, args),
        (r"/api/chats/(-?\d{1,18})", _Chat, args),
        (r"/api/chats/(-?\d{1,18})/commands", _Commands, args),
        (r"/api/chats/(-?\d{1,18})/send", _Send, args),
        (r"/api/chats/(-?\d{1,18})/tap", _Tap, args),
        (r"/api/chats/(-?\d{1,18})/upload", _Upload, args),
        (r"/api/files/([A-Za-z0-9_-]{1,200})", _File, args),
        (r"/api/events", _Events, args),
        (r"/api/clock", _Clock, args),
        (r"/api/reset", _Reset, args),
    ]


def mount(sandbox: Any) -> WebHub:
    """Serve the page on the sandbox's emulator server; call in the running loop."""
    hub = WebHub(sandbox)
    sandbox.server.add_handlers(routes(hub))
    hub.attach()
    return hub
