"""The score ledger (考核): append-only events per unit and year, and the frozen final tables.

A correction is a new event that reverses an earlier one (``reverses_id``), never an edit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Person, Unit
from store.types import UTCDateTime


class ScoreEvent(Base):
    __tablename__ = "score_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # A rule code from bot.domain.score.RULES, e.g. "criticism.decision", "late_feedback".
    rule: Mapped[str] = mapped_column(String(40))
    points: Mapped[int] = mapped_column(Integer)
    # Fraud (瞒报、谎报、弄虚作假) disqualifies from year-end honours; it carries no points by default.
    disqualifies: Mapped[bool] = mapped_column(Boolean, default=False)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True, index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"), nullable=True, unique=True)
    # Automatic events are recorded once, whatever runs twice (sweeps, retries).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)

    unit: Mapped[Unit] = relationship(lazy="selectin")
    recorded_by: Mapped[Person | None] = relationship(lazy="selectin", foreign_keys=[recorded_by_id])


class ScoreYear(Base):
    """A year's final table, approved by the office head; once frozen, no event may be added."""

    __tablename__ = "score_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # The approved table as it stood (unit, score, rank, disqualified), kept for the record.
    snapshot: Mapped[str] = mapped_column(Text)
