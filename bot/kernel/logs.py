"""Structured logs: one ``key=value`` line per update handled and per Bot API call; never the token."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput  # the type PTB gives these parameters

import logging
import re
import sys
import time
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

# A bot token is "<digits>:<35 url-safe chars>"; redact anything shaped like one, wherever it appears.
_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
# The secrets of this process (token, webhook secret), redacted even where not token-shaped.
_SECRETS: set[str] = set()


def redact(text: str, *secrets: str) -> str:
    """``text`` without the registered secrets, ``secrets`` and anything shaped like a bot token."""
    for secret in (*secrets, *_SECRETS):
        if secret:
            text = text.replace(secret, "<token>")
    return _TOKEN_RE.sub("<token>", text)


def _redact_record(record: logging.LogRecord, *secrets: str) -> None:
    """Rewrite the message, the traceback and the stack in place, before any handler formats them.

    The traceback is formatted once here and cached in ``exc_text``, which every Formatter uses
    instead of formatting ``exc_info`` again: PTB's InvalidToken carries the token in its text.
    """
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 — a bad format string is logging's own error to report
        return
    record.msg, record.args = redact(message, *secrets), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text, *secrets)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, *secrets)


class RedactTokens(logging.Filter):
    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, *self._secrets)
        return True


class RedactingFormatter(logging.Formatter):
    """The last line of defence: the whole formatted line, traceback included, is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it; a stale stream is closed)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


_base_record_factory = logging.getLogRecordFactory()


def _redacting_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_record_factory(*args, **kwargs)
    _redact_record(record)
    return record


def protect_secrets(*secrets: str) -> None:
    """From now on no log record of this process carries these secrets (whichever handler it reaches)."""
    _SECRETS.update(s for s in secrets if s)
    logging.setLogRecordFactory(_redacting_record_factory)


def setup_logging(level: str = "INFO", *secrets: str) -> None:
    protect_secrets(*secrets)
    handler = _StderrHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactTokens(*secrets))
    handler.set_name("duban")
    root = logging.getLogger()
    # Replace our own handler from an earlier call; leave others (a test's log capture) alone.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "duban"] + [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # library warnings go through the redacting handler too
    # httpx logs every request URL, which contains the token; our own request log replaces it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A round skipped because the previous one still runs is by design (max_instances=1), not news.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def describe_update(update: Update) -> dict[str, Any]:
    kind = next(
        (k for k in ("message", "callback_query", "edited_message", "my_chat_member") if getattr(update, k)), "other"
    )
    fields: dict[str, Any] = {"update_id": update.update_id, "kind": kind}
    if update.effective_user:
        fields["user"] = update.effective_user.id
    if update.effective_chat:
        fields["chat"] = update.effective_chat.id
    message = update.message
    if message is not None and message.text and message.text.startswith("/"):
        fields["command"] = message.text.split(maxsplit=1)[0][:32]
    elif update.callback_query is not None:
        fields["data"] = (update.callback_query.data or "")[:32]
    return fields


def kv(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in fields.items())


update_log = logging.getLogger("duban.update")
send_log = logging.getLogger("duban.send")


class LoggedApplication(Application):
    """An Application that writes one line per update it handled, with the time it took."""

    async def process_update(self, update: object) -> None:
        started = time.perf_counter()
        outcome = "ok"
        try:
            await super().process_update(update)
        except Exception:
            outcome = "error"
            raise
        finally:
            if isinstance(update, Update) and update_log.isEnabledFor(logging.INFO):
                fields = describe_update(update)
                fields["outcome"] = outcome
                fields["ms"] = round((time.perf_counter() - started) * 1000, 1)
                update_log.info("event=update %s", kv(fields))


class LoggedRequest(BaseRequest):
    """Wraps the real request object: one line per Bot API call that sends or edits something."""

    _LOGGED_PREFIXES = ("send", "edit", "copy", "forward", "delete", "answer")

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        started = time.perf_counter()
        status: int | str = "exception"
        try:
            status, payload = await self._inner.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
            return status, payload
        finally:
            if api_method.startswith(self._LOGGED_PREFIXES):
                params = request_data.parameters if request_data else {}
                send_log.info(
                    "event=api method=%s chat=%s status=%s ms=%.1f",
                    api_method,
                    params.get("chat_id", "-"),
                    status,
                    (time.perf_counter() - started) * 1000,
                )
