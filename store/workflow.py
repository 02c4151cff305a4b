"""The workflow tables: items, assignments and every record made while handling them.

One row per fact. State columns hold codes (``draft``, ``assigned`` ...); what they mean and who
may move them is decided in ``bot.domain.workflow`` — this module only stores. Every relationship
loads eagerly with ``selectin`` (async sessions cannot lazy-load), and nothing on ``Item`` is
joined-loaded so ``SELECT ... FOR UPDATE`` stays valid on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Person, Unit
from store.types import UTCDateTime


class ItemCounter(Base):
    """The last item number given out in a year (督字〔year〕N号): one row per year, locked to count."""

    __tablename__ = "item_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class ItemLeader(Base):
    """A county leader responsible for an item: reads the result, agrees or adds an instruction."""

    __tablename__ = "item_leaders"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)

    person: Mapped[Person] = relationship(lazy="selectin")


class Item(Base):
    """A supervision item (督查事项) from registration to archive."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("year", "number", name="uq_items_year_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Given at approval: 督字〔year〕number号. NULL while a draft.
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(String(100))
    requirements: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    importance: Mapped[str] = mapped_column(String(20))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    # 督查室自办 (§5(二), issue 12; migration 0017): no unit is assigned, the office reports the result.
    office_handled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    weekly_feedback: Mapped[bool] = mapped_column(Boolean, default=False)
    # The deadline as asked for: N working days after approval, or a date. Exactly one is set.
    deadline_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The deadline as fixed at approval (assignments carry their own, which extensions move).
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # What /items sorts by, kept by database triggers on assignments (migration 0009), never
    # written here: the earliest due date still owed (the item's light) and the lead unit's.
    owing_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    lead_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    follower_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How many times it was submitted for approval (a resubmission after 退回 counts again).
    submission_count: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="item", lazy="selectin", order_by="Assignment.id", cascade="all"
    )
    leader_rows: Mapped[list[ItemLeader]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ItemLeader.person_id"
    )
    follower: Mapped[Person | None] = relationship(foreign_keys=[follower_id], lazy="selectin")
    created_by: Mapped[Person] = relationship(foreign_keys=[created_by_id], lazy="selectin")

    @property
    def leaders(self) -> list[Person]:
        return [row.person for row in self.leader_rows]

    def __repr__(self) -> str:
        return f"Item({self.id}, {self.year}-{self.number}, {self.state})"


class Assignment(Base):
    """One unit's share of an item (承办): lead (主办) or assisting (协办), with its own state and deadline."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "unit_id", name="uq_assignments_item_unit"),
        # The escalation sweep reads only live assignments due soon: it must not scan them all.
        Index("ix_assignments_state_due", "state", "due_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # lead | assist
    state: Mapped[str] = mapped_column(String(20))
    # The unit's own task (分工任务, §4(五), issue 12; migration 0017); NULL: the item's requirements.
    task: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # The deadline in force. due_basis/due_days are kept while it was counted in working days, so a
    # provisional one (counted through a year nobody loaded) can be recounted later.
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    due_basis: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    declined_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    item: Mapped[Item] = relationship(back_populates="assignments", lazy="selectin")
    unit: Mapped[Unit] = relationship(lazy="selectin")

    def __repr__(self) -> str:
        return f"Assignment({self.id}, item={self.item_id}, unit={self.unit_id}, {self.role}, {self.state})"


class ItemApproval(Base):
    """The office head's decision on a submission: approved, or returned with a reason."""

    __tablename__ = "item_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)

    decided_by: Mapped[Person] = relationship(lazy="selectin")


class Plan(Base):
    """A unit's work plan (工作方案); a new one supersedes the earlier ones, which are kept."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="plan", lazy="selectin", order_by="Milestone.due_date, Milestone.id", cascade="all"
    )
    created_by: Mapped[Person] = relationship(lazy="selectin")


class Milestone(Base):
    """A dated step of a plan (时间节点)."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)

    plan: Mapped[Plan] = relationship(back_populates="milestones", lazy="selectin")


class Progress(Base):
    """A progress report (反馈进展), weekly for items longer than a week."""

    __tablename__ = "progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    created_by: Mapped[Person] = relationship(lazy="selectin")


class CompletionReport(Base):
    """A completion report (办结报告); status pending → approved | returned."""

    __tablename__ = "completion_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    assignment: Mapped[Assignment] = relationship(lazy="selectin")
    created_by: Mapped[Person] = relationship(lazy="selectin")


class OfficeReport(Base):
    """The office's own result (办理结果) of an item it handles itself (督查室自办, migration 0017).

    A unit's result is a ``CompletionReport`` of its assignment; an office-handled item has no
    assignment, so its result is kept here, one row per report (a leader's 退回重办 asks again)."""

    __tablename__ = "office_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    created_by: Mapped[Person] = relationship(lazy="selectin")


class Review(Base):
    """The office's review (审核) of a completion report, with an optional site-verification note."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("completion_reports.id", ondelete="CASCADE"), index=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    site_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    reviewed_by: Mapped[Person] = relationship(lazy="selectin")


class LeaderReview(Base):
    """A responsible leader's reading of the result (审阅): agreed, or with an instruction (批示)."""

    __tablename__ = "leader_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decision: Mapped[str] = mapped_column(String(20))  # agree | instruct | return | direct (issue 12)
    instruction: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    leader: Mapped[Person] = relationship(lazy="selectin")


class ExtensionRequest(Base):
    """A unit asks for a later deadline (延期申请); status pending → approved | rejected | cancelled."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    old_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    new_due: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    assignment: Mapped[Assignment] = relationship(lazy="selectin")
    requested_by: Mapped[Person] = relationship(foreign_keys=[requested_by_id], lazy="selectin")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id], lazy="selectin")


class Transfer(Base):
    """A unit says the item is not its business (转办); the office reassigns it or refuses."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    new_assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)

    assignment: Mapped[Assignment] = relationship(foreign_keys=[assignment_id], lazy="selectin")
    requested_by: Mapped[Person] = relationship(foreign_keys=[requested_by_id], lazy="selectin")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id], lazy="selectin")
    to_unit: Mapped[Unit | None] = relationship(lazy="selectin")


class Attachment(Base):
    """A file sent with a progress report, plan or completion report.

    ``owner_kind``/``owner_id`` name the record it belongs to (``progress``, ``plan``, ``report``);
    ``item_id`` and ``assignment_id`` are real foreign keys for the dossier and for access checks.
    The bytes live content-addressed under the files directory (``local_path``), once per sha256.
    """

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_owner", "owner_kind", "owner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    owner_kind: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(Integer)
    telegram_file_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    telegram_file_unique_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    local_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    file_name: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
