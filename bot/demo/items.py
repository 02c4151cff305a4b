"""Demo items in every state, so the sandbox has something to show at once.

Built through the real domain services with past times, exactly as if people had done it:
the notices they caused are in the outbox and reach the demo people's chats at start-up.
"""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.domain import assignments, items, review
from bot.domain.attachments import AttachmentIn, store_attachment_bytes
from bot.domain.confidential import OFFLINE_REQUIREMENTS, clean_label
from bot.domain.manual_urge import urge_item
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import DeadlineSpec, local_date
from bot.kernel.config import Settings
from store.audit import Actor
from store.db import Database
from store.models import Person, Unit


def working_days_ago(calendar: WorkCalendar, now: datetime, n: int) -> datetime:
    """The same clock time n working days before ``now`` (for back-dated demo events)."""
    when, counted = now, 0
    while counted < n:
        when -= timedelta(days=1)
        if calendar.is_working_day(local_date(when), provisional=True):
            counted += 1
    return when


def _png(width: int = 160, height: int = 120) -> bytes:
    """A small solid-colour PNG (the sandbox's 现场照片), made without an imaging library."""
    row = b"\x00" + bytes((46, 139, 87)) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _demo_files(files_dir: str | Path | None) -> list[AttachmentIn]:
    """The report's evidence in the sandbox (issue 12): a photo and a PDF, stored like received files."""
    if files_dir is None:
        return []
    out = []
    for name, mime, data in (
        ("照片-隐患整改现场.png", "image/png", _png()),
        ("隐患排查整改台账.pdf", "application/pdf", b"%PDF-1.4\n% demo: 68 schools, 12 hazards, 10 fixed\n%%EOF\n"),
    ):
        sha, path = store_attachment_bytes(files_dir, data)
        out.append(AttachmentIn(file_name=name, size=len(data), mime_type=mime, sha256=sha, local_path=str(path)))
    return out


