"""What 催办 has done, as rows: reminders sent per round, weekly feedback weeks, sweep runs.

Unique keys make every sweep idempotent: a round that runs twice finds its rows and sends nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.audit import audit_bulk
from store.models import Base
from store.types import UTCDateTime


class Reminder(Base):
    """One rung of the ladder reached for one assignment and one person on one local day."""

    __tablename__ = "reminders"
    __table_args__ = (
        # Also the index for look-ups by assignment (its first column): a separate one only cost
        # every insert an index write (migration 0008 dropped it).
        UniqueConstraint("assignment_id", "person_id", "level", "round_date", name="uq_reminders_round"),
        # A round's own rungs, read by the sweep: one day's rows, however long the history.
        Index("ix_reminders_day", "round_date", "level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    # due_soon | due_today | overdue | overdue_leader | unsigned | unsigned_head | manual, or a
    # milestone's ms_soon:<id> | ms_today:<id> | ms_late:<id> (see bot.domain.urging, .chasing)
    level: Mapped[str] = mapped_column(String(30))
    round_date: Mapped[date] = mapped_column(Date)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


ReminderRow = tuple[int, int, str, date, int | None]  # assignment, person, level, round day, outbox id
REMINDER_KEY = ["assignment_id", "person_id", "level", "round_date"]
PG_CHUNK, SQLITE_CHUNK = 50_000, 5_000  # rungs per statement (one statement for a bench-size round)


async def insert_reminders(session: AsyncSession, rows: Sequence[ReminderRow], created_at: datetime) -> None:
    """Write rungs in bulk, each with the message that tells about it; a rung already there is
    left as it is (ON CONFLICT DO NOTHING).

    PostgreSQL gets one ``INSERT … SELECT unnest(arrays)``: one statement and one plan for the
    thousands of rungs of a county's round, where a row-by-row executemany cost about half as
    much again. SQLite runs an executemany in-process, which is as fast.

    The mapper hooks do not see a Core insert: one audit row sums the statement up (rows written,
    the rungs asked for, per level, and the round days). A row per rung would double what a county's round writes.
    """
    if not rows:
        return
    levels = Counter(row[2] for row in rows)
    days = sorted({row[3].isoformat() for row in rows})
    table = cast(Table, Reminder.__table__)
    columns = [*REMINDER_KEY, "outbox_id"]
    conn = await session.connection()
    written = 0
    # In chunks: a county's first round after start-up has ~300k rungs, and their parameters
    # built at once (a dict per row for SQLite's executemany) were the round's memory peak.
    if conn.dialect.name == "postgresql":
        types = (Integer, Integer, String, Date, Integer)
        source = select(
            *(func.unnest(bindparam(f"p_{c}", type_=ARRAY(t))) for c, t in zip(columns, types, strict=True)),
            literal(created_at, UTCDateTime),
        )
        stmt = (
            pg_insert(table)
            .from_select([*columns, "created_at"], source)
            .on_conflict_do_nothing(index_elements=REMINDER_KEY)
        )
        for start in range(0, len(rows), PG_CHUNK):
            chunk = rows[start : start + PG_CHUNK]
            arrays = zip(*chunk, strict=True)
            result = await conn.execute(stmt, {f"p_{c}": list(a) for c, a in zip(columns, arrays, strict=True)})
            written += result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(chunk)
    else:
        lite = sqlite_insert(table).on_conflict_do_nothing(index_elements=REMINDER_KEY)
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = rows[start : start + SQLITE_CHUNK]
            result = await conn.execute(
                lite, [{**dict(zip(columns, row, strict=True)), "created_at": created_at} for row in chunk]
            )
            written += result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(chunk)
    await audit_bulk(
        session, "reminders", "reminders.insert", written, planned=len(rows), levels=dict(levels), days=days
    )


class FeedbackWeek(Base):
    """A week in which a unit owed weekly progress on an item (regulation §5(三))."""

    __tablename__ = "feedback_weeks"
    __table_args__ = (UniqueConstraint("assignment_id", "week_start", name="uq_feedback_weeks_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    # open | received | missed
    status: Mapped[str] = mapped_column(String(20), default="open")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    score_event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"), nullable=True)


class SweepRun(Base):
    """When a sweep last completed: the start-up catch-up knows what it missed."""

    __tablename__ = "sweep_runs"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
