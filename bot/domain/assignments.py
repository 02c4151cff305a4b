"""承办: what a unit's liaison does with its share of an item, and the office's decisions on requests.

Liaison of the assignment's own unit (and nobody else):
``acknowledge``, ``add_progress`` (``attach_to_progress``: more files for it), ``submit_plan``,
``complete_milestone``, ``submit_report``, ``request_extension``, ``request_transfer``,
``decline_assist`` (assisting units only).
Any of these except declining first acknowledges an assignment not yet acknowledged (签收 is
implied by acting on it), recorded at the same time.

Office: ``approve_extension`` / ``reject_extension``, ``approve_transfer`` / ``reject_transfer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.attachments import AttachmentIn, add_attachments, validate
from bot.domain.confidential import OFFLINE_PROGRESS, OFFLINE_REPORT, refuse_content
from bot.domain.contributions import contributions
from bot.domain.errors import DomainError
from bot.domain.events import record_item_event
from bot.domain.items import send_notice, set_deadline
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    MAX_TITLE,
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    DeadlineSpec,
    FixedDeadline,
    act,
    check_assignment,
    clean_text,
    due_text,
    fix_deadline,
    item_label,
    liaisons,
    local_date,
    locked,
    move_assignment,
    move_item,
    notify_many,
    office_staff,
    optional_text,
    require_liaison_of,
    require_role,
    unit_heads,
)
from bot.kernel.clock import OFFICE_TZ
from bot.outbox.queue import Keyboard
from store.models import Person, Unit
from store.workflow import (
    Assignment,
    Attachment,
    CompletionReport,
    ExtensionRequest,
    Milestone,
    Plan,
    Progress,
    Transfer,
)

# --------------------------------------------------------------------------------------------
# Liaison
# --------------------------------------------------------------------------------------------


async def _mine(
    session: AsyncSession, person: Person, assignment_id: int, action: str, what: str
) -> tuple[Person, Assignment]:
    me = await act(session, person, action)
    a, _ = await locked(session, Assignment, assignment_id, "承办任务")
    require_liaison_of(me, a, what)
    return me, a


def _ack(me: Person, a: Assignment, now: datetime) -> None:
    """Record 签收; the lead unit's acknowledgement starts the item."""
    move_assignment(a, "assignment.acknowledge")
    a.acknowledged_at, a.acknowledged_by_id = now, me.id
    if a.role == "lead" and a.item.state == "assigned":
        move_item(a.item, "assignment.acknowledge")


async def _ensure_acknowledged(session: AsyncSession, me: Person, a: Assignment, action: str, now: datetime) -> None:
    """Acting on an assignment not yet acknowledged acknowledges it first (audited as 签收)."""
    if a.state == "assigned":
        session.info["action"] = "assignment.acknowledge"
        _ack(me, a, now)
        await record_item_event(session, "acknowledge", a.item_id, now, actor_id=me.id, assignment_id=a.id)
        await session.flush()
        session.info["action"] = action
    check_assignment(a, action)


async def acknowledge(session: AsyncSession, person: Person, assignment_id: int, *, now: datetime) -> Assignment:
    """签收: the unit has received the notice. A second 签收 raises AlreadyHandled."""
    me, a = await _mine(session, person, assignment_id, "assignment.acknowledge", "签收")
    if a.acknowledged_at is not None:
        local = a.acknowledged_at.astimezone(OFFICE_TZ).strftime("%m-%d %H:%M")
        raise AlreadyHandled(f"本单位已于{local}签收{item_label(a.item)}，无需重复签收。")
    _ack(me, a, now)
    await record_item_event(session, "acknowledge", a.item_id, now, actor_id=me.id, assignment_id=a.id)
    await session.flush()
    return a


def _offline(a: Assignment, offline: bool, text: str) -> str | None:
    """The fixed text of an offline confirmation; a confidential item takes nothing else, and only
    a confidential item is confirmed offline."""
    if not offline:
        refuse_content(a.item.confidential)
        return None
    if not a.item.confidential:
        raise DomainError("该事项不是涉密事项，请直接在此反馈进展或提交办结报告。")
    return text


