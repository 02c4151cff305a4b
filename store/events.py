"""The business history of an item (``item_events``): what happened to it, when, by whom.

One row per moment the dossier (卷宗) and ``/item`` tell: registered, submitted, approved, a notice
sent, 签收, progress, a report, a review, a leader's instruction, closed, archived … Each row
names its record (``ref_id`` in the table its ``kind`` implies), where the content lives. Written
by the domain services (``bot.domain.events.record_event``) in the same transaction as the
change; append-only. The audit trail (``store.audit``) is a different thing: who changed which
column of which row, for accountability, not for telling the story.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.types import UTCDateTime


class ItemEvent(Base):
    __tablename__ = "item_events"
    # An item's history in the order it was written.
    __table_args__ = (Index("ix_item_events_item", "item_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), nullable=True)
    kind: Mapped[str] = mapped_column(String(30))  # one of bot.domain.events.KINDS
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # The record the event is about (a progress row, a review …); NULL for item-level moments.
    ref_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
