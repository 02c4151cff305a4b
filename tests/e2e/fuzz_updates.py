"""Random and malformed updates for the fuzz test (tests/e2e/test_fuzz.py), from a seeded Random.

Each ``Act`` is one thing a Telegram user (or a tampered client) can do: send a text or a
command, edit one of their messages, send a photo or a document, tap a real button, forge a tap.
``Fuzzer.next`` picks one from what the chats hold now (a ``View``), so dialogs get real answers
at every step as well as junk. Nothing here knows the bot; the test runs the acts.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Protocol

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64

# Texts a person can type: blank-looking, control and direction marks, emoji, markup, numbers, dates.
ODD_TEXTS = (
    "\u200b", "\u200e", "\u200f", "\u202e", "\ufeff", "\u2060", "\u200b\u200b", ".", "。", "?", "0", "-1", "1",
    "3", "99999999999999999999", "1e9", "NaN", "None", "null", "[]", "{}", "%s", "{0}", "${x}", "\\", "\\n",
    "<b>粗体</b>", "<script>alert(1)</script>", "&amp;", "&", "<", ">", "<a href='x'>链接</a>", "</i>", "<<>>",
    "😀", "👍🏽", "🇨🇳", "👨‍👩‍👧", "\U0001f600" * 50, "مرحبا", "שלום\u200f", "abc\u202edef", "Ａ１２３",
    "２０２６年４月３０日", "2026-02-30", "2026-04-31", "0-0", "13月40日", "2026/13/01", "9999-12-31",
    "0001-01-01", "4月31日", "明天", "下周一", "7个工作日", "0个工作日", "9999", "-7", "７", "城关", "县",
    "局", "镇", "%", "_", "*", "' OR 1=1 --", "\"; DROP TABLE items; --", "a\x00b", "tab\there",
    "行一\n行二\n行三", "\r\n", "x" * 60, "督字〔2026〕1号", "督字〔2026〕999号", "督字〔1999〕1号", "〔〕号",
    "/", "//", "/ ", "@duban_test_bot", "#标签", "https://example.com/x", "tg://user?id=1",
)
CONTROL = "".join(chr(c) for c in range(0, 32) if chr(c) not in "\n\t\r")  # NUL too: a tampered client
WEIRD = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u00a0\u3000"
# Only a tampered client can send these: Telegram refuses a message that is blank (it strips these).
BLANK_TEXTS = (" ", "　", "\u3000\u3000", "\t", "\n\n", " \u3000 ", "\u00a0")

COMMANDS = ("start", "help", "items", "item", "new", "archive", "digest", "outbox", "call", "visit", "bulletin",
            "score", "export", "notice", "dossier", "invite", "cancel", "report")
ODD_ARGS = (
    "", "abc", "-1", "0", "1", "2", "3", "4", "5", "6", "7", "99999999999999999999", "1.5", "1e3", "0x10",
    "页=x", "督字〔2026〕1号", "督字〔2026〕2号", "督字〔1999〕1号", "督字〔9999〕1号", "〔2026〕", "2026",
    "1999", "2100", "0000", "2026 1", "1999 1", "add", "add 城关镇", "add 城关镇 x 1 原因",
    "add 城关镇 c8.criticism 1 原因", "add 2026 县财政局 c8.late_feedback 2 原因", "add 1999", "undo",
    "undo x", "undo 1", "undo 99999999999", "rules", "rules x", "scores", "scores 1999", "scores 20x6",
    "scores 2026 2027", "items", "items 2026", "items 2026-01-01 2026-12-31", "items x y",
    "items 2026-13-01 2026-01-01", "items 2026-12-31 2026-01-01", "items 1999", "ledger", "x y z",
    "城关镇", "不存在的单位", "red", "all", "<b>x</b>", "&", "😀", "\u202e1", "１", "٣",
    "inv_abc", "inv_" + "x" * 60, "a" * 64, "a" * 300, "../../etc/passwd", "%00", "0" * 30, "-",
)
FILE_NAMES = (
    "", ".", "..", "../../x", "../../../../etc/passwd", "..\\..\\x.pdf", "/abs/path.pdf", "C:\\x\\y.docx",
    "no_extension", "a" * 255, "文" * 200 + ".pdf", "文" * 250 + ".docx", "报告.PDF", "照片.JPG", "进展.docx",
    "表.xlsx", "a.b.c.d",
    ".hidden", "trailing.", "名字 带 空格.pdf", "emoji😀.pdf", "\u202eexe.pdf", "evil.exe", "EVIL.EXE",
    "run.bat", "x.sh", "x.apk", "x.js", "x\x00.pdf", "x\n.pdf", "<b>x</b>.pdf", "&.pdf", "CON", "NUL.txt",
    "x" * 64 + ".tar.gz", "مرحبا.pdf",
)
MIME_TYPES = (None, "application/pdf", "application/octet-stream", "image/jpeg", "text/plain", "",
              "application/x-msdownload", "x/" + "y" * 40, "application/" + "z" * 200)
VERBS = ("i:ok", "i:no", "i:sub", "i:arc", "i:v", "a:ack", "a:prg", "a:pln", "a:ext", "a:rpt", "a:trf", "a:dec",
         "m:ok", "x:ok", "x:no", "t:ok", "t:no", "r:ok", "r:no", "l:ok", "l:ins", "c:ok", "c:no", "y:ask", "y:ok")
DIALOG_DATA = ("new:x", "new:ok", "new:src:other", "new:imp:urgent", "new:lead:1", "new:as:done", "new:as:2",
               "new:dl:def", "new:conf:1", "new:wk:1", "new:fol:1", "new:ldr:done", "new:ldr:4", "rec:x", "rec:ok",
               "rec:now", "rec:skip", "rec:unit:1", "rec:m:secret", "rec:k:criticism", "rec:r:c8.criticism",
               "sa:x", "sa:ok", "sa:u:1", "sa:r:c8.criticism", "sc:x", "sc:u:2026:1", "sc:u:1999:1",
               "inv:role:office", "inv:role:liaison", "inv:unit:1", "ask:x", "ask:ok", "ask:skip", "ask:unit:1",
               "ls:all:1", "ls:red:2", "ls:xxx:1", "ls:all:0", "ls:all:9999", "ls:all:99999",
               "rp:ok:1", "rp:no:1", "rp:x", "rp:mk:202603", "rp:mk:209912", "rp:mk:202613", "sch:ok", "sch:x",
               "new:dl:prev", "new:dl:keep", "rp:ok:999999999",
               # ids past 32 bits, which the database's integer columns cannot hold
               "new:lead:999999999999", "new:as:999999999999", "new:fol:999999999999", "new:ldr:999999999999",
               "rec:unit:9999999999", "sa:u:9999999999", "sc:u:2026:9999999999", "inv:unit:99999999999",
               "ask:unit:9999999999", "y:ok:9999999999", "c:ok:9999999999")


@dataclass(frozen=True)
class Act:
    """One update to cause. ``who`` is a person's name; ids are Telegram message ids."""

    kind: str  # text | blank | edit | photo | document | tap | forge
    who: str
    text: str | None = None
    reply_to: int | None = None  # a message id in the person's own chat
    message_id: int | None = None  # edit: the person's message; tap/forge: the message tapped
    chat_id: int | None = None  # tap/forge: the chat the query names (forge: maybe someone else's)
    data: str | None = None  # callback data
    filename: str | None = None
    mime_type: str | None = None
    payload: bytes = b""

    def describe(self) -> str:
        shown = {k: v for k, v in (("text", self.text), ("data", self.data), ("file", self.filename))
                 if v is not None}
        short = {k: (v[:40] + f"…({len(v)})" if isinstance(v, str) and len(v) > 40 else v) for k, v in shown.items()}
        return f"{self.kind} by {self.who} {short}"