async def seed_items(
    db: Database, calendar: WorkCalendar, now: datetime, people: dict[str, Person], files_dir: str | Path | None = None
) -> None:
    """``files_dir``: where the demo report's photo and PDF are kept (none without it)."""
    async with db.session() as s:
        units = {u.name: u.id for u in (await s.scalars(select(Unit))).all()}
    office, head = people["王敏"], people["赵建国"]
    leaders = [people["陈志远"].id]

    def liaison(unit: str) -> Person:
        return next(p for p in people.values() if p.unit and p.unit.name == unit and p.has_role("liaison"))

    async def step(actor: Person, action: str, fn, *args: Any, **kwargs: Any):  # noqa: ANN001, ANN202
        async with db.session(Actor(actor.id, actor.name), action) as s:
            return await fn(s, actor, *args, **kwargs)

    async def new_item(at: datetime, approve: bool, **fields) -> int:  # noqa: ANN003
        item = await step(
            office, "item.register", items.register_item, leader_ids=leaders, calendar=calendar, now=at, **fields
        )
        await step(office, "item.submit", items.submit_item, item.id, now=at + timedelta(minutes=5))
        if approve:
            await step(
                head, "item.approve", items.approve_item, item.id, calendar=calendar, now=at + timedelta(minutes=30)
            )
        return item.id

    async def assignment_of(item_id: int, unit: str) -> int:
        from store.workflow import Assignment

        async with db.session() as s:
            return (
                await s.execute(
                    select(Assignment.id).where(Assignment.item_id == item_id, Assignment.unit_id == units[unit])
                )
            ).scalar_one()

    # Overdue (red): a key project approved nine working days ago with seven working days.
    t = working_days_ago(calendar, now, 9)
    overdue = await new_item(
        t,
        True,
        title="城区污水管网改造工程进度",
        requirements="按月完成管网铺设计划，保障汛期前主干管通水。",
        source="project",
        importance="important",
        lead_unit_id=units["县住房和城乡建设局"],
        assisting_unit_ids=[units["城关镇"]],
        deadline=DeadlineSpec.working_days(7),
    )
    a = await assignment_of(overdue, "县住房和城乡建设局")
    await step(
        liaison("县住房和城乡建设局"), "assignment.acknowledge", assignments.acknowledge, a, now=t + timedelta(hours=2)
    )
    await step(
        liaison("县住房和城乡建设局"),
        "progress.add",
        assignments.add_progress,
        a,
        text="主干管已完成铺设约60%，因降雨影响工期。",
        now=t + timedelta(days=3),
    )
    # Its 工作方案 with 时间节点, the first done; and the office chased it by hand this morning (催办).
    plan = await step(
        liaison("县住房和城乡建设局"),
        "plan.submit",
        assignments.submit_plan,
        a,
        text="分三段推进：东段、中段、西段依次铺设，每段完成后试压验收。",
        milestones=[
            assignments.MilestoneIn(local_date(t + timedelta(days=4)), "东段主干管铺设完成"),
            assignments.MilestoneIn(local_date(t + timedelta(days=9)), "中段主干管铺设完成"),
            assignments.MilestoneIn(local_date(t + timedelta(days=16)), "西段铺设完成并通水"),
        ],
        now=t + timedelta(days=1),
    )
    await step(
        liaison("县住房和城乡建设局"),
        "milestone.done",
        assignments.complete_milestone,
        plan.milestones[0].id,
        now=t + timedelta(days=4),
    )
    await step(
        office,
        "item.urge",
        urge_item,
        overdue,
        calendar=calendar,
        settings=Settings(),
        now=max(t, now - timedelta(hours=1)),
    )

    # Due soon (yellow): approved five working days ago with seven working days.
    await new_item(
        working_days_ago(calendar, now, 5),
        True,
        title="春季农田水利设施检修",
        requirements="完成辖区内泵站、沟渠检修，报送检修台账。",
        source="deployment",
        importance="important",
        lead_unit_id=units["县水利局"],
        assisting_unit_ids=[units["湖沟镇"], units["连城镇"]],
        deadline=DeadlineSpec.working_days(7),
        # 分工 per unit (§4(五)): each assisting town its own task, one its own later deadline.
        unit_tasks={
            units["湖沟镇"]: "负责镇内3座排灌泵站检修，报送检修记录。",
            units["连城镇"]: "负责镇内主要沟渠清淤，报送清淤台账。",
        },
        unit_deadlines={units["连城镇"]: DeadlineSpec.working_days(10)},
    )

    # Handled by the office itself (督查室自办): no unit is asked; the office reports to the leader.
    await new_item(
        working_days_ago(calendar, now, 2),
        True,
        title="全县营商环境专项督查",
        requirements="督查室牵头，对全县政务服务窗口开展暗访，形成督查报告。",
        source="deployment",
        importance="normal",
        lead_unit_id=None,
        office_handled=True,
        deadline=DeadlineSpec.working_days(10),
    )

    # Reported, waiting for the office's review.
    t = working_days_ago(calendar, now, 3)
    reported = await new_item(
        t,
        True,
        title="校园安全隐患排查整治",
        requirements="县政府常务会议决定：全面排查中小学校舍、消防隐患。",
        source="meeting",
        importance="normal",
        lead_unit_id=units["县教育局"],
        deadline=DeadlineSpec.working_days(15),
    )
    a = await assignment_of(reported, "县教育局")
    await step(
        liaison("县教育局"),
        "report.submit",
        assignments.submit_report,
        a,
        text="已完成全县68所学校排查，发现隐患12处，已整改10处，2处列入暑期维修计划。",
        attachments=_demo_files(files_dir),
        now=now - timedelta(hours=3),
    )

    # New: registered and waiting for the office head's approval.
    await new_item(
        now - timedelta(hours=1),
        False,
        title="人大代表建议第12号：乡村道路照明",
        requirements="研究提出乡村主干道路灯安装方案，答复代表。",
        source="proposal",
        importance="normal",
        lead_unit_id=units["县交通运输局"],
        assisting_unit_ids=[units["县供电公司"]],
        deadline=DeadlineSpec.working_days(20),
    )

    # Archived: a whole life, a month ago.
    t = working_days_ago(calendar, now, 25)
    done = await new_item(
        t,
        True,
        title="政协提案第5号：农村饮水安全",
        requirements="排查农村饮水工程水质，提出改进措施。",
        source="proposal",
        importance="normal",
        lead_unit_id=units["县卫生健康委员会"],
        deadline=DeadlineSpec.working_days(10),
    )
    a = await assignment_of(done, "县卫生健康委员会")
    report = await step(
        liaison("县卫生健康委员会"),
        "report.submit",
        assignments.submit_report,
        a,
        text="完成全县112处供水点水质检测，全部达标。",
        now=t + timedelta(days=8),
    )
    await step(office, "report.approve", review.approve_report, report.id, now=t + timedelta(days=9))
    await step(people["陈志远"], "leader.agree", review.leader_agree, done, now=t + timedelta(days=10))
    await step(office, "item.archive", items.archive_item, done, now=t + timedelta(days=11))

    # Confidential and urgent (§9(五)): registered as /new does, with a neutral label and no
    # requirements; only the number and the label travel, the unit confirms on paper in one tap.
    await new_item(
        now - timedelta(days=1),
        True,
        title=clean_label("县委交办事项"),
        requirements=OFFLINE_REQUIREMENTS,
        source="superior",
        importance="urgent",
        lead_unit_id=units["县发展和改革委员会"],
        deadline=DeadlineSpec.working_days(5),
        confidential=True,
        follower_id=office.id,
    )
