"""The upward report (督查工作情况报告): one row per report built, with the office head's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Person
from store.types import UTCDateTime


class UpwardReport(Base):
    """A month's 督查工作情况报告 for the county government (regulation §7(一), §5(六)).

    Built from the data into a Word file kept under the files directory; the office head approves
    it (then it goes to the county leaders) or returns it with a reason. A newer report for the
    same month supersedes a pending one. state: pending → approved | returned | superseded.
    """

    __tablename__ = "upward_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # "2026-11"
    state: Mapped[str] = mapped_column(String(20))
    file_path: Mapped[str] = mapped_column(String(500))
    file_name: Mapped[str] = mapped_column(String(200))
    # The figures as they stood when it was built (the document says the same), for the record.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)  # None: monthly sweep
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # "monthly:2026-11" for the sweep's report: a sweep that runs twice builds one.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)

    requested_by: Mapped[Person | None] = relationship(foreign_keys=[requested_by_id], lazy="selectin")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id], lazy="selectin")
