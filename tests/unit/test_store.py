"""The store: migrations, SQLite pragmas, and the audit trail written by every flush."""

import pytest
from sqlalchemy import select, text

from store.audit import Actor
from store.models import AuditEntry, Person, PersonRole, Unit


async def test_migrations_reach_head(db):
    assert await db.current_revision() is not None
    await db.upgrade()  # applying again changes nothing and does not fail


async def test_sqlite_runs_in_wal_with_foreign_keys(db):
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas: PostgreSQL has none")
    async with db.session() as s:
        assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_every_write_is_audited_with_actor_before_and_after(db, clock):
    async with db.session(Actor(None, "cli"), "unit.import") as s:
        s.add(Unit(name="城关镇", kind="乡镇", created_at=clock.now()))
    clock.advance(minutes=5)
    async with db.session(Actor(None, "cli"), "unit.rename") as s:
        unit = await s.scalar(select(Unit))
        unit.name = "城关镇人民政府"
    async with db.session() as s:
        rows = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(r.action, r.entity, r.actor_label) for r in rows] == [
        ("unit.import", "units", "cli"),
        ("unit.rename", "units", "cli"),
    ]
    created, renamed = rows
    assert created.before is None and created.after["name"] == "城关镇"
    assert renamed.before == {"name": "城关镇"} and renamed.after == {"name": "城关镇人民政府"}
    assert renamed.at == clock.now() and renamed.entity_id == str(unit.id)


async def test_roles_are_rows_and_deletes_are_audited(db, clock):
    async with db.session() as s:
        p = Person(name="张三", created_at=clock.now())
        p.role_rows.append(PersonRole(role="office"))
        s.add(p)
    async with db.session(Actor(None, "cli"), "role.revoke") as s:
        p = await s.scalar(select(Person))
        assert p.roles == {"office"}
        p.role_rows.clear()
    async with db.session() as s:
        last = await s.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert last.action == "role.revoke" and last.entity == "person_roles" and last.before["role"] == "office"