class View(Protocol):
    """What the chats hold now, as the fuzzer needs it."""

    def buttons(self, who: str) -> list[tuple[int, int, str]]:
        """(chat_id, message_id, data) of the callback buttons in this person's chat."""

    def other_buttons(self, who: str) -> list[tuple[int, int, str]]:
        """The same for the buttons in every other chat."""

    def own_messages(self, who: str) -> list[tuple[int, bool]]:
        """(message_id, is_text) of what this person sent in their chat."""

    def bot_messages(self, who: str) -> list[int]:
        """Ids of the bot's messages in this person's chat."""

    def next_message_id(self, who: str) -> int:
        """The id the next message in this person's chat will get."""


def _clip(text: str, limit: int) -> str:
    return text[:limit] or "x"


class Fuzzer:
    def __init__(self, rng: random.Random, people: list[str], item_ids: list[int], record_ids: list[int]) -> None:
        self.rng = rng
        self.people = people
        self.item_ids = item_ids or [1]
        self.record_ids = record_ids or [1]
        self.current = rng.choice(people)

    # --- pieces ---------------------------------------------------------------------------
    def junk_text(self) -> str:
        r = self.rng
        kind = r.randrange(10)
        if kind == 0:
            return r.choice(ODD_TEXTS)
        if kind == 1:
            return "".join(r.choice(CONTROL + WEIRD + "x") for _ in range(r.randint(1, 20)))
        if kind == 2:
            size = r.choice((MAX_TEXT, MAX_TEXT - 1, 2001, 2000, 1999, 3000))
            return "".join(r.choice("督办事项进展情况abc😀<&> ") for _ in range(size))[:size].strip() or "x" * size
        if kind == 3:
            return "".join(chr(r.randint(0x20, 0x2FFF)) for _ in range(r.randint(1, 30))).strip() or "?"
        if kind == 4:
            return " ".join(r.choice(ODD_TEXTS) for _ in range(r.randint(2, 5)))
        if kind == 5:
            return f"{r.randint(-5, 40)}"
        if kind == 6:
            return f"{r.randint(1990, 2100)}-{r.randint(0, 13):02d}-{r.randint(0, 32):02d}"
        if kind == 7:
            return r.choice(("城关", "交通", "财政", "局", "县水利局", "湖沟镇", "不存在"))
        if kind == 8:
            return "".join(r.choice(string.printable) for _ in range(r.randint(1, 80))).strip() or "."
        return r.choice(("修复道路", "已完成", "同意", "正在办理中，预计下周完成。", "是", "否", "好的"))

    def command(self) -> str:
        r = self.rng
        name = r.choice(COMMANDS)
        if r.random() < 0.1:
            name += r.choice(("@duban_test_bot", "@other_bot", "@", "@DUBAN_TEST_BOT"))
        arg = r.choice(ODD_ARGS) if r.random() < 0.75 else self.junk_text()
        sep = r.choice((" ", " ", "  ", "\n", "\u3000"))
        return _clip(f"/{name}{sep}{arg}".rstrip() if arg else f"/{name}", MAX_TEXT)

    def text(self) -> str:
        return self.command() if self.rng.random() < 0.35 else _clip(self.junk_text(), MAX_TEXT)

    def forged_data(self, stolen: list[str]) -> str:
        r = self.rng
        kind = r.randrange(8)
        if kind == 0 and stolen:
            return r.choice(stolen)
        if kind == 1:
            return f"{r.choice(VERBS)}:{r.choice(self.item_ids + self.record_ids + [0, 1, 2, 3, 9999999999])}"
        if kind == 2:
            return f"{r.choice(VERBS)}:{r.choice(('-1', '0', '01', 'x', '', '1:2', '99999999999', '1 ', '١'))}"
        if kind == 3:
            return r.choice(DIALOG_DATA)
        if kind == 4:  # random bytes as a client could put them, within 64 UTF-8 bytes
            raw = bytes(r.randrange(256) for _ in range(r.randint(1, 64)))
            return raw.decode("latin-1").encode("utf-8")[:MAX_CALLBACK_BYTES].decode("utf-8", "ignore") or "\x00"
        if kind == 5:
            return "".join(r.choice(string.ascii_lowercase + ":0123456789") for _ in range(r.randint(1, 64)))
        if kind == 6 and stolen:  # a real payload, one character changed
            base = r.choice(stolen)
            i = r.randrange(len(base))
            return base[:i] + r.choice("0123456789:az") + base[i + 1:]
        return r.choice(DIALOG_DATA + tuple(stolen[:5]))

    def file_name(self) -> str:
        return self.rng.choice(FILE_NAMES)

    # --- one act ----------------------------------------------------------------------------
    def next(self, view: View, *, forging_only: bool = False) -> Act:
        r = self.rng
        if r.random() < 0.35:  # one person often acts several times in a row: dialogs get deep
            self.current = r.choice(self.people)
        who = self.current
        if forging_only:
            return self.forge(view, who)
        roll = r.random()
        if roll < 0.30:
            reply = r.choice(view.bot_messages(who)) if r.random() < 0.15 and view.bot_messages(who) else None
            return Act("text", who, text=self.text(), reply_to=reply)
        if roll < 0.33:
            return Act("blank", who, text=r.choice(BLANK_TEXTS))
        if roll < 0.55:
            mine = view.buttons(who)
            if mine:
                chat_id, message_id, data = r.choice(mine)
                return Act("tap", who, chat_id=chat_id, message_id=message_id, data=data)
            return Act("text", who, text=self.command())
        if roll < 0.62:
            own = view.own_messages(who)
            if own:
                message_id, is_text = r.choice(own)
                text = self.text() if is_text else _clip(self.junk_text(), MAX_CAPTION)
                return Act("edit", who, message_id=message_id, text=text)
            return Act("text", who, text=self.command())
        if roll < 0.67:
            caption = _clip(self.junk_text(), MAX_CAPTION) if r.random() < 0.5 else None
            reply = r.choice(view.bot_messages(who)) if r.random() < 0.4 and view.bot_messages(who) else None
            return Act("photo", who, text=caption, reply_to=reply, payload=bytes(r.randrange(256) for _ in range(16)))
        if roll < 0.74:
            caption = _clip(self.junk_text(), MAX_CAPTION) if r.random() < 0.3 else None
            reply = r.choice(view.bot_messages(who)) if r.random() < 0.4 and view.bot_messages(who) else None
            size = r.choice((1, 10, 100))
            return Act("document", who, text=caption, reply_to=reply, filename=self.file_name(),
                       mime_type=r.choice(MIME_TYPES), payload=bytes(r.randrange(256) for _ in range(size)))
        return self.forge(view, who)

    def forge(self, view: View, who: str) -> Act:
        r = self.rng
        stolen = view.other_buttons(who)
        data = self.forged_data([d for _, _, d in stolen])
        where = r.random()
        if where < 0.5 and view.bot_messages(who):  # on one of the person's own messages
            return Act("forge", who, chat_id=None, message_id=r.choice(view.bot_messages(who)), data=data)
        if where < 0.7:  # on a message that does not exist (never sent, or deleted)
            missing = view.next_message_id(who) + r.randint(0, 50)
            return Act("forge", who, chat_id=None, message_id=r.choice((missing, 0, 1, 2 ** 31 - 1)), data=data)
        if stolen:  # naming someone else's chat and message, as a tampered client could
            chat_id, message_id, _ = r.choice(stolen)
            return Act("forge", who, chat_id=chat_id, message_id=message_id, data=data)
        return Act("forge", who, chat_id=None, message_id=1, data=data)
