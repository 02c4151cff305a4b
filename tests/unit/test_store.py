"""The store: migrations, SQLite pragmas, and the audit trail written by every flush."""

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy import inspect as sa_inspect

from store.audit import Actor
from store.models import AuditEntry, InboxUpdate, Person, PersonRole, Unit


async def test_migrations_reach_head(db):
    assert await db.current_revision() is not None
    await db.upgrade()  # applying again changes nothing and does not fail


async def test_sqlite_runs_in_wal_with_foreign_keys(db):
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas: PostgreSQL has none")
    async with db.session() as s:
        assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_the_autocommit_engine_writes_without_a_transaction_left_open(db, clock):
    """The inbox's bookkeeping (``Database.autocommit``), on both databases: each statement is
    committed as it runs, with the same pragmas (WAL, foreign keys) on SQLite."""
    async with db.autocommit.connect() as conn:  # no begin(), no commit()
        await conn.execute(
            insert(InboxUpdate).values(
                update_id=7, payload="{}", status="received", attempts=0, received_at=clock.now()
            )
        )
        async with db.session() as s:
            assert await s.scalar(select(InboxUpdate.update_id)) == 7
        if db.is_sqlite:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    async with db.session() as s:  # closing the connection undid nothing
        assert await s.scalar(select(InboxUpdate.update_id)) == 7


async def test_a_reading_unit_of_work_reads_and_refuses_a_change(db, clock):
    """``Database.reading()`` (list pages, detail views): it sees what is committed, leaves no
    transaction open behind it, and a change made in it fails loudly instead of vanishing."""
    async with db.session(Actor.system("test"), "unit.add") as s:
        s.add(Unit(name="城关镇", kind="town", created_at=clock.now()))
    async with db.reading() as s:
        assert await s.scalar(select(Unit.name)) == "城关镇"
    with pytest.raises(RuntimeError, match="read-only"):
        async with db.reading() as s:
            (await s.scalars(select(Unit))).one().name = "改名"
    async with db.session() as s:  # nothing was written, and the database is not left locked
        assert await s.scalar(select(Unit.name)) == "城关镇"
        s.add(Unit(name="新区", kind="town", created_at=clock.now()))
    async with db.reading() as s:
        assert set(await s.scalars(select(Unit.name))) == {"城关镇", "新区"}


async def test_a_reading_unit_of_work_lets_go_of_what_it_held_whether_or_not_it_read(db, clock):
    """Its end costs nothing when nothing was read through it (a list page the fast reader served);
    a session that did read, or was given an object, is still closed: its connection goes back to
    the pool and its objects are let go of."""
    async with db.session(Actor.system("test"), "unit.add") as s:
        s.add(Unit(name="城关镇", kind="town", created_at=clock.now()))
    async with db.reading() as s:
        pass
    assert not s.in_transaction() and not s.identity_map
    async with db.reading() as s:
        unit = await s.scalar(select(Unit))
    assert db.engine.sync_engine.pool.checkedout() == 0 and sa_inspect(unit).detached
    stray = Unit(name="新区", kind="town", created_at=clock.now())
    with pytest.raises(RuntimeError, match="read-only"):
        async with db.reading() as s:
            s.add(stray)
    assert sa_inspect(stray).transient  # let go of, never written
    async with db.session() as s:
        assert set(await s.scalars(select(Unit.name))) == {"城关镇"}


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
