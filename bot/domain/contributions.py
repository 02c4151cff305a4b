"""The assisting units' contributions to an item (协办, §5(三), issue 12 point 6).

An assisting unit finishes its part with its own 办结报告 (``assignments.submit_report``; the office
reviews it like any other) or reports 无法协办 with the reason. The lead unit "负责向县政府督查室报告
办理结果" (§5(三)): its 办结报告 step shows what the assisting units reported, and the office's
review (and the leader's 审阅) see those reports together with the lead's, each with its files.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.workflow import ASSIGNMENT_STATES, load_item
from store.workflow import Assignment, Attachment, CompletionReport, Item


@dataclass(frozen=True)
class Contribution:
    unit: str
    state: str  # the share's state label: 办结报告待审核, 已办结, 无法协办 …
    text: str | None  # the latest report's text, or the reason it could not assist; None: nothing yet
    report_id: int | None  # for 查看附件 (r:att)
    files: int


async def contributions(session: AsyncSession, item: Item, exclude: int | None = None) -> list[Contribution]:
    """Each assisting unit still on the item (or that declined): its latest report, or why it declined."""
    shares = [a for a in item.assignments if a.role == "assist" and a.id != exclude and a.state != "transferred"]
    if not shares:
        return []
    reports: dict[int, CompletionReport] = {}
    for r in (
        await session.scalars(
            select(CompletionReport)
            .where(CompletionReport.assignment_id.in_([a.id for a in shares]), CompletionReport.status != "returned")
            .order_by(CompletionReport.id)
        )
    ).all():
        reports[r.assignment_id] = r  # the latest one wins
    counts = dict(
        (
            await session.execute(
                select(Attachment.owner_id, func.count())
                .where(
                    Attachment.owner_kind == "report", Attachment.owner_id.in_([r.id for r in reports.values()] or [-1])
                )
                .group_by(Attachment.owner_id)
            )
        ).all()
    )
    out = []
    for a in shares:
        latest = reports.get(a.id)
        state = ASSIGNMENT_STATES.get(a.state, a.state)
        if a.state == "declined":
            out.append(Contribution(a.unit.name, state, a.declined_reason, None, 0))
        elif latest is not None:
            out.append(Contribution(a.unit.name, state, latest.text, latest.id, int(counts.get(latest.id, 0))))
        else:
            out.append(Contribution(a.unit.name, state, None, None, 0))
    return out


async def for_assignment(session: AsyncSession, assignment_id: int) -> list[Contribution]:
    """What the lead unit's 办结报告 step shows: the assisting units' parts (none for an assisting unit)."""
    a = await session.get(Assignment, assignment_id) if isinstance(assignment_id, int) else None
    if a is None or a.role != "lead":
        return []
    return await contributions(session, await load_item(session, a.item_id), exclude=a.id)
