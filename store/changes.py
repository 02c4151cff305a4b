"""Changes to an item after it was registered (issue 12): a changed deadline, changed requirements,
a unit added or removed, a suspension (中止) and its resumption, a cancellation (撤销).

One row per proposal, with its reason: office staff propose, the office head decides (the
regulation's §5(一): what the head approved at 立项 is changed only with the head's consent).
``status``: pending → approved | rejected | withdrawn. What a kind means and when it may be made
is decided in ``bot.domain.changes``; this module only stores.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Person, Unit
from store.types import UTCDateTime


class ItemChange(Base):
    __tablename__ = "item_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    # deadline | requirements | add_unit | remove_unit | suspend | resume | cancel
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    new_due: Mapped[date | None] = mapped_column(Date, nullable=True)  # deadline
    new_text: Mapped[str | None] = mapped_column(Text, nullable=True)  # requirements
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)  # add_unit, remove_unit
    # What the change replaced, for the record and for undoing a suspension: the old deadline or
    # requirements, and for a suspension the item's and each assignment's state before it.
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    unit: Mapped[Unit | None] = relationship(lazy="selectin")
    proposed_by: Mapped[Person] = relationship(foreign_keys=[proposed_by_id], lazy="selectin")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id], lazy="selectin")
