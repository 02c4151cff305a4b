"""The one sender: drains the outbox within Telegram's limits and records what Telegram accepted.

Claiming is one UPDATE ... WHERE id IN (SELECT ... [FOR UPDATE SKIP LOCKED]) tagged with a
unique token, so two drains — two coroutines or two processes on PostgreSQL — never take the
same row. A row left in ``sending`` by a crash is ambiguous (it may have arrived): it is sent
again once, so a crash costs at most one duplicate, never a lost message.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.clock import Clock
from store.db import Database
from store.models import OutboxMessage, Person

log = logging.getLogger("duban.sender")

# Backoff after 5xx / network errors; a message still failing after these is ``failed`` (visible).
BACKOFF_SECONDS = (2, 10, 60, 300, 1800)
STALE_CLAIM = timedelta(minutes=2)


@dataclass
class Pacing:
    """Stay under Telegram's limits so it never has to say 429: ~30/s overall, ~1/s per chat."""

    overall_per_second: float = 28.0
    per_chat_interval: float = 1.0
    per_chat_burst: int = 3
    _next_slot: float = 0.0
    _chat_tokens: dict[int, tuple[float, float]] = field(default_factory=dict)

    def delay_for(self, chat_id: int, now: float) -> float:
        """Seconds to wait before this chat may get a message (0 = now); reserves the slot."""
        tokens, stamp = self._chat_tokens.get(chat_id, (float(self.per_chat_burst), now))
        tokens = min(self.per_chat_burst, tokens + (now - stamp) / self.per_chat_interval)
        chat_wait = 0.0 if tokens >= 1 else (1 - tokens) * self.per_chat_interval
        start = max(now + chat_wait, self._next_slot)
        self._next_slot = start + 1.0 / self.overall_per_second
        tokens = min(self.per_chat_burst, tokens + (start - now) / self.per_chat_interval) - 1
        self._chat_tokens[chat_id] = (tokens, start)
        return start - now


def keyboard(buttons: list | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["data"]) for b in row] for row in buttons]
    )


