"""The demo county: an office, three leaders and twenty units, each with a liaison and a head.

Names are invented. Used by ``make demo`` and by tests that want a realistic directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from store.audit import Actor
from store.db import Database
from store.models import Person, PersonRole, Unit

OFFICE_NAME = "固镇县人民政府督查室"

TOWNS = ["城关镇", "新马桥镇", "仲兴镇", "湖沟镇", "连城镇", "王庄镇", "濠城镇", "刘集镇", "石湖乡", "杨庙镇"]
DEPARTMENTS = [
    ("县发展和改革委员会", "部门"),
    ("县财政局", "部门"),
    ("县教育局", "部门"),
    ("县住房和城乡建设局", "部门"),
    ("县交通运输局", "部门"),
    ("县农业农村局", "部门"),
    ("县水利局", "部门"),
    ("县卫生健康委员会", "部门"),
    ("县供电公司", "驻固单位"),
    ("县经济开发区管委会", "开发区"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "强",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
]


@dataclass(frozen=True)
class DemoPerson:
    name: str
    roles: tuple[str, ...]
    unit: str | None = None
    title: str | None = None


def _name(i: int) -> str:
    return SURNAMES[(i * 7) % len(SURNAMES)] + GIVEN[(i * 3) % len(GIVEN)]


def demo_people() -> list[DemoPerson]:
    people = [
        DemoPerson("王敏", ("office",), title="督查室科员"),
        DemoPerson("李强", ("office",), title="督查室副主任"),
        DemoPerson("赵建国", ("office_head",), title="县政府办公室主任"),
        DemoPerson("陈志远", ("leader",), title="县长"),
        DemoPerson("刘海涛", ("leader",), title="常务副县长"),
        DemoPerson("孙丽", ("leader",), title="副县长"),
    ]
    units = [(t, "乡镇") for t in TOWNS] + DEPARTMENTS
    for i, (unit, _kind) in enumerate(units):
        people.append(DemoPerson(_name(2 * i + 11), ("liaison",), unit, "联络员"))
        people.append(DemoPerson(_name(2 * i + 12), ("unit_head",), unit, "主要负责人"))
    return people


def demo_units() -> list[tuple[str, str]]:
    return [(t, "乡镇") for t in TOWNS] + DEPARTMENTS


async def seed_directory(
    db: Database, now: datetime, telegram_id_for: Callable[[DemoPerson], int | None]
) -> dict[str, Person]:
    """Create the units and people; ``telegram_id_for`` binds each person to a (sandbox) account."""
    by_name: dict[str, Person] = {}
    async with db.session(Actor.system("demo"), "demo.seed") as s:
        units = {}
        for name, kind in demo_units():
            units[name] = Unit(name=name, kind=kind, created_at=now)
            s.add(units[name])
        await s.flush()
        for dp in demo_people():
            person = Person(
                name=dp.name,
                unit=units.get(dp.unit) if dp.unit else None,
                title=dp.title,
                telegram_id=telegram_id_for(dp),
                created_at=now,
            )
            person.role_rows = [PersonRole(role=r) for r in dp.roles]
            s.add(person)
            by_name[dp.name] = person
    return by_name
