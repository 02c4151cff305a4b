"""The one sender: drains the outbox within Telegram's limits and records what Telegram accepted.

One message at a time is between "claimed" and "recorded". A row is claimed (``pending`` →
``sending``, tagged with this sender's token) only when it is about to go: the next due row of a
chat whose 1/s slot is free (``Pacing``), so a chat waiting for its slot never holds up the
others. Because only one send is ever unrecorded, a crash (kill -9) can leave at most one
ambiguous row: it may have arrived, so it is sent again — at most one duplicate per crash,
whatever the latency to Telegram, and nothing is lost. A restart takes such rows back at once
on SQLite (one process owns a SQLite database: another token's claim is a dead process's) and
after ``STALE_CLAIM`` on PostgreSQL (other instances may be alive; no claim outlives its send
timeout by that much).

What Telegram accepted is recorded however long it takes: a failing write (SQLite busy, a
read-only or locked database) is retried with backoff, logged once per change of state, and the
office is told what was delayed once the database is back.

Failures: 429 → only that chat waits ``retry_after`` (its rows move in the database); 5xx, network errors and timeouts count as
attempts on ``BACKOFF_SECONDS`` and end ``failed`` (shown in /outbox, resend offered); 400 →
``failed``; 403 → ``unreachable`` (the office is told).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut

from bot.kernel.clock import Clock
from bot.outbox.pacing import OUTBOX_CALL, Pacing, SharedLimiter, retry_seconds
from store.db import Database
from store.models import OutboxMessage, Person

log = logging.getLogger("duban.sender")

# Retries after 5xx / network errors / timeouts; a message still failing after these is ``failed``.
BACKOFF_SECONDS = (2, 10, 60, 300, 1800)
# A send that has not answered by then is given up as a timeout (PTB's own timeouts are shorter).
SEND_TIMEOUT = {"text": 20.0, "file": 120.0}
# A claim older than its send timeout plus this belongs to a dead sender (PostgreSQL, many instances).
STALE_CLAIM = timedelta(seconds=SEND_TIMEOUT["text"] + 10)
STALE_FILE_CLAIM = timedelta(seconds=SEND_TIMEOUT["file"] + 10)
IDLE_POLL_SECONDS = 0.5  # nothing due: look again this soon (rows are written by other code)
DB_BACKOFF_MAX_SECONDS = 30.0
OUTAGE_NOTICE_AFTER = timedelta(minutes=1)  # shorter hiccups are logged, not announced
DB_ERRORS = (DBAPIError, PoolTimeout, OSError)  # DBAPIError covers OperationalError (busy, read-only)


def keyboard(buttons: list | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["data"]) for b in row] for row in buttons]
    )


class Outage:
    """A database that refuses writes: one log line when it starts, one when it ends, and a
    growing pause in between (not a traceback every second)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: datetime | None = None
        self.reason: str | None = None
        self.failures = 0

    def failed(self, exc: BaseException, now: datetime) -> float:
        """Note a failure; returns how long to wait before trying again."""
        reason = describe_db_error(exc)
        if self.since is None or reason != self.reason:
            log.error("event=%s_db_unavailable reason=%s error=%s", self.what, reason, _first_line(exc))
        if self.since is None:
            self.since = now
        self.reason = reason
        self.failures += 1
        return min(DB_BACKOFF_MAX_SECONDS, 0.5 * 2 ** (self.failures - 1))

    def succeeded(self, now: datetime) -> tuple[datetime, str] | None:
        """Note a success; returns (since, reason) when this ends an outage."""
        if self.since is None:
            return None
        ended = (self.since, self.reason or "unknown")
        log.warning(
            "event=%s_db_recovered reason=%s down_seconds=%d failures=%d",
            self.what,
            ended[1],
            (now - self.since).total_seconds(),
            self.failures,
        )
        self.since, self.reason, self.failures = None, None, 0
        return ended