class Sender:
    def __init__(self, db: Database, bot: Bot, clock: Clock, pacing: Pacing | None = None,
                 on_unreachable=None) -> None:  # noqa: ANN001
        self.db = db
        self.bot = bot
        self.clock = clock
        self.pacing = pacing or Pacing()
        # Called (session, person, now) once a person is found to have blocked the bot.
        self.on_unreachable = on_unreachable

    async def drain(self, limit: int = 200) -> int:
        """Send what is due now; returns how many rows were handled."""
        rows = await self._claim(limit)
        if not rows:
            return 0
        await asyncio.gather(*(self._send_paced(row) for row in rows))
        return len(rows)

    async def drain_all(self, max_rounds: int = 100) -> int:
        total = 0
        for _ in range(max_rounds):
            handled = await self.drain()
            if not handled:
                break
            total += handled
        return total

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        now = self.clock.now()
        token = f"{uuid.uuid4().hex[:12]}"
        async with self.db.session() as s:
            # Rows a crashed sender left mid-flight: ambiguous, so retried (at most one duplicate).
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - STALE_CLAIM)
                .values(status="pending", last_error="发送中断（进程重启），重新发送")
            )
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.status == "pending")
                .values(status="sending", claimed_by=token, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            rows = (await s.scalars(
                select(OutboxMessage).where(OutboxMessage.claimed_by == token, OutboxMessage.status == "sending")
                .order_by(OutboxMessage.id)
            )).all()
        return list(rows)

    async def _send_paced(self, row: OutboxMessage) -> None:
        delay = self.pacing.delay_for(row.chat_id, time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)
        await self._send(row)

    async def _send(self, row: OutboxMessage) -> None:
        markup = keyboard(row.buttons)
        try:
            if row.kind == "document" and row.file_path:
                with open(row.file_path, "rb") as fh:
                    message = await self.bot.send_document(row.chat_id, fh, filename=row.file_name, caption=row.text,
                                                           parse_mode=ParseMode.HTML, reply_markup=markup)
            elif row.kind == "photo" and row.file_path:
                with open(row.file_path, "rb") as fh:
                    message = await self.bot.send_photo(row.chat_id, fh, caption=row.text,
                                                        parse_mode=ParseMode.HTML, reply_markup=markup)
            else:
                message = await self.bot.send_message(row.chat_id, row.text, parse_mode=ParseMode.HTML,
                                                       reply_markup=markup, disable_web_page_preview=True)
        except RetryAfter as exc:
            retry = exc.retry_after if isinstance(exc.retry_after, (int, float)) else exc.retry_after.total_seconds()
            await self._reschedule(row, seconds=float(retry), error=f"429 retry_after={retry}", count=False)
        except Forbidden as exc:
            await self._unreachable(row, str(exc))
        except TimedOut as exc:
            # Ambiguous: the message may have arrived. Resending risks one duplicate; not resending
            # risks a missed deadline reminder. A duplicate is the lesser harm: resend.
            await self._reschedule(row, seconds=BACKOFF_SECONDS[0], error=f"timeout: {exc}", count=True)
        except BadRequest as exc:
            await self._finish(row, "failed", error=f"400 {exc}")
        except (NetworkError, TelegramError) as exc:
            await self._reschedule(row, seconds=None, error=f"{type(exc).__name__}: {exc}", count=True)
        except OSError as exc:  # the photo/document file is gone: visibly failed, not retried forever
            await self._finish(row, "failed", error=f"文件无法读取：{exc}")
        else:
            await self._finish(row, "sent", message_id=message.message_id)

    async def _finish(self, row: OutboxMessage, status: str, message_id: int | None = None,
                      error: str | None = None) -> None:
        now = self.clock.now()
        async with self.db.session() as s:
            await s.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    status=status, sent_at=now if status == "sent" else None, telegram_message_id=message_id,
                    last_error=error, attempts=OutboxMessage.attempts + 1,
                )
            )
        log.info("event=outbox id=%s chat=%s status=%s%s", row.id, row.chat_id, status,
                 f" error={error}" if error else "")

    async def _reschedule(self, row: OutboxMessage, seconds: float | None, error: str, count: bool) -> None:
        attempts = row.attempts + (1 if count else 0)
        if seconds is None:
            if attempts > len(BACKOFF_SECONDS):
                await self._finish(row, "failed", error=error)
                return
            seconds = BACKOFF_SECONDS[attempts - 1]
        async with self.db.session() as s:
            await s.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    status="pending", attempts=attempts, last_error=error,
                    next_attempt_at=self.clock.now() + timedelta(seconds=seconds),
                )
            )
        log.info("event=outbox id=%s chat=%s status=retry in=%ss error=%s", row.id, row.chat_id, seconds, error)

    async def _unreachable(self, row: OutboxMessage, error: str) -> None:
        now = self.clock.now()
        async with self.db.session(action="person.unreachable") as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                status="unreachable", last_error=f"403 {error}", attempts=OutboxMessage.attempts + 1))
            person = None
            if row.person_id:
                # Two 403s for one person may be handled at once: lock the person so the office
                # is told once (the second sees unreachable_since already set).
                if not self.db.is_sqlite:
                    await s.execute(select(Person.id).where(Person.id == row.person_id).with_for_update())
                person = await s.get(Person, row.person_id)
            if person is not None:
                # What still waits for them would meet the same 403: visible at once, not tried one by one.
                await s.execute(update(OutboxMessage).where(
                    OutboxMessage.person_id == person.id, OutboxMessage.status == "pending",
                ).values(status="unreachable", last_error="收件人已屏蔽机器人"))
            if person is not None and person.unreachable_since is None:
                person.unreachable_since = now
                if self.on_unreachable is not None:
                    await self.on_unreachable(s, person, now)
        log.warning("event=outbox id=%s chat=%s status=unreachable", row.id, row.chat_id)