def _text_or_files(text: str | None, files: Sequence[AttachmentIn], label: str) -> str:
    validate(files)
    if files and not (text or "").strip():
        return ""
    return clean_text(text, label)


async def add_progress(
    session: AsyncSession,
    person: Person,
    assignment_id: int,
    *,
    text: str | None,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime,
    offline: bool = False,
) -> Progress:
    """反馈进展: text and/or attachments (at least one of them).

    ``offline``: the one-tap 已线下报送进展 of a confidential item (its content goes on paper and
    nothing typed or sent is kept, ``bot.domain.confidential``); it counts as progress all the same."""
    me, a = await _mine(session, person, assignment_id, "progress.add", "反馈进展")
    body = _offline(a, offline, OFFLINE_PROGRESS) or _text_or_files(text, attachments, "进展情况")
    attachments = () if offline else attachments
    await _ensure_acknowledged(session, me, a, "progress.add", now)
    row = Progress(assignment_id=a.id, text=body, created_by_id=me.id, created_at=now)
    session.add(row)
    await session.flush()
    await record_item_event(session, "progress", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=row)
    add_attachments(
        session,
        attachments,
        item_id=a.item_id,
        assignment_id=a.id,
        owner_kind="progress",
        owner_id=row.id,
        uploaded_by_id=me.id,
        now=now,
    )
    await session.flush()
    return row


async def attach_to_progress(
    session: AsyncSession,
    person: Person,
    progress_id: int,
    *,
    attachments: Sequence[AttachmentIn],
    now: datetime,
) -> Progress:
    """More files for a progress entry (the rest of a photo album sent as one reply).

    Only a liaison of the entry's unit, while the unit is still handling the item."""
    me = await act(session, person, "progress.attach")
    row, item = await locked(session, Progress, progress_id, "进展反馈")
    a = next(x for x in item.assignments if x.id == row.assignment_id)
    require_liaison_of(me, a, "反馈进展")
    refuse_content(item.confidential)
    check_assignment(a, "progress.add")
    have = (
        await session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.owner_kind == "progress", Attachment.owner_id == row.id)
        )
        or 0
    )
    validate([*([AttachmentIn("", 0)] * have), *attachments])
    add_attachments(
        session,
        attachments,
        item_id=a.item_id,
        assignment_id=a.id,
        owner_kind="progress",
        owner_id=row.id,
        uploaded_by_id=me.id,
        now=now,
    )
    await session.flush()
    return row


@dataclass(frozen=True)
class MilestoneIn:
    due: date
    title: str


async def submit_plan(
    session: AsyncSession,
    person: Person,
    assignment_id: int,
    *,
    text: str,
    milestones: Sequence[MilestoneIn] = (),
    attachments: Sequence[AttachmentIn] = (),
    now: datetime,
) -> Plan:
    """工作方案 with 时间节点 (optional). A new plan supersedes the earlier ones, which are kept."""
    me, a = await _mine(session, person, assignment_id, "plan.submit", "提交工作方案")
    refuse_content(a.item.confidential)
    body = clean_text(text, "工作方案")
    validate(attachments)
    if len(milestones) > 50:
        raise DomainError("时间节点太多：最多50个")
    steps = []
    for m in milestones:
        if isinstance(m.due, datetime) or not isinstance(m.due, date):
            raise DomainError("时间节点的日期格式不对，应为 YYYY-MM-DD")
        steps.append(Milestone(due_date=m.due, title=clean_text(m.title, "节点内容", MAX_TITLE * 2)))
    await _ensure_acknowledged(session, me, a, "plan.submit", now)
    plan = Plan(assignment_id=a.id, text=body, created_by_id=me.id, created_at=now, milestones=steps)
    session.add(plan)
    await session.flush()
    await record_item_event(session, "plan", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=plan)
    add_attachments(
        session,
        attachments,
        item_id=a.item_id,
        assignment_id=a.id,
        owner_kind="plan",
        owner_id=plan.id,
        uploaded_by_id=me.id,
        now=now,
    )
    await session.flush()
    return plan


