"""Forms of supervision besides the notice (phone, on-site) and bulletins (通报)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Person, Unit
from store.types import UTCDateTime


class SupervisionRecord(Base):
    """电话督查 or 实地督查 (may be unannounced, 暗访), on an item's timeline.

    Photos of an on-site visit are ``attachments`` rows with owner_kind="supervision".
    """

    __tablename__ = "supervision_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    form: Mapped[str] = mapped_column(String(10))  # phone | onsite
    unannounced: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[str | None] = mapped_column(String(100), nullable=True)  # who was called / met
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text)  # what was said / found
    promise: Mapped[str | None] = mapped_column(Text, nullable=True)  # what the unit promised
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending | confirmed | disputed | none (on-site records need no confirmation)
    confirmation: Mapped[str] = mapped_column(String(20), default="pending")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dispute: Mapped[str | None] = mapped_column(Text, nullable=True)

    unit: Mapped[Unit] = relationship(lazy="selectin")
    recorded_by: Mapped[Person] = relationship(foreign_keys=[recorded_by_id], lazy="selectin")


class Bulletin(Base):
    """通报: criticism or commendation of a unit on an item, broadcast and counted in the score."""

    __tablename__ = "bulletins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # criticism | commendation
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    rule: Mapped[str] = mapped_column(String(40))  # the score rule it counts under
    text: Mapped[str] = mapped_column(Text)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score_event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"), nullable=True)

    unit: Mapped[Unit] = relationship(lazy="selectin")
