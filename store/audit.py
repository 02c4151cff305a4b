"""The audit trail, written by the session itself.

Every flush records, for each row it inserts, updates or deletes, who did it, when, on which
record, and the values before and after. Doing it in mapper hooks (rather than in each service)
means no ORM write path can forget it. Services name the action (``session.info["action"]``) and
the actor (``session.info["actor"]``) through ``Database.session``.

Core statements (bulk INSERT/UPDATE) pass by the hooks: their callers write the row themselves
with ``audit_write`` (one row per record) or ``audit_bulk`` (one summarised row per statement,
for the sweeps' thousands of rows, where a row each would double the writes).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import object_session

from store.events import ItemEvent
from store.models import AuditEntry, Base, OutboxMessage

# Tables that are logs themselves: the audit log, the outbox (what was sent, tried, answered) and
# an item's append-only business history (written with the same actor as the change it tells).
NOT_AUDITED: set[str] = {AuditEntry.__tablename__, OutboxMessage.__tablename__, ItemEvent.__tablename__}


@dataclass(frozen=True)
class Actor:
    person_id: int | None
    label: str

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(None, label)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _row_id(state) -> str:  # noqa: ANN001
    return "/".join(str(v) for v in state.mapper.primary_key_from_instance(state.obj()))


def _columns(state) -> dict[str, Any]:  # noqa: ANN001
    return {attr.key: _jsonable(getattr(state.obj(), attr.key)) for attr in state.mapper.column_attrs}


def _changes(state) -> tuple[dict[str, Any], dict[str, Any]]:  # noqa: ANN001
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            before[attr.key] = _jsonable(hist.deleted[0]) if hist.deleted else None
            after[attr.key] = _jsonable(hist.added[0]) if hist.added else None
    return before, after


def _write(connection, target, verb: str, before: dict | None, after: dict | None) -> None:  # noqa: ANN001
    state = inspect(target)
    table = state.mapper.local_table.name
    if table in NOT_AUDITED:
        return
    session = object_session(target)
    info = session.info if session is not None else {}
    connection.execute(
        insert(AuditEntry), _entry(info, table, _row_id(state), info.get("action") or f"{table}.{verb}", before, after)
    )


def _entry(info: dict, entity: str, entity_id: str, action: str, before: dict | None, after: dict | None) -> dict:
    actor: Actor = info.get("actor") or Actor.system()
    now_fn = info.get("now_fn") or (lambda: dt.datetime.now(dt.UTC))
    return {
        "at": now_fn(),
        "actor_id": actor.person_id,
        "actor_label": actor.label,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }


async def audit_write(
    session: AsyncSession,
    entity: str,
    entity_id: object,
    before: dict | None,
    after: dict | None,
    *,
    verb: str = "update",
) -> None:
    """The audit row of one record written by a Core statement, as the session's actor and action."""
    action = session.info.get("action") or f"{entity}.{verb}"
    await session.execute(
        insert(AuditEntry), _entry(session.info, entity, str(entity_id), action, _jsonable(before), _jsonable(after))
    )


BULK_ID = "*"  # the entity_id of a summarised row: many records, described in ``after``


async def audit_bulk(session: AsyncSession, entity: str, action: str, rows: int, **facts: Any) -> None:
    """One audit row for a bulk statement that wrote ``rows`` rows of ``entity``: how many, and
    ``facts`` enough to find them (e.g. the round's day). Nothing is written for 0 rows."""
    if rows <= 0:
        return
    await session.execute(
        insert(AuditEntry),
        _entry(
            session.info,
            entity,
            BULK_ID,
            session.info.get("action") or action,
            None,
            _jsonable({"rows": rows, **facts}),
        ),
    )


# Mapper events fire for every row the flush really writes, including orphans removed from a
# collection, which a session-level hook would not see.
@event.listens_for(Base, "after_insert", propagate=True)
def _after_insert(mapper, connection, target) -> None:  # noqa: ANN001
    _write(connection, target, "create", None, _columns(inspect(target)))


@event.listens_for(Base, "after_update", propagate=True)
def _after_update(mapper, connection, target) -> None:  # noqa: ANN001
    before, after = _changes(inspect(target))
    if after:
        _write(connection, target, "update", before, after)


@event.listens_for(Base, "after_delete", propagate=True)
def _after_delete(mapper, connection, target) -> None:  # noqa: ANN001
    _write(connection, target, "delete", _columns(inspect(target)), None)