async def complete_milestone(session: AsyncSession, person: Person, milestone_id: int, *, now: datetime) -> Milestone:
    """Mark a milestone of the unit's plan done."""
    me = await act(session, person, "milestone.done")
    m, item = await locked(session, Milestone, milestone_id, "时间节点")
    a = next(x for x in item.assignments if x.id == m.plan.assignment_id)
    require_liaison_of(me, a, "标记节点完成")
    if m.done_at is not None:
        raise AlreadyHandled("该节点已标记完成，无需重复操作。")
    check_assignment(a, "milestone.done")
    m.done_at, m.done_by_id = now, me.id
    await record_item_event(session, "milestone", item.id, now, actor_id=me.id, assignment_id=a.id, ref=m)
    await session.flush()
    return m


async def submit_report(
    session: AsyncSession,
    person: Person,
    assignment_id: int,
    *,
    text: str,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime,
    offline: bool = False,
) -> CompletionReport:
    """办结报告: the lead unit reports the result of the item; an assisting unit reports its part.

    The office gets it with 审核通过 / 退回重办 buttons. ``offline``: a confidential item's
    已线下报送办结报告 (the report itself is on paper), reviewed like any other."""
    me, a = await _mine(session, person, assignment_id, "report.submit", "提交办结报告")
    body = _offline(a, offline, OFFLINE_REPORT) or clean_text(text, "办结报告")
    attachments = () if offline else attachments
    validate(attachments)
    await _ensure_acknowledged(session, me, a, "report.submit", now)
    move_assignment(a, "report.submit")
    if a.role == "lead":
        move_item(a.item, "report.submit")
    report = CompletionReport(assignment_id=a.id, text=body, status="pending", created_by_id=me.id, created_at=now)
    session.add(report)
    await session.flush()
    await record_item_event(session, "report", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=report)
    files = add_attachments(
        session,
        attachments,
        item_id=a.item_id,
        assignment_id=a.id,
        owner_kind="report",
        owner_id=report.id,
        uploaded_by_id=me.id,
        now=now,
    )
    buttons: Keyboard = [[button("r:ok", report.id), button("r:no", report.id)]]
    if files:  # the evidence where the office decides (issue 12): sent on a tap (bot.domain.evidence)
        buttons.append([button("r:att", report.id, f"查看附件（{len(files)}）")])
    # The lead unit's report is reviewed with the assisting units' parts beside it (issue 12).
    parts = await contributions(session, a.item, exclude=a.id) if a.role == "lead" else []
    for x in parts:
        if x.report_id is not None and x.files:
            buttons.append([button("r:att", x.report_id, f"查看附件（协办·{x.unit}，{x.files}）")])
    await notify_many(
        session,
        await office_staff(session),
        "notices/report_submitted.html.j2",
        item=a.item,
        now=now,
        label="办结报告待审核",
        dedupe=f"report:{report.id}",
        buttons=buttons,
        unit=a.unit.name,
        role=UNIT_ROLES_OF_ASSIGNMENT[a.role],
        text=body,
        attachment_names=[f.file_name for f in files],
        redo_count=a.redo_count,
        by=me.name,
        contributions=parts,
    )
    await session.flush()
    return report


