"""An in-memory Telegram Bot API: the request pipeline, updates, webhook, settle. One loop.

Transports (ptb_request.py in-process, http.py over HTTP) call `Emulator.request()` with the
method name, the parameters as they arrived (form strings or JSON values) and the multipart
files; they get back a `Reply` (HTTP status + the JSON body Telegram would send).

The pipeline: token -> method name -> spec check -> injected fault -> flood limits -> the
method (methods.py). What people do is in users.py; both are mixins of `Emulator`.

Everything the bot could see is stored as the exact JSON Telegram would return, so results are
just those dicts. Side information tests need (raw HTML the bot sent, callback answers) is kept
next to it, never inside it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from .faults import Fault, Faults
from .files import MAX_UPLOAD, FileStore, UploadedFile
from .limits import FloodControl, FloodLimits
from .methods import BotApiMethods
from .spec import BotApiSpec, SpecViolation, load_default_spec
from .state import ApiError, CallRecord, ChatState, Event, Params, Reply, Stats
from .users import UserSide

__all__ = [
    "Emulator",
    "ApiError",
    "Reply",
    "Event",
    "Stats",
    "CallRecord",
    "ChatState",
    "Subscription",
    "DEFAULT_TOKEN",
]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:TEST-TOKEN"
# Update types Telegram leaves out unless allowed_updates names them.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


def _is_flood_limited(method: str) -> bool:
    """Methods that put a new message into a chat count against the flood limits."""
    return (method.startswith("send") and method != "sendChatAction") or method in (
        "copyMessage",
        "forwardMessage",
        "copyMessages",
        "forwardMessages",
    )


class Subscription:
    """Async iterator of Events; `async for event in emu.subscribe(): ...`."""

    def __init__(self, owner: Emulator) -> None:
        self._owner = owner
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        if self in self._owner._subscribers:  # noqa: SLF001 — the emulator's own subscription object
            self._owner._subscribers.remove(self)  # noqa: SLF001


DEFAULT_LIMITS = FloodLimits()  # Telegram's documented limits (frozen: safe to share)


class Emulator(BotApiMethods, UserSide):
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "duban_bot",
        bot_name: str = "督办助手",
        *,
        spec: BotApiSpec | str | Path | None = "auto",
        limits: FloodLimits | None = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        group_privacy: bool = True,
        self_check: bool = False,
        think_time: float = 2.0,
        webhook_retry_delay: float = 0.05,
        settle_quiet: float = 0.02,
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        if isinstance(spec, str) and spec == "auto":
            spec = load_default_spec()
        elif isinstance(spec, str | Path):
            spec = BotApiSpec.from_file(spec)
        self.spec: BotApiSpec | None = spec
        self.limits = limits
        self.flood = FloodControl(limits, clock) if limits else None
        self.clock, self.wallclock = clock, wallclock
        self.group_privacy = group_privacy  # bots see only commands/mentions/replies in groups
        self.self_check = self_check  # validate our own answers against the spec (tests)
        self.think_time = think_time  # a FakeClock advances this much per driver user action
        self.webhook_retry_delay = webhook_retry_delay
        self.settle_quiet = settle_quiet  # quiet period settle() needs when no settle_hook is set

        self.users: dict[int, dict] = {}
        self.chats: dict[int, ChatState] = {}
        self.started: set[int] = set()  # users who have talked to the bot
        self.blocked: set[int] = set()
        self.files = FileStore()
        self.commands: dict[tuple, list[dict]] = {}  # (scope key, language) -> BotCommand list
        self.callback_queries: dict[str, dict] = {}
        self.callback_answers: dict[str, dict] = {}  # query id -> answerCallbackQuery params
        self.profile: dict[str, dict] = {}  # setMyName/Description/ShortDescription
        self.faults = Faults()
        self.stats = Stats()
        self.calls: deque[CallRecord] = deque(maxlen=10_000)
        self.violations: list[SpecViolation] = []
        self.unemulated: Counter = Counter()
        self.settle_hook: Callable[[], Awaitable[None]] | None = None

        self.webhook: dict | None = None
        self._webhook_task: asyncio.Task | None = None
        self._http: httpx.AsyncClient | None = None
        self._pending: list[dict] = []  # updates not yet confirmed by the bot
        self._allowed: list[str] | None = None
        self._poll_generation = 0
        self._subscribers: list[Subscription] = []
        self._tick = asyncio.Event()
        self._activity = 0  # bumped by every update and every non-polling call
        self._inflight = 0
        self._closed = False
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(100_001)
        self._group_ids = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_000_001)
        self._media_groups = itertools.count(13_000_000_000_001)
        self._methods: dict[str, Callable] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("_m_")
        }

    @property
    def bot_id(self) -> int:
        return self.bot_user["id"]

    # ------------------------------------------------------------------ request entry point
    async def request(
        self,
        method: str,
        params: dict | None = None,
        files: dict[str, UploadedFile] | None = None,
        *,
        token: str | None = None,
    ) -> Reply:
        """Handle one Bot API call. `token=None` skips the token check (already routed)."""
        polling = method.lower() == "getupdates"  # the poll loop is not bot activity
        if not polling:
            self._inflight += 1
            self._bump()
        try:
            return await self._request(method, dict(params or {}), dict(files or {}), token)
        finally:
            if not polling:
                self._inflight -= 1
                self._bump()

    async def _request(self, method: str, params: dict, files: dict[str, UploadedFile], token: str | None) -> Reply:
        if token is not None and token != self.token:
            return self._error(method, params, 401, "Unauthorized")
        # Without a spec every name is taken as valid: unknown ones become "not emulated".
        name = self.spec.canonical(method) if self.spec else method
        if name is None:
            return self._violation(method, params, f"unknown method '{method}'")
        # A multipart part is either a parameter itself or the target of an attach:// URI.
        attachments: dict[str, UploadedFile] = {}
        for part, upload in files.items():
            if any(isinstance(v, str) and f"attach://{part}" in v for v in params.values()):
                attachments[part] = upload
            else:
                params[part] = upload
            if len(upload.data) > MAX_UPLOAD:
                return self._error(name, params, 413, "Request Entity Too Large")
        if self.spec:
            decoded, problems = self.spec.check_call(name, params)
            if problems:
                return self._violation(name, params, "; ".join(problems))
        else:
            decoded = params
        p = Params(decoded)
        chat_id = self._chat_id(p.get("chat_id"))
        fault = self.faults.take(name, chat_id)
        if fault is not None and not (fault.kind == "timeout" and fault.delivered):
            return self._fault_reply(name, decoded, fault)
        if self.flood and chat_id is not None and _is_flood_limited(name):
            chat = self.chats.get(chat_id)
            retry = self.flood.acquire(chat_id, chat is not None and chat.type != "private")
            if retry:
                return self._error(
                    name, decoded, 429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        handler = self._methods.get(name)
        if handler is None:
            self.unemulated[name] += 1
            return self._error(name, decoded, 400, f"Bad Request: method not emulated: {name}")
        try:
            result = await handler(p, attachments)
        except ApiError as exc:
            if fault is not None:  # timed out anyway; the bot never learns of the error
                return self._fault_reply(name, decoded, fault)
            return self._error(name, decoded, exc.code, exc.description, exc.parameters)
        except Exception as exc:  # an emulator bug: make the test harness see it
            log.exception("emulator failed in %s", name)
            self.violations.append(SpecViolation(name, _printable(decoded), f"emulator internal error: {exc!r}"))
            return self._error(name, decoded, 500, f"Internal Server Error: {exc!r}")
        if self.self_check and self.spec:
            problems = self.spec.check_result(name, result)
            if problems:
                self.violations.append(
                    SpecViolation(name, _printable(decoded), "emulator answer breaks the spec: " + "; ".join(problems))
                )
        self._record(name, decoded, 200)
        if fault is not None:  # timeout after the work was done: the answer is what got lost
            return self._fault_reply(name, decoded, fault)
        return Reply(200, {"ok": True, "result": result})

    def _record(self, method: str, params: dict, status: int, description: str | None = None) -> None:
        self.stats.calls[method] += 1
        if status != 200:
            self.stats.errors[status] += 1
        if status == 429:
            self.stats.rate_limited += 1
        self.calls.append(CallRecord(method, _printable(params), status, description))
        if self._subscribers:
            self._emit(
                "call",
                params.get("chat_id") if isinstance(params.get("chat_id"), int) else None,
                {"method": method, "status": status, "description": description},
            )

    def _error(self, method: str, params: dict, code: int, description: str, parameters: dict | None = None) -> Reply:
        self._record(method, params, code, description)
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return Reply(code, body)

    def _violation(self, method: str, params: dict, problem: str) -> Reply:
        violation = SpecViolation(method, _printable(params), problem)
        self.violations.append(violation)
        log.error("Bot API spec violation: %s", violation)
        # Not "Bad Request: ...": PTB lower-cases the rest of such messages, names included.
        return self._error(method, params, 400, f"Bad Request (Bot API spec): {violation}")

    def _fault_reply(self, method: str, params: dict, fault: Fault) -> Reply:
        self.stats.faults += 1
        if fault.kind == "timeout":
            self._record(method, params, 504, "injected timeout")
            return Reply(
                504, {"ok": False, "error_code": 504, "description": "Gateway Timeout"}, timed_out=True, hang=fault.hang
            )
        if fault.kind == "rate_limit":
            return self._error(
                method,
                params,
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "forbidden":
            return self._error(method, params, 403, fault.description or "Forbidden: bot was blocked by the user")
        return self._error(method, params, fault.status, fault.description or HTTPStatus(fault.status).phrase)

    # ------------------------------------------------------------------ state helpers
    def _bump(self) -> None:
        self._activity += 1
        self._changed()

    def _changed(self) -> None:
        """Wake everyone waiting for news (long polls, webhook worker, settle)."""
        self._tick.set()
        self._tick = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        tick = self._tick
        try:
            # Not wait_for: on Python 3.11 it swallows a cancel that lands as the tick fires
            # (cpython gh-86296), and a long poll being stopped would go on.
            async with asyncio.timeout(timeout):
                await tick.wait()
        except TimeoutError:
            pass

    def _emit(self, kind: str, chat_id: int | None, data: dict) -> None:
        for sub in self._subscribers:
            sub.queue.put_nowait(Event(kind, chat_id, copy.deepcopy(data)))

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self._subscribers.append(sub)
        return sub

    def _now(self) -> int:
        return int(self.wallclock())

    def _chat_id(self, value: Any) -> int | None:
        if isinstance(value, str) and value.startswith("@"):
            name = value[1:].lower()
            return next((c.id for c in self.chats.values() if c.username and c.username.lower() == name), None)
        try:
            return int(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            return None

    def _store(
        self, chat: ChatState, sender: dict, content: dict, *, reply_to: dict | None = None, markup: dict | None = None
    ) -> dict:
        msg: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": dict(sender),
            "chat": chat.json(),
            "date": self._now(),
        }
        chat.next_message_id += 1
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        msg.update(content)
        if markup is not None:
            msg["reply_markup"] = markup
        chat.messages[msg["message_id"]] = msg
        self._emit("message", chat.id, msg)
        return msg

    # ------------------------------------------------------------------ webhook delivery
    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        return self._http

    async def _webhook_loop(self) -> None:
        """POST pending updates one at a time, oldest first; retry with backoff on failure."""
        delay = self.webhook_retry_delay
        while self.webhook is not None and not self._closed:
            if not self._pending:
                await self._wait_change(None)
                continue
            hook, update = self.webhook, self._pending[0]
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            try:
                response = await self._http_client().post(
                    hook["url"], content=json.dumps(update, ensure_ascii=False).encode(), headers=headers
                )
                error = (
                    None
                    if 200 <= response.status_code < 300
                    else (f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}")
                )
            except httpx.HTTPError as exc:
                error = f"Connection failed: {type(exc).__name__}"
            if self.webhook is not hook:
                continue
            if error is None:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                    self._bump()
                delay = self.webhook_retry_delay
            else:
                hook["last_error_date"], hook["last_error_message"] = self._now(), error
                self.stats.webhook_failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def aclose(self) -> None:
        """Stop the webhook worker and wake long polls; call at test teardown."""
        self._closed = True
        self._changed()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            try:
                await self._webhook_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 — teardown: the worker's end is all we wait for
                pass
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------ updates
    def _allowed_update(self, kind: str) -> bool:
        return kind in self._allowed if self._allowed else kind not in _OPT_IN_UPDATES

    def _enqueue(self, kind: str, payload: dict) -> dict | None:
        if not self._allowed_update(kind):
            return None
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        if self.self_check and self.spec:
            problems = self.spec.check_value(update, ["Update"], "update")
            if problems:
                self.violations.append(
                    SpecViolation(f"<{kind} update>", {}, "emulator update breaks the spec: " + "; ".join(problems))
                )
        self._pending.append(update)
        self.stats.updates += 1
        self._bump()
        return update

    @property
    def pending_updates(self) -> list[dict]:
        """Updates queued for the bot and not yet confirmed."""
        return list(self._pending)

    async def wait_confirmed(self, timeout: float = 5.0) -> None:
        """Wait until the bot has confirmed every queued update (offset or webhook 2xx)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{len(self._pending)} update(s) not confirmed by the bot within {timeout}s "
                    f"(is it polling, or is the webhook reachable?); first: {self._pending[0]}"
                )
            await self._wait_change(min(remaining, 0.05))

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the bot is done reacting: updates confirmed, hook drained, no new calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            mark = self._activity
            await self.wait_confirmed(max(deadline - loop.time(), 0.001))
            if self.settle_hook is not None:
                async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                    await self.settle_hook()
            for _ in range(5):  # let just-scheduled callbacks run
                await asyncio.sleep(0)
            if self.settle_hook is None and self.settle_quiet:
                await asyncio.sleep(self.settle_quiet)
            if mark == self._activity and not self._inflight and not self._pending:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"the bot did not settle within {timeout}s")
            if self._inflight:
                await self._wait_change(0.01)

    # ------------------------------------------------------------------ files
    def download(self, file_path: str) -> bytes | None:
        stored = self.files.by_path(file_path)
        return stored.data if stored is not None else None


def _printable(params: dict) -> dict:
    return {
        k: (f"<file {v.filename!r}, {len(v.data)} bytes>" if isinstance(v, UploadedFile) else v)
        for k, v in params.items()
    }
