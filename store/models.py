"""The tables. One source of truth: every fact the bot acts on is a row here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.types import UTCDateTime

# Stable constraint names, so Alembic migrations look the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    people: Mapped[list[Person]] = relationship(back_populates="unit")

    def __repr__(self) -> str:
        return f"Unit({self.id}, {self.name})"


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("name", "unit_id", name="uq_people_name_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True, index=True)  # migration 0016
    phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    title: Mapped[str | None] = mapped_column(String(50), nullable=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when Telegram answered 403 (blocked): the office is told, the sender stops trying.
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    unit: Mapped[Unit | None] = relationship(back_populates="people", lazy="joined")
    role_rows: Mapped[list[PersonRole]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        return any(r.role in roles for r in self.role_rows)

    @property
    def is_principal_leader(self) -> bool:
        """主要领导: a leader whose role row is flagged principal (sees every item, issue 12)."""
        return any(r.role == "leader" and r.principal for r in self.role_rows)

    def __repr__(self) -> str:
        return f"Person({self.id}, {self.name})"


class PersonRole(Base):
    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    # On a "leader" row: the principal leader (主要领导), whose /items is county-wide (issue 12).
    principal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    person: Mapped[Person] = relationship(back_populates="role_rows")


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of the code: a leaked database does not leak usable links.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    role: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # Who, when there is no person: "cli", "system", "import", "telegram:<id>".
    actor_label: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CalendarYear(Base):
    """An official holiday schedule the office loaded for a year the calendar package lacks."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source_text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_by: Mapped[str] = mapped_column(String(100))


class OutboxMessage(Base):
    """A message to send, written in the same transaction as the change that causes it.

    The sender claims pending rows, sends them and records what Telegram answered. ``dedupe_key``
    makes "send this once" a database fact: a sweep that runs twice cannot queue twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # A reply to a bot message finds the row it was sent as (and the items it was about).
        Index("ix_outbox_chat_message", "chat_id", "telegram_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True, index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="text")  # text | photo | document
    text: Mapped[str] = mapped_column(Text)
    # [[{"text": label, "data": callback_data}], ...] — plain data, turned into a keyboard by the sender.
    buttons: Mapped[list | None] = mapped_column(JSON, nullable=True)
    file_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending → sending → sent | failed | unreachable | unbound
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The items the message is about (a reply to it records progress on the one, or asks which).
    item_ids: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # A routine part waiting (status "held") to be sent in one message with the person's other
    # parts: "notice" (an event notice) or "round" (催办/weekly reminders); see bot.outbox.bundles.
    bundle: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # A part merged into another row's message (status "bundled").
    bundled_into: Mapped[int | None] = mapped_column(Integer, nullable=True)


class InboxUpdate(Base):
    """An update received from Telegram, written before it is handled (``bot.runtime.inbox``).

    PTB confirms updates to Telegram when it fetches the next batch, before handling them; this
    row is what lets a restart handle what a crash left behind, and ``update_id`` makes "this
    update is known" a database fact (a redelivered update is not handled twice).
    received → handled, or → abandoned when a restart already retried it once (``attempts``).
    """

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_status", "status", "update_id"),
        Index("ix_inbox_handled_at", "handled_at"),
    )

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)  # the update's JSON as Telegram sent it
    status: Mapped[str] = mapped_column(String(10), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # restarts that re-queued it
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The instance key of the process that received it (several instances on PostgreSQL; migration
    # 0018): while that process lives, no other one takes the update over (store.inbox.take_unhandled).
    receiver: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MenuState(Base):
    """The fingerprint of the command menu last set in a chat, so unchanged menus are not re-sent."""

    __tablename__ = "menu_states"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