async def request_extension(
    session: AsyncSession, person: Person, assignment_id: int, *, new_due: date, reason: str, now: datetime
) -> ExtensionRequest:
    """延期申请: a later deadline and the reason. The office decides (同意延期 / 不同意延期)."""
    me, a = await _mine(session, person, assignment_id, "extension.request", "申请延期")
    pending = await session.scalar(
        select(ExtensionRequest.id).where(ExtensionRequest.assignment_id == a.id, ExtensionRequest.status == "pending")
    )
    if pending is not None:
        raise AlreadyHandled("本单位已有一份延期申请在等待督查室审批，请勿重复申请。")
    if isinstance(new_due, datetime) or not isinstance(new_due, date):
        raise DomainError("新的办结日期格式不对，应为 YYYY-MM-DD")
    if a.due_date is not None and new_due <= a.due_date:
        raise DomainError(f"新的办结日期应晚于现在的期限 {a.due_date.isoformat()}")
    if new_due <= local_date(now):
        raise DomainError("新的办结日期应晚于今天")
    if (new_due - local_date(now)).days > 3 * 366:
        raise DomainError(f"新的办结日期 {new_due.isoformat()} 太远，请检查是否写错")
    reason = clean_text(reason, "延期理由")
    await _ensure_acknowledged(session, me, a, "extension.request", now)
    req = ExtensionRequest(
        assignment_id=a.id,
        old_due=a.due_date,
        new_due=new_due,
        reason=reason,
        status="pending",
        requested_by_id=me.id,
        requested_at=now,
    )
    session.add(req)
    await session.flush()
    await record_item_event(session, "extension_request", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=req)
    buttons: Keyboard = [[button("x:ok", req.id), button("x:no", req.id)]]
    await notify_many(
        session,
        await office_staff(session),
        "notices/extension_request.html.j2",
        item=a.item,
        now=now,
        label="延期申请",
        dedupe=f"ext-req:{req.id}",
        buttons=buttons,
        unit=a.unit.name,
        old_due=due_text(a.due_date, a.due_provisional),
        new_due=new_due.isoformat(),
        reason=reason,
        by=me.name,
    )
    await session.flush()
    return req


async def request_transfer(
    session: AsyncSession, person: Person, assignment_id: int, *, reason: str, now: datetime
) -> Transfer:
    """转办申请: the item is not this unit's business. The office reassigns it or refuses."""
    me, a = await _mine(session, person, assignment_id, "transfer.request", "申请转办")
    pending = await session.scalar(
        select(Transfer.id).where(Transfer.assignment_id == a.id, Transfer.status == "pending")
    )
    if pending is not None:
        raise AlreadyHandled("本单位已有一份转办申请在等待督查室处理，请勿重复申请。")
    reason = clean_text(reason, "转办理由")
    await _ensure_acknowledged(session, me, a, "transfer.request", now)
    t = Transfer(assignment_id=a.id, reason=reason, status="pending", requested_by_id=me.id, requested_at=now)
    session.add(t)
    await session.flush()
    await record_item_event(session, "transfer_request", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=t)
    buttons: Keyboard = [[button("t:ok", t.id), button("t:no", t.id)]]
    await notify_many(
        session,
        await office_staff(session),
        "notices/transfer_request.html.j2",
        item=a.item,
        now=now,
        label="转办申请",
        dedupe=f"trf-req:{t.id}",
        buttons=buttons,
        unit=a.unit.name,
        role=UNIT_ROLES_OF_ASSIGNMENT[a.role],
        reason=reason,
        by=me.name,
    )
    await session.flush()
    return t


async def decline_assist(
    session: AsyncSession, person: Person, assignment_id: int, *, reason: str, now: datetime
) -> Assignment:
    """无法协办 (assisting units only): the office and the lead unit's liaisons are told at once."""
    me, a = await _mine(session, person, assignment_id, "assignment.decline", "报告无法协办")
    if a.role != "assist":
        raise DomainError("只有协办单位才能报告无法协办；主办单位如认为不属于本单位职责，请申请转办。")
    if a.state == "declined":
        raise AlreadyHandled("本单位已报告无法协办，无需重复操作。")
    reason = clean_text(reason, "无法协办的理由")
    move_assignment(a, "assignment.decline")
    a.declined_at, a.declined_reason = now, reason
    await record_item_event(session, "decline", a.item_id, now, actor_id=me.id, assignment_id=a.id)
    people = list(await office_staff(session))
    for lead in (
        x for x in a.item.assignments if x.role == "lead" and x.state in ("assigned", "in_progress", "reported")
    ):
        people += await liaisons(session, lead.unit_id)
    await notify_many(
        session,
        people,
        "notices/cannot_assist.html.j2",
        item=a.item,
        now=now,
        label="协办单位无法协办",
        dedupe=f"decline:{a.id}",
        urgent=True,
        unit=a.unit.name,
        reason=reason,
        by=me.name,
    )
    await session.flush()
    return a