def describe_db_error(exc: BaseException) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "readonly"
    if "locked" in text or "busy" in text:
        return "locked"
    return "unavailable"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | retry | failed | unreachable
    error: str | None = None
    message_id: int | None = None
    retry_in: float | None = None  # seconds; None: the next rung of BACKOFF_SECONDS
    counts: bool = True  # counts as an attempt (a 429 does not)


class Sender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        clock: Clock,
        pacing: Pacing | None = None,
        on_unreachable=None,  # noqa: ANN001
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.bot = bot
        self.clock = clock
        self.token = f"{uuid.uuid4().hex[:16]}"  # this sender's claims
        limiter = getattr(bot, "rate_limiter", None)
        self._limiter = limiter if isinstance(limiter, SharedLimiter) else None
        self.pacing = pacing or (self._limiter.pacing if self._limiter else Pacing())
        # Called (session, person, now) once a person is found to have blocked the bot.
        self.on_unreachable = on_unreachable
        self.sleep = sleep  # waits for the database (tests move a FakeClock instead)
        self.outage = Outage("outbox")
        self._announce: tuple[datetime, datetime, str] | None = None
        self._running: Callable[[], bool] = lambda: True
        # Makes held routine parts due now ``pending`` (bot.domain.notices), before each pass.
        self.release_held: Callable[[], Awaitable[object]] | None = None

    @property
    def pacing(self) -> Pacing:
        return self._pacing

    @pacing.setter
    def pacing(self, value: Pacing) -> None:
        # Direct replies (the bot's rate limiter) and the sender share one budget.
        self._pacing = value
        if self._limiter is not None:
            self._limiter.pacing = value

    # ------------------------------------------------------------------ the loop
    async def run(self, running: Callable[[], bool]) -> None:
        """The running bot's sender: send whatever is due, continuously, until ``running()`` is false."""
        self._running = running
        recovered = False
        while running():
            if not recovered:
                try:
                    await self.recover_at_startup()
                    recovered = True
                except DB_ERRORS as exc:
                    await self.sleep(self.outage.failed(exc, self.clock.now()))
                    continue
            delay = await self.step()
            if delay > 0 and running():
                await self.sleep(delay)

    async def step(self) -> float:
        """One pass: send what is due now. Returns how long to wait before the next pass."""
        try:
            if self.outage.since is not None:
                await self.release_stale()  # a write: is the database back?
                self._healthy()
            if self._announce is not None:
                await self._tell_office(*self._announce)
                self._announce = None
            handled = await self.drain()
        except DB_ERRORS as exc:
            return self.outage.failed(exc, self.clock.now())
        except Stopping:
            return 0.0
        except Exception:  # a bug must not stop the sender; logged with its traceback
            log.exception("event=outbox_round_failed")
            return DB_BACKOFF_MAX_SECONDS
        return 0.0 if handled else IDLE_POLL_SECONDS

    async def drain(self, limit: int | None = None) -> int:
        """Send everything due now, paced; returns how many rows were handled."""
        await self.release_stale()
        if self.release_held is not None:
            await self.release_held()
        handled = 0
        row: OutboxMessage | None = None  # claimed, about to go
        while (limit is None or handled < limit) and self._running():
            if row is None:
                cooling = self.pacing.cooling()
                row = await self._claim_next(cooling)
            if row is None:
                waiting = await self._due_chats(cooling) if cooling else []
                if not waiting:
                    break
                # Only chats waiting for their slot have due rows: sleep until the first slot.
                await self.pacing.sleep(max(0.001, min(self.pacing.chat_wait(c) for c in waiting)))
                continue
            if (wait := self.pacing.outbox_wait()) > 0:
                await self.pacing.sleep(wait)
            handled += 1
            # The outcome is recorded and the next row claimed in one transaction.
            row = await self._deliver(row, claim_next=limit is None or handled < limit)
        if row is not None:  # claimed for a turn that is not coming (limit, stop): give it back
            await self._write(lambda: self._unclaim(row.id))
        return handled

    async def drain_all(self, max_rounds: int = 100) -> int:
        total = 0
        for _ in range(max_rounds):
            handled = await self.drain()
            if not handled:
                break
            total += handled
        return total

    # ------------------------------------------------------------------ claims
    async def recover_at_startup(self) -> int:
        """Take back what a dead sender left in ``sending``: on SQLite every other token's claim
        (one process owns the file), on PostgreSQL the stale ones."""
        if not self.db.is_sqlite:
            return await self.release_stale()
        return await self._release(OutboxMessage.claimed_by.is_distinct_from(self.token))

    async def release_stale(self) -> int:
        now = self.clock.now()
        is_file = OutboxMessage.kind.in_(("photo", "document"))
        return await self._release(
            or_(
                and_(~is_file, OutboxMessage.claimed_at < now - STALE_CLAIM),
                OutboxMessage.claimed_at < now - STALE_FILE_CLAIM,
            )
        )

    async def _release(self, which) -> int:  # noqa: ANN001
        """Rows a crashed sender left mid-flight are ambiguous: sent again (at most one duplicate).
        The interrupted try counts, so a message that kills the process each time ends ``failed``."""
        stuck = and_(OutboxMessage.status == "sending", which)
        async with self.db.session() as s:
            failed = await s.execute(
                update(OutboxMessage)
                .where(stuck, OutboxMessage.attempts >= len(BACKOFF_SECONDS))
                .values(status="failed", attempts=OutboxMessage.attempts + 1, last_error="发送中断（进程重启）次数过多")
                .execution_options(synchronize_session=False)
            )
            again = await s.execute(
                update(OutboxMessage)
                .where(stuck)
                .values(
                    status="pending", attempts=OutboxMessage.attempts + 1, last_error="发送中断（进程重启），重新发送"
                )
                .execution_options(synchronize_session=False)
            )
        # An UPDATE answers with a CursorResult; Session.execute is typed as the plain Result.
        gone = cast("CursorResult[Any]", failed).rowcount or 0
        count = gone + (cast("CursorResult[Any]", again).rowcount or 0)
        if count:
            log.warning("event=outbox_recovered rows=%s failed=%s", count, gone)
        return count

    async def _claim_next(self, cooling: set[int]) -> OutboxMessage | None:
        async with self.db.session() as s:
            row = await self._claim_in(s, cooling)
        self._healthy()
        return row

    async def _claim_in(self, s: AsyncSession, cooling: set[int]) -> OutboxMessage | None:
        """Claim the next due row of a chat whose slot is free: urgent first, then oldest due."""
        now = self.clock.now()
        due = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.urgent.desc(), OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
        )
        if cooling:
            due = due.where(OutboxMessage.chat_id.not_in(sorted(cooling)))
        if self.release_held is not None:  # routine parts go once the hook has looked at them
            due = due.where(OutboxMessage.bundle.is_(None))
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        return (
            await s.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id == due.scalar_subquery(), OutboxMessage.status == "pending")
                .values(status="sending", claimed_by=self.token, claimed_at=now)
                .returning(OutboxMessage)
                .execution_options(synchronize_session=False)
            )
        ).first()

    async def _unclaim(self, row_id: int) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row_id,
                    OutboxMessage.status == "sending",
                    OutboxMessage.claimed_by == self.token,
                )
                .values(status="pending")
            )

    async def _due_chats(self, chats: set[int]) -> list[int]:
        now = self.clock.now()
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(OutboxMessage.chat_id)
                    .distinct()
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.next_attempt_at <= now,
                        OutboxMessage.chat_id.in_(sorted(chats)),
                        OutboxMessage.bundle.is_(None) if self.release_held is not None else true(),
                    )
                )
            ).all()
        return [chat for chat in rows if chat is not None]  # IN (...) never matches NULL: a no-op for the type

    # ------------------------------------------------------------------ one message
    async def _deliver(self, row: OutboxMessage, claim_next: bool = False) -> OutboxMessage | None:
        """Send one claimed row and record the outcome; returns the next claimed row (``claim_next``)."""
        self.pacing.take(row.chat_id)
        outcome = await self._attempt(row)
        after = self.pacing.cooling() if claim_next else None
        if outcome.status == "unreachable":
            return await self._unreachable(row, outcome.error or "", claim_next=after)
        if outcome.status == "retry":
            return await self._reschedule(
                row, seconds=outcome.retry_in, error=outcome.error or "", count=outcome.counts, claim_next=after
            )
        return await self._finish(
            row, outcome.status, message_id=outcome.message_id, error=outcome.error, claim_next=after
        )

    async def _attempt(self, row: OutboxMessage) -> Outcome:
        timeout = SEND_TIMEOUT["file" if row.kind in ("photo", "document") else "text"]
        try:
            # Not wait_for: on Python 3.11 it swallows a cancel that lands as the call completes
            # (cpython gh-86296), and a sender told to stop would go on sending.
            async with asyncio.timeout(timeout):
                message = await self._call(row)
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            return Outcome("retry", f"429 retry_after={seconds:g}", retry_in=seconds, counts=False)
        except Forbidden as exc:
            return Outcome("unreachable", str(exc))
        except TimedOut as exc:
            # Ambiguous: the message may have arrived. Resending risks one duplicate; not resending
            # risks a missed deadline reminder. A duplicate is the lesser harm, within the ladder.
            return Outcome("retry", f"timeout: {exc}")
        except BadRequest as exc:
            return Outcome("failed", f"400 {exc}")
        except TelegramError as exc:  # 5xx, network errors
            return Outcome("retry", f"{type(exc).__name__}: {exc}")
        except TimeoutError:
            return Outcome("retry", f"timeout: no answer within {timeout:g}s")
        except OSError as exc:  # the photo/document file is gone: visibly failed, not retried forever
            return Outcome("failed", f"文件无法读取：{exc}")
        except Exception as exc:  # a bug for this one message: logged, retried, then failed
            log.exception("event=outbox_send_error id=%s chat=%s", row.id, row.chat_id)
            return Outcome("retry", f"{type(exc).__name__}: {exc}")
        return Outcome("sent", message_id=message.message_id)

    async def _call(self, row: OutboxMessage):  # noqa: ANN202
        assert row.chat_id is not None  # a row is pending only with a chat (bot.outbox.queue.enqueue)
        markup = keyboard(row.buttons)
        extra: dict[str, Any] = {"rate_limit_args": OUTBOX_CALL} if self._limiter is not None else {}
        if row.kind == "document" and row.file_path:
            with open(row.file_path, "rb") as fh:
                return await self.bot.send_document(
                    row.chat_id,
                    fh,
                    filename=row.file_name,
                    caption=row.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    **extra,
                )
        if row.kind == "photo" and row.file_path:
            with open(row.file_path, "rb") as fh:
                return await self.bot.send_photo(
                    row.chat_id, fh, caption=row.text, parse_mode=ParseMode.HTML, reply_markup=markup, **extra
                )
        return await self.bot.send_message(
            row.chat_id,
            row.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
            **extra,
        )

    # ------------------------------------------------------------------ recording
    async def _write(self, work: Callable[[], Awaitable[object]]):  # noqa: ANN202
        """Run a database write until it succeeds: what Telegram accepted must not be forgotten
        (left ``sending``, it would be sent again)."""
        while True:
            try:
                result = await work()
            except DB_ERRORS as exc:
                wait = self.outage.failed(exc, self.clock.now())
                if not self._running():
                    raise Stopping from exc
                await self.sleep(wait)
                continue
            self._healthy()
            return result

    def _healthy(self) -> None:
        now = self.clock.now()
        ended = self.outage.succeeded(now)
        if ended is not None and now - ended[0] >= OUTAGE_NOTICE_AFTER:
            self._announce = (ended[0], now, ended[1])

    async def _finish(
        self,
        row: OutboxMessage,
        status: str,
        message_id: int | None = None,
        error: str | None = None,
        claim_next: set[int] | None = None,
    ) -> OutboxMessage | None:
        async def write() -> OutboxMessage | None:
            async with self.db.session() as s:
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(
                        status=status,
                        sent_at=self.clock.now() if status == "sent" else None,
                        telegram_message_id=message_id,
                        last_error=error,
                        attempts=OutboxMessage.attempts + 1,
                    )
                )
                return await self._claim_in(s, claim_next) if claim_next is not None else None

        following = await self._write(write)
        log.info(
            "event=outbox id=%s chat=%s status=%s%s", row.id, row.chat_id, status, f" error={error}" if error else ""
        )
        return following

    async def _reschedule(
        self, row: OutboxMessage, seconds: float | None, error: str, count: bool, claim_next: set[int] | None = None
    ) -> OutboxMessage | None:
        attempts = row.attempts + (1 if count else 0)
        if seconds is None:
            if attempts > len(BACKOFF_SECONDS):
                return await self._finish(row, "failed", error=error, claim_next=claim_next)
            seconds = BACKOFF_SECONDS[attempts - 1]

        async def write() -> OutboxMessage | None:
            later = self.clock.now() + timedelta(seconds=seconds)
            async with self.db.session() as s:
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(
                        status="pending",
                        attempts=attempts,
                        last_error=error,
                        next_attempt_at=later,
                    )
                )
                if not count:  # a 429: the whole chat waits (in the database, so a restart waits too)
                    await s.execute(
                        update(OutboxMessage)
                        .where(
                            OutboxMessage.chat_id == row.chat_id,
                            OutboxMessage.status == "pending",
                            OutboxMessage.next_attempt_at < later,
                        )
                        .values(next_attempt_at=later)
                        .execution_options(synchronize_session=False)
                    )
                return await self._claim_in(s, claim_next) if claim_next is not None else None

        following = await self._write(write)
        log.info("event=outbox id=%s chat=%s status=retry in=%ss error=%s", row.id, row.chat_id, seconds, error)
        return following

    async def _unreachable(
        self, row: OutboxMessage, error: str, claim_next: set[int] | None = None
    ) -> OutboxMessage | None:
        now = self.clock.now()

        async def write() -> OutboxMessage | None:
            async with self.db.session(action="person.unreachable") as s:
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(status="unreachable", last_error=f"403 {error}", attempts=OutboxMessage.attempts + 1)
                )
                person = None
                if row.person_id:
                    # Two 403s for one person may be handled at once: lock the person so the office
                    # is told once (the second sees unreachable_since already set).
                    if not self.db.is_sqlite:
                        await s.execute(select(Person.id).where(Person.id == row.person_id).with_for_update())
                    person = await s.get(Person, row.person_id)
                if person is not None:
                    # What still waits for them would meet the same 403: visible at once, not tried one by one.
                    await s.execute(
                        update(OutboxMessage)
                        .where(
                            OutboxMessage.person_id == person.id,
                            OutboxMessage.status == "pending",
                        )
                        .values(status="unreachable", last_error="收件人已屏蔽机器人")
                    )
                if person is not None and person.unreachable_since is None:
                    person.unreachable_since = now
                    if self.on_unreachable is not None:
                        await self.on_unreachable(s, person, now)
                return await self._claim_in(s, claim_next) if claim_next is not None else None

        following = await self._write(write)
        log.warning("event=outbox id=%s chat=%s status=unreachable", row.id, row.chat_id)
        return following

    # ------------------------------------------------------------------ after an outage
    async def _tell_office(self, since: datetime, until: datetime, reason: str) -> None:
        from bot.domain.urging import tell_office_delayed  # the domain imports this module's neighbours

        async with self.db.session(action="outbox.outage_notice") as s:
            told = await tell_office_delayed(s, since, until, reason, now=self.clock.now())
        log.warning("event=outbox_outage_notice since=%s reason=%s office_told=%s", since.isoformat(), reason, told)


class Stopping(Exception):
    """The bot stops while a write still fails: the row stays ``sending`` and a restart takes it back."""
