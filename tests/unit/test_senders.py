"""The people behind waiting updates, read in one statement and used only while still true."""

from __future__ import annotations

from sqlalchemy import delete, event, select, update

from bot.runtime.senders import FRESH, Senders
from store.audit import Actor
from store.models import Person, PersonRole


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _people(db, clock, n: int) -> list[Person]:  # noqa: ANN001
    async with db.session(Actor.system("test"), "test.setup") as s:
        people = [
            Person(name=f"联络员{i}", telegram_id=1000 + i, created_at=clock.now(), role_rows=[PersonRole(role="liaison")])
            for i in range(n)
        ]
        s.add_all(people)
    return people


def _count_people_reads(db) -> list[str]:  # noqa: ANN001
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "people" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    return seen


async def test_the_waiting_senders_are_read_with_the_first_and_served_from_that_read(db, clock):
    await _people(db, clock, 5)
    senders = Senders(db, Monotonic())
    reads = _count_people_reads(db)
    first = await senders.person(1000, waiting=lambda: [1001, 1002, 1000, 1003, 4242])
    assert first is not None and first.name == "联络员0" and first.roles == {"liaison"}
    assert len(reads) == 1  # five accounts, one statement
    assert [(await senders.person(i)).name for i in (1001, 1002, 1003)] == ["联络员1", "联络员2", "联络员3"]
    assert await senders.person(4242) is None  # a stranger, read along: still a stranger
    assert len(reads) == 1
    assert (await senders.person(1004)).name == "联络员4"  # not waiting: read now
    assert len(reads) == 2


async def test_a_directory_write_voids_every_copy_read_before_it(db, clock):
    people = await _people(db, clock, 3)
    senders = Senders(db, Monotonic())
    await senders.person(1000, waiting=lambda: [1001, 1002])
    async with db.session(Actor.system("test"), "test.deactivate") as s:  # the office stops 联络员1
        await s.execute(update(Person).where(Person.id == people[1].id).values(active=False))
    assert await senders.person(1001) is None
    async with db.session(Actor.system("test"), "test.role") as s:  # and takes 联络员2's role
        await s.execute(delete(PersonRole).where(PersonRole.person_id == people[2].id))
    assert (await senders.person(1002)).roles == frozenset()


async def test_an_orm_change_of_roles_voids_the_copies_too(db, clock):
    people = await _people(db, clock, 2)
    senders = Senders(db, Monotonic())
    await senders.person(1000, waiting=lambda: [1001])
    async with db.session(Actor.system("test"), "test.role") as s:
        person = await s.scalar(select(Person).where(Person.id == people[1].id))
        person.role_rows.append(PersonRole(role="unit_head"))
    assert (await senders.person(1001)).roles == {"liaison", "unit_head"}


async def test_a_copy_is_not_used_once_older_than_fresh(db, clock):
    await _people(db, clock, 2)
    monotonic = Monotonic()
    senders = Senders(db, monotonic)
    await senders.person(1000, waiting=lambda: [1001])
    writes = db.directory_writes
    # Another process (a directory import) deactivates 联络员1: this engine does not see the write.
    other = type(db)(db.url)
    try:
        async with other.session(Actor.system("test"), "test.import") as s:
            await s.execute(update(Person).where(Person.telegram_id == 1001).values(active=False))
    finally:
        await other.dispose()
    assert db.directory_writes == writes
    assert (await senders.person(1001)) is not None  # within FRESH: the copy stands
    monotonic.now += FRESH + 0.1
    assert await senders.person(1001) is None


async def test_a_copy_read_while_a_directory_write_is_uncommitted_is_void_once_it_commits(db, clock):
    people = await _people(db, clock, 1)
    senders = Senders(db, Monotonic())
    async with db.session(Actor.system("test"), "test.deactivate") as s:
        await s.execute(update(Person).where(Person.id == people[0].id).values(active=False))
        # Read meanwhile (another task, another connection): the old row, still active.
        assert await senders.person(1000) is not None
        assert await senders.person(1000) is not None  # the copy, within the same moment
    assert await senders.person(1000) is None  # committed: read again