# --------------------------------------------------------------------------------------------
# Office: decisions on requests
# --------------------------------------------------------------------------------------------


_Request = TypeVar("_Request", ExtensionRequest, Transfer)


async def _decide(
    session: AsyncSession, person: Person, model: type[_Request], request_id: int, action: str, what: str
) -> tuple[Person, _Request, Assignment]:
    me = await act(session, person, action)
    require_role(me, "office", what)
    req, item = await locked(session, model, request_id, "申请")
    if req.status != "pending":
        state = {"approved": "已同意", "rejected": "已不同意", "cancelled": "已撤销"}.get(req.status, req.status)
        raise AlreadyHandled(f"该申请{state}，此操作已处理过，无需重复操作。")
    a = next(x for x in item.assignments if x.id == req.assignment_id)
    return me, req, a


async def approve_extension(
    session: AsyncSession, person: Person, request_id: int, *, note: str | None = None, now: datetime
) -> ExtensionRequest:
    """Grant an extension (office): the unit's deadline moves to the requested date (an explicit
    date, never provisional); it is not overdue against the old one."""
    me, req, a = await _decide(session, person, ExtensionRequest, request_id, "extension.approve", "审批延期申请")
    check_assignment(a, "extension.approve")
    note = optional_text(note, "审批意见")
    req.status, req.decided_by_id, req.decided_at, req.decision_note = "approved", me.id, now, note
    await record_item_event(session, "extension_decision", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=req)
    set_deadline(a, FixedDeadline(req.new_due, False, None, None))
    a.extension_count += 1
    told = await liaisons(session, a.unit_id)
    await notify_many(
        session,
        told,
        "notices/extension_decided.html.j2",
        item=a.item,
        now=now,
        label="延期申请已同意",
        dedupe=f"ext-dec:{req.id}",
        approved=True,
        unit=a.unit.name,
        new_due=req.new_due.isoformat(),
        note=note,
        by=me.name,
    )
    # The unit head learns the new deadline too (issue 12): they were given the original notice.
    await notify_many(
        session,
        [p for p in await unit_heads(session, a.unit_id) if p.id not in {t.id for t in told}],
        "notices/extension_decided.html.j2",
        item=a.item,
        now=now,
        label="办结时限调整（供知悉）",
        dedupe=f"ext-dec-head:{req.id}",
        approved=True,
        unit=a.unit.name,
        new_due=req.new_due.isoformat(),
        note=note,
        by=me.name,
    )
    await session.flush()
    return req


async def reject_extension(
    session: AsyncSession, person: Person, request_id: int, *, reason: str, now: datetime
) -> ExtensionRequest:
    """Refuse an extension with a reason (office); the deadline stays."""
    me, req, a = await _decide(session, person, ExtensionRequest, request_id, "extension.reject", "审批延期申请")
    reason = clean_text(reason, "不同意的理由")
    req.status, req.decided_by_id, req.decided_at, req.decision_note = "rejected", me.id, now, reason
    await record_item_event(session, "extension_decision", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=req)
    await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "notices/extension_decided.html.j2",
        item=a.item,
        now=now,
        label="延期申请未同意",
        dedupe=f"ext-dec:{req.id}",
        approved=False,
        unit=a.unit.name,
        new_due=due_text(a.due_date, a.due_provisional),
        note=reason,
        by=me.name,
    )
    await session.flush()
    return req


