"""What 催办 has done, as rows: reminders sent per round, weekly feedback weeks, sweep runs.

Unique keys make every sweep idempotent: a round that runs twice finds its rows and sends nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.types import UTCDateTime


class Reminder(Base):
    """One rung of the ladder reached for one assignment and one person on one local day."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("assignment_id", "person_id", "level", "round_date", name="uq_reminders_round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    # due_soon | due_today | overdue | overdue_leader (see bot.domain.urging)
    level: Mapped[str] = mapped_column(String(30))
    round_date: Mapped[date] = mapped_column(Date)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
