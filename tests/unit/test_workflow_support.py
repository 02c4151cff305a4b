"""Shared set-up for the workflow tests: a small county with every role, and helpers.

Imported by the other ``test_workflow*`` modules (pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from bot.domain import items as items_svc
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import DeadlineSpec
from store.audit import Actor
from store.models import AuditEntry, OutboxMessage, Person, PersonRole, Unit
from store.workflow import Item

CAL = WorkCalendar()


@dataclass
class World:
    units: dict[str, Unit] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Person:
        try:
            return self.__dict__["people"][name]
        except KeyError:
            raise AttributeError(name) from None

    def unit(self, key: str) -> Unit:
        return self.units[key]


UNITS = {"lead": "城关镇", "a1": "县交通运输局", "a2": "县住建局", "other": "县财政局", "water": "县水利局"}
PEOPLE = [
    # key, name, unit key, roles
    ("office", "王督查", None, ["office"]),
    ("office2", "刘督查", None, ["office"]),
    ("head", "李主任", None, ["office_head"]),
    ("leader", "赵县长", None, ["leader"]),
    ("leader2", "钱副县长", None, ["leader"]),
    ("lead_liaison", "陈联络", "lead", ["liaison"]),
    ("lead_head", "郑镇长", "lead", ["unit_head"]),
    ("a1_liaison", "周联络", "a1", ["liaison"]),
    ("a2_liaison", "吴联络", "a2", ["liaison"]),
    ("a2_head", "冯局长", "a2", ["unit_head"]),
    ("other_liaison", "孙联络", "other", ["liaison"]),
    ("water_liaison", "褚联络", "water", ["liaison"]),
    ("nobody", "路人甲", None, []),
]


async def make_world(db, now: datetime) -> World:
    w = World()
    async with db.session(Actor.system("test"), "test.setup") as s:
        for key, name in UNITS.items():
            u = Unit(name=name, kind="部门", created_at=now)
            s.add(u)
            w.units[key] = u
        await s.flush()
        for i, (key, name, unit_key, roles) in enumerate(PEOPLE):
            p = Person(name=name, unit=w.units[unit_key] if unit_key else None, telegram_id=1000 + i,
                       phone=f"1380000{i:04d}", created_at=now)
            for r in roles:
                p.role_rows.append(PersonRole(role=r))
            s.add(p)
            w.people[key] = p
        await s.flush()
    return w


async def register(db, w: World, now: datetime, *, submit: bool = False, approve: bool = False,
                   calendar: WorkCalendar = CAL, **overrides) -> Item:
    fields = dict(
        title="城区主干道破损路面修复", requirements="两周内完成城区主干道破损路面修复，并报送修复前后照片。",
        source="deployment", importance="important", lead_unit_id=w.unit("lead").id,
        assisting_unit_ids=[w.unit("a1").id, w.unit("a2").id], leader_ids=[w.leader.id],
    )
    fields.update(overrides)
    async with db.session() as s:
        item = await items_svc.register_item(s, w.office, calendar=calendar, now=now, **fields)
        if submit or approve:
            await items_svc.submit_item(s, w.office, item.id, now=now)
    if approve:
        async with db.session() as s:
            item = await items_svc.approve_item(s, w.head, item.id, calendar=calendar, now=now)
    return item


async def outbox(db, after_id: int = 0) -> list[OutboxMessage]:
    async with db.session() as s:
        return list((await s.scalars(select(OutboxMessage).where(OutboxMessage.id > after_id)
                                     .order_by(OutboxMessage.id))).all())


async def last_outbox_id(db) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0)))


async def counts(db) -> tuple[int, int]:
    """(audit rows, outbox rows): both must stay put when an action is refused."""
    async with db.session() as s:
        return (await s.scalar(select(func.count()).select_from(AuditEntry)),
                await s.scalar(select(func.count()).select_from(OutboxMessage)))


def data_of(msg: OutboxMessage) -> list[list[str]]:
    return [[b["data"] for b in row] for row in (msg.buttons or [])]


def labels_of(msg: OutboxMessage) -> list[str]:
    return [b["text"] for row in (msg.buttons or []) for b in row]


def to(msgs: list[OutboxMessage], person: Person) -> list[OutboxMessage]:
    return [m for m in msgs if m.person_id == person.id]


DAYS7 = DeadlineSpec.working_days(7)