async def approve_transfer(
    session: AsyncSession,
    person: Person,
    transfer_id: int,
    *,
    to_unit_id: int,
    deadline: DeadlineSpec | None = None,
    note: str | None = None,
    calendar: WorkCalendar,
    now: datetime,
) -> Assignment:
    """Reassign the item to another unit (office); returns the new assignment.

    The old assignment is marked transferred (its pending extension requests are cancelled); the
    new unit gets the 督办通知单 in the same role, with the old deadline unless ``deadline`` gives
    a new one (counted from today). The old unit's liaisons are told.
    """
    me, t, a = await _decide(session, person, Transfer, transfer_id, "transfer.approve", "审批转办申请")
    check_assignment(a, "transfer.approve")
    item = a.item
    unit = await session.get(Unit, to_unit_id) if isinstance(to_unit_id, int) else None
    if unit is None or not unit.active:
        raise DomainError("所选单位不存在或已停用，请重新选择")
    if any(x.unit_id == unit.id for x in item.assignments):
        raise DomainError(f"{unit.name}已是本事项的承办单位，不能再转办给它")
    note = optional_text(note, "转办意见")
    if deadline is not None:
        fixed = fix_deadline(calendar, deadline.validate(local_date(now)), local_date(now))
    else:
        fixed = FixedDeadline(a.due_date, a.due_provisional, a.due_basis, a.due_days)  # type: ignore[arg-type]

    new = Assignment(
        unit=unit,
        role=a.role,
        state="assigned",
        created_at=now,
        notified_at=now,
        due_provisional=False,
        extension_count=0,
        redo_count=0,
    )
    set_deadline(new, fixed)
    item.assignments.append(new)
    await session.flush()
    move_assignment(a, "transfer.approve")
    a.transferred_at, a.transferred_to_id = now, new.id
    if a.role == "lead":
        move_item(item, "transfer.approve")
    t.status, t.decided_by_id, t.decided_at, t.decision_note = "approved", me.id, now, note
    t.to_unit_id, t.new_assignment_id = unit.id, new.id
    for req in (
        await session.scalars(
            select(ExtensionRequest).where(ExtensionRequest.assignment_id == a.id, ExtensionRequest.status == "pending")
        )
    ).all():
        req.status, req.decided_at, req.decided_by_id = "cancelled", now, me.id
        await record_item_event(
            session, "extension_decision", item.id, now, actor_id=me.id, assignment_id=a.id, ref=req
        )
    await record_item_event(session, "transfer_decision", item.id, now, actor_id=me.id, assignment_id=a.id, ref=t)
    await record_item_event(session, "notice", item.id, now, actor_id=me.id, assignment_id=new.id)
    await session.flush()

    await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "notices/transfer_decided.html.j2",
        item=item,
        now=now,
        label="转办申请已同意",
        dedupe=f"trf-dec:{t.id}",
        approved=True,
        unit=a.unit.name,
        to_unit=unit.name,
        note=note,
        by=me.name,
    )
    if not await send_notice(session, item, new, now=now):
        await notify_many(
            session,
            await office_staff(session),
            "notices/transfer_decided.html.j2",
            item=item,
            now=now,
            label="转办后的单位尚无联络员",
            dedupe=f"trf-noliaison:{t.id}",
            approved=True,
            unit=a.unit.name,
            to_unit=unit.name,
            note="该单位尚无联络员，督办通知未能送达，请尽快联系。",
            by=me.name,
        )
    await session.flush()
    return new


async def reject_transfer(
    session: AsyncSession, person: Person, transfer_id: int, *, reason: str, now: datetime
) -> Transfer:
    """Refuse a transfer with a reason (office); the unit keeps the item."""
    me, t, a = await _decide(session, person, Transfer, transfer_id, "transfer.reject", "审批转办申请")
    reason = clean_text(reason, "不同意的理由")
    t.status, t.decided_by_id, t.decided_at, t.decision_note = "rejected", me.id, now, reason
    await record_item_event(session, "transfer_decision", a.item_id, now, actor_id=me.id, assignment_id=a.id, ref=t)
    await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "notices/transfer_decided.html.j2",
        item=a.item,
        now=now,
        label="转办申请未同意",
        dedupe=f"trf-dec:{t.id}",
        approved=False,
        unit=a.unit.name,
        to_unit=None,
        note=reason,
        by=me.name,
    )
    await session.flush()
    return t
