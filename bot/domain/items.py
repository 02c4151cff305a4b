"""立项, 审批, 交办, 归档: the office registers an item, the office head approves it, notices go out.

Services (each takes the acting person, re-checks them in the database, names its audit action):

* ``register_item``  (office)      → a draft with its units (主办/协办) and responsible leaders
* ``update_draft``   (office)      → change a draft, e.g. after the office head returned it
* ``submit_item``    (office)      → pending; each office head gets 同意/退回 buttons
* ``approve_item``   (office head) → numbered 督字〔year〕N号, deadlines fixed, 督办通知单 sent
* ``reject_item``    (office head) → back to draft with the reason; the registrant is told
* ``archive_item``   (office)      → a closed item is archived
* ``recompute_provisional`` (system, after loading a year's holidays) → recount 暂定 deadlines

分工 per unit (§4(五): "对涉及多个承办单位的督查事项，县政府督查室要明确各个承办单位的分工和职责";
§5(二): 交办 fixes each unit's 目标任务 … 办结时限; issue 12): each unit may get its own task
(``Assignment.task``, NULL: the item's requirements) and its own deadline, given at 立项 as
``unit_tasks`` / ``unit_deadlines``. A draft unit's own deadline is kept as asked (``due_days`` or
``due_date`` on its draft assignment) and fixed at approval like the item's.

督查室自办 (§5(二): "不宜交给各乡(镇)和各单位办理的事项可由县政府督查室直接办理"): an item registered with
``office_handled`` has no lead unit and no assignment at all. Not the office as a handler unit: the
office has no unit of its own, its staff no liaison role, and a share of its own would have it
review its own report, chase itself and be scored like a unit. Without assignments every
unit-based rule stays true by itself: no notice, no reminder, no weekly feedback, no score
event (scores are per unit). The item is 办理中 from its approval; the office reports the result
itself (``bot.domain.office_items``) and it goes to the responsible leader for 审阅 like every
result (§5(六)), whose 同意 or 批示 closes it. Its deadline is the item's own ``due_date``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.confidential import progress_button, report_button
from bot.domain.errors import DomainError
from bot.domain.events import record_item_event
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    IMPORTANCE,
    IMPORTANT_DEFAULT_DAYS,
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    DeadlineSpec,
    FixedDeadline,
    act,
    check_item,
    choice,
    clean_text,
    clean_title,
    due_text,
    fix_deadline,
    item_label,
    liaisons,
    load_item,
    local_date,
    move_assignment,
    move_item,
    notify,
    notify_many,
    office_heads,
    require_role,
    unit_heads,
)
from bot.outbox.queue import Keyboard, withdraw_unsent
from store.audit import audit_write
from store.models import Person, Unit
from store.workflow import Assignment, Item, ItemApproval, ItemCounter, ItemLeader

# --------------------------------------------------------------------------------------------
# 立项
# --------------------------------------------------------------------------------------------


async def register_item(
    session: AsyncSession,
    person: Person,
    *,
    title: str,
    requirements: str,
    source: str,
    importance: str,
    lead_unit_id: int | None,
    assisting_unit_ids: Sequence[int] = (),
    deadline: DeadlineSpec | None = None,
    confidential: bool = False,
    weekly_feedback: bool | None = None,
    follower_id: int | None = None,
    leader_ids: Sequence[int],
    unit_tasks: Mapping[int, str] | None = None,
    unit_deadlines: Mapping[int, DeadlineSpec] | None = None,
    office_handled: bool = False,
    calendar: WorkCalendar,
    now: datetime,
) -> Item:
    """Register a draft item (office). Nothing is sent until it is submitted and approved.

    ``source``/``importance`` are codes of ``SOURCES``/``IMPORTANCE`` (or their Chinese names).
    ``deadline`` defaults to 7 working days for important items and is required otherwise.
    ``weekly_feedback`` defaults to on when the item runs longer than one week.
    ``follower_id`` (an office person, 专人跟踪) is required for urgent items.
    ``leader_ids``: at least one 县领导 who reviews the result.
    ``unit_tasks`` / ``unit_deadlines``: a unit's own task and deadline, by unit id (分工).
    ``office_handled``: 督查室自办, with no units (``lead_unit_id`` None).
    """
    me = await act(session, person, "item.register")
    require_role(me, "office", "登记督查事项")
    item = Item(state="draft", created_by=me, created_at=now, submission_count=0, due_provisional=False)
    await _apply(
        session,
        item,
        calendar=calendar,
        now=now,
        title=title,
        requirements=requirements,
        source=source,
        importance=importance,
        lead_unit_id=lead_unit_id,
        assisting_unit_ids=assisting_unit_ids,
        deadline=deadline,
        confidential=confidential,
        weekly_feedback=weekly_feedback,
        follower_id=follower_id,
        leader_ids=leader_ids,
        unit_tasks=unit_tasks or {},
        unit_deadlines=unit_deadlines or {},
        office_handled=office_handled,
    )
    session.add(item)
    await session.flush()
    await record_item_event(session, "register", item.id, now, actor_id=me.id)
    await session.flush()
    return item


async def update_draft(
    session: AsyncSession,
    person: Person,
    item_id: int,
    *,
    calendar: WorkCalendar,
    now: datetime,
    **changes: object,
) -> Item:
    """Change a draft (office): any keyword of ``register_item``; the rest stays as it was."""
    me = await act(session, person, "item.update")
    require_role(me, "office", "修改督查事项")
    item = await load_item(session, item_id, lock=True)
    check_item(item, "item.update")
    allowed = {
        "title",
        "requirements",
        "source",
        "importance",
        "lead_unit_id",
        "assisting_unit_ids",
        "deadline",
        "confidential",
        "weekly_feedback",
        "follower_id",
        "leader_ids",
        "unit_tasks",
        "unit_deadlines",
        "office_handled",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"update_draft() got unexpected fields {sorted(unknown)}")
    lead = next((a for a in item.assignments if a.role == "lead"), None)
    current: dict[str, object] = {
        "title": item.title,
        "requirements": item.requirements,
        "source": item.source,
        "importance": item.importance,
        "lead_unit_id": lead.unit_id if lead else None,
        "assisting_unit_ids": [a.unit_id for a in item.assignments if a.role == "assist"],
        "deadline": DeadlineSpec(item.deadline_days, item.deadline_date),
        "confidential": item.confidential,
        "weekly_feedback": item.weekly_feedback,
        "follower_id": item.follower_id,
        "leader_ids": [row.person_id for row in item.leader_rows],
        "unit_tasks": {a.unit_id: a.task for a in item.assignments if a.task},
        "unit_deadlines": {
            a.unit_id: DeadlineSpec(a.due_days, a.due_date) for a in item.assignments if a.due_days or a.due_date
        },
        "office_handled": item.office_handled,
    }
    # A changed deadline re-derives weekly feedback unless it is given too.
    if "deadline" in changes and "weekly_feedback" not in changes:
        current["weekly_feedback"] = None
    current.update(changes)
    await _apply(session, item, calendar=calendar, now=now, **current)  # type: ignore[arg-type]
    await session.flush()
    return item


async def _apply(
    session: AsyncSession,
    item: Item,
    *,
    calendar: WorkCalendar,
    now: datetime,
    title: str,
    requirements: str,
    source: str,
    importance: str,
    lead_unit_id: int | None,
    assisting_unit_ids: Sequence[int],
    deadline: DeadlineSpec | None,
    confidential: bool,
    weekly_feedback: bool | None,
    follower_id: int | None,
    leader_ids: Sequence[int],
    unit_tasks: Mapping[int, str | None],
    unit_deadlines: Mapping[int, DeadlineSpec],
    office_handled: bool,
) -> None:
    """Validate every field of a draft and write it (units and leaders included)."""
    today = local_date(now)
    title = clean_title(title)
    requirements = clean_text(requirements, "办理要求")
    source = choice(source, SOURCES, "事项来源")
    importance = choice(importance, IMPORTANCE, "重要程度")
    if deadline is None or (deadline.days is None and deadline.on is None):
        if importance != "important":
            raise DomainError("请填写办结时限（工作日天数或具体日期）")
        deadline = DeadlineSpec.working_days(IMPORTANT_DEFAULT_DAYS)
    deadline.validate(today)

    # Units: one lead, distinct assisting units, all existing and active; none when the office
    # handles the item itself (督查室自办).
    assisting = list(dict.fromkeys(assisting_unit_ids))
    if office_handled:
        if lead_unit_id is not None or assisting:
            raise DomainError("督查室自办的事项不交办承办单位，请不要选择主办或协办单位")
        weekly_feedback = False  # weekly feedback is what a unit owes the office
    elif lead_unit_id is None:
        raise DomainError("请选择主办单位；不交办单位的事项请选择“督查室自办”")
    if lead_unit_id is not None and lead_unit_id in assisting:
        raise DomainError("主办单位不能同时是协办单位")
    units: dict[int, Unit] = {}
    for unit_id in [*([lead_unit_id] if lead_unit_id is not None else []), *assisting]:
        unit = await session.get(Unit, unit_id) if isinstance(unit_id, int) else None
        if unit is None or not unit.active:
            raise DomainError("所选承办单位不存在或已停用，请重新选择")
        units[unit_id] = unit
    tasks, own_deadlines = _unit_shares(units, unit_tasks, unit_deadlines, today)
    if tasks and confidential:  # its 分工 goes on paper like its requirements (§9(五))
        raise DomainError("涉密事项的分工不在此填写，请随纸质文件交办")

    # Responsible leaders: at least one person holding the leader role.
    leader_list = list(dict.fromkeys(leader_ids))
    if not leader_list:
        raise DomainError("请至少选择一位负责审阅的县领导")
    leaders = []
    for pid in leader_list:
        p = await session.get(Person, pid) if isinstance(pid, int) else None
        if p is None or not p.active or not p.has_role("leader"):
            raise DomainError("所选审阅领导不是在册的县领导，请重新选择")
        leaders.append(p)

    follower = None
    if follower_id is not None:
        follower = await session.get(Person, follower_id) if isinstance(follower_id, int) else None
        if follower is None or not follower.active or not follower.has_role("office"):
            raise DomainError("跟踪专人须为督查室工作人员")
    if importance == "urgent" and follower is None:
        raise DomainError("紧急事项须指定一名督查室工作人员专人跟踪")

    if weekly_feedback is None:
        due = fix_deadline(calendar, deadline, today).due
        weekly_feedback = (due - today).days > 7

    item.title = title
    item.requirements = requirements
    item.source = source
    item.importance = importance
    item.deadline_days = deadline.days
    item.deadline_date = deadline.on
    item.confidential = bool(confidential)
    item.weekly_feedback = bool(weekly_feedback)
    item.follower = follower
    item.office_handled = bool(office_handled)

    wanted = {**({lead_unit_id: "lead"} if lead_unit_id is not None else {}), **{u: "assist" for u in assisting}}
    for a in list(item.assignments):
        if a.unit_id not in wanted:
            item.assignments.remove(a)
            await session.delete(a)
    existing = {a.unit_id: a for a in item.assignments}
    for unit_id, role in wanted.items():
        if unit_id in existing:
            existing[unit_id].role = role
        else:
            existing[unit_id] = Assignment(
                unit=units[unit_id],
                role=role,
                state="draft",
                created_at=item.created_at,
                due_provisional=False,
                extension_count=0,
                redo_count=0,
            )
            item.assignments.append(existing[unit_id])
    for unit_id, a in existing.items():
        # A draft share keeps its own deadline as asked; approval fixes it (``approve_item``).
        own = own_deadlines.get(unit_id)
        a.task = tasks.get(unit_id)
        a.due_days, a.due_date = (own.days, own.on) if own else (None, None)

    have = {row.person_id for row in item.leader_rows}
    want = {p.id for p in leaders}
    for row in list(item.leader_rows):
        if row.person_id not in want:
            item.leader_rows.remove(row)
    for p in leaders:
        if p.id not in have:
            item.leader_rows.append(ItemLeader(person=p))


def _unit_shares(
    units: Mapping[int, Unit],
    unit_tasks: Mapping[int, str | None],
    unit_deadlines: Mapping[int, DeadlineSpec],
    today: date,
) -> tuple[dict[int, str], dict[int, DeadlineSpec]]:
    """The units' own tasks and deadlines (分工), checked: only for units of the item."""
    tasks: dict[int, str] = {}
    for unit_id, text in unit_tasks.items():
        if unit_id not in units:
            raise DomainError("分工只能填写本事项的承办单位")
        if text and text.strip():
            tasks[unit_id] = clean_text(text, f"{units[unit_id].name}的分工任务")
    deadlines: dict[int, DeadlineSpec] = {}
    for unit_id, spec in unit_deadlines.items():
        if unit_id not in units:
            raise DomainError("单位时限只能填写本事项的承办单位")
        deadlines[unit_id] = spec.validate(today)
    return tasks, deadlines


def unit_deadline_spec(a: Assignment) -> DeadlineSpec | None:
    """A draft share's own deadline as asked, or None (the item's applies)."""
    return DeadlineSpec(a.due_days, a.due_date) if a.state == "draft" and (a.due_days or a.due_date) else None


# --------------------------------------------------------------------------------------------
# 审批
# --------------------------------------------------------------------------------------------


async def submit_item(session: AsyncSession, person: Person, item_id: int, *, now: datetime) -> Item:
    """Send a draft to the office head(s) for approval (office). Each gets 同意 / 退回 buttons."""
    me = await act(session, person, "item.submit")
    require_role(me, "office", "提交立项审批")
    item = await load_item(session, item_id, lock=True)
    check_item(item, "item.submit")
    DeadlineSpec(item.deadline_days, item.deadline_date).validate(local_date(now))
    for a in item.assignments:
        own = unit_deadline_spec(a)
        if own is not None:
            own.validate(local_date(now))
    heads = await office_heads(session)
    if not heads:
        raise DomainError("尚未设置督查室负责人，无法提交审批。请先邀请督查室负责人。")
    move_item(item, "item.submit")
    item.submission_count += 1
    item.submitted_at = now
    await record_item_event(session, "submit", item.id, now, actor_id=me.id)
    buttons: Keyboard = [[button("i:ok", item.id), button("i:no", item.id)]]
    await notify_many(
        session,
        heads,
        "notices/approval_request.html.j2",
        item=item,
        now=now,
        label="立项审批",
        dedupe=f"approve-req:{item.id}:{item.submission_count}",  # see approval_request_key
        buttons=buttons,
        submitted_by=me.name,
    )
    await session.flush()
    return item


def approval_request_key(item_id: int) -> str:
    """The start of every 立项审批 request's outbox key for the item (all its submissions, all heads):
    once one head decides, or the submitter withdraws, the requests not yet sent are withdrawn."""
    return f"wf:approve-req:{item_id}:"


def _check_decision(item: Item, action: str) -> None:
    if item.state == "draft" and item.submission_count > 0:
        raise AlreadyHandled(f"{item_label(item)}的立项申请已退回或撤回，此操作已失效。")
    check_item(item, action)


async def approve_item(
    session: AsyncSession, person: Person, item_id: int, *, calendar: WorkCalendar, now: datetime
) -> Item:
    """Approve a pending item (office head): number it, fix the deadlines, send the 督办通知单.

    Each unit's liaisons get the notice with 签收/反馈进展/申请延期/提交办结报告 (assisting units also
    无法协办); each unit's head gets it for information, without buttons; an urgent item's
    follower gets it too. The registrant is told, including which units have no liaison yet.
    """
    me = await act(session, person, "item.approve")
    require_role(me, "office_head", "审批立项")
    item = await load_item(session, item_id, lock=True)
    _check_decision(item, "item.approve")
    today = local_date(now)
    # An explicit date that has passed while the item waited cannot be approved: return it instead.
    spec = DeadlineSpec(item.deadline_days, item.deadline_date).validate(today)
    own_specs = {a.id: unit_deadline_spec(a) for a in item.assignments}
    for own in own_specs.values():
        if own is not None:
            own.validate(today)
    item.year = today.year
    item.number = await _next_number(session, today.year)
    fixed = fix_deadline(calendar, spec, today)
    item.due_date, item.due_provisional = fixed.due, fixed.provisional
    item.approved_at, item.approved_by_id = now, me.id
    approval = ItemApproval(item_id=item.id, approved=True, decided_by_id=me.id, decided_at=now)
    session.add(approval)
    move_item(item, "item.approve")
    await withdraw_unsent(session, approval_request_key(item.id), f"已由{me.name}审批通过")
    if item.office_handled:  # no unit to acknowledge it: the office is handling it from now on
        move_item(item, "item.office_start")
    unknown_years = set(fixed.unknown_years)
    for a in item.assignments:
        move_assignment(a, "item.approve")
        own = own_specs.get(a.id)
        mine = fix_deadline(calendar, own, today) if own is not None else fixed
        unknown_years |= set(mine.unknown_years)
        set_deadline(a, mine)
        a.notified_at = now
    await session.flush()
    await record_item_event(session, "approve", item.id, now, actor_id=me.id, ref=approval)
    for a in item.assignments:
        await record_item_event(session, "notice", item.id, now, actor_id=me.id, assignment_id=a.id)

    missing = []
    for a in item.assignments:
        if not await send_notice(session, item, a, now=now):
            missing.append(a.unit.name)
    if item.follower is not None:
        await notify(
            session,
            item.follower,
            "notices/supervision_notice.html.j2",
            item=item,
            now=now,
            label="督办通知（专人跟踪）",
            dedupe=f"notice-follower:{item.id}",
            audience="follower",
            unit=None,
            role=None,
            due=due_text(fixed.due, fixed.provisional),
            due_provisional=fixed.provisional,
            task=None,
        )
    await notify(
        session,
        item.created_by,
        "notices/item_approved.html.j2",
        item=item,
        now=now,
        label="立项已审批",
        dedupe=f"approved:{item.id}",
        approver=me.name,
        units_without_liaison=missing,
        unknown_years=sorted(unknown_years),
    )
    await session.flush()
    return item


async def reject_item(session: AsyncSession, person: Person, item_id: int, *, reason: str, now: datetime) -> Item:
    """Return a pending item to the registrant with a reason (office head); it becomes a draft again."""
    me = await act(session, person, "item.reject")
    require_role(me, "office_head", "退回立项申请")
    item = await load_item(session, item_id, lock=True)
    _check_decision(item, "item.reject")
    reason = clean_text(reason, "退回理由")
    approval = ItemApproval(item_id=item.id, approved=False, reason=reason, decided_by_id=me.id, decided_at=now)
    session.add(approval)
    move_item(item, "item.reject")
    await withdraw_unsent(session, approval_request_key(item.id), f"已由{me.name}退回")
    await notify(
        session,
        item.created_by,
        "notices/item_rejected.html.j2",
        item=item,
        now=now,
        label="立项申请被退回",
        dedupe=f"rejected:{item.id}:{item.submission_count}",
        approver=me.name,
        reason=reason,
    )
    await session.flush()
    await record_item_event(session, "reject", item.id, now, actor_id=me.id, ref=approval)
    await session.flush()
    return item


async def _next_number(session: AsyncSession, year: int) -> int:
    """The next number of ``year``: the year's counter row is incremented (and so locked) in this
    transaction, so concurrent approvals queue on it; the first approval of a year creates the row
    in a savepoint and retries if another transaction created it first."""
    for _ in range(3):
        result = await session.execute(
            update(ItemCounter)
            .where(ItemCounter.year == year)
            .values(last_number=ItemCounter.last_number + 1)
            .returning(ItemCounter.last_number)
        )
        number = result.scalar_one_or_none()
        if number is not None:
            # A Core UPDATE: the mapper hooks do not see it, so its audit row is written here.
            await audit_write(session, "item_counters", year, {"last_number": number - 1}, {"last_number": number})
            return number
        try:
            async with session.begin_nested():
                await session.execute(insert(ItemCounter).values(year=year, last_number=1))
            await audit_write(session, "item_counters", year, None, {"year": year, "last_number": 1})
            return 1
        except IntegrityError:
            continue
    raise RuntimeError(f"could not allocate an item number for {year}")


# --------------------------------------------------------------------------------------------
# Notices and deadlines shared with transfers
# --------------------------------------------------------------------------------------------


def set_deadline(a: Assignment, fixed: FixedDeadline) -> None:
    a.due_date, a.due_provisional = fixed.due, fixed.provisional
    a.due_basis, a.due_days = fixed.basis, fixed.days


def notice_buttons(a: Assignment, confidential: bool) -> Keyboard:
    """签收, 反馈进展 / 申请延期, 提交办结报告 (无法协办); a confidential item's unit confirms on paper."""
    conf = confidential
    rows: Keyboard = [
        [button("a:ack", a.id)],
        [progress_button(a.id, conf), button("a:ext", a.id)],
        [report_button(a.id, conf)],
    ]
    if a.role == "assist":
        rows[-1].append(button("a:dec", a.id))
    return rows


async def send_notice(session: AsyncSession, item: Item, a: Assignment, *, now: datetime) -> bool:
    """The 督办通知单 for one unit: liaisons with action buttons, unit heads for information.

    Returns False when the unit has no liaison (the office must follow up)."""
    role = UNIT_ROLES_OF_ASSIGNMENT[a.role]
    ctx = {
        "unit": a.unit.name,
        "role": role,
        "due": due_text(a.due_date, a.due_provisional),
        "due_provisional": a.due_provisional,
        "task": a.task,  # the unit's own 分工 (issue 12); None: the item's requirements
    }
    people = await liaisons(session, a.unit_id)
    await notify_many(
        session,
        people,
        "notices/supervision_notice.html.j2",
        item=item,
        now=now,
        label=f"督办通知（{role}）",
        dedupe=f"notice:{a.id}",
        buttons=notice_buttons(a, item.confidential),
        audience="liaison",
        **ctx,
    )
    told = {p.id for p in people}
    heads = [p for p in await unit_heads(session, a.unit_id) if p.id not in told]
    await notify_many(
        session,
        heads,
        "notices/supervision_notice.html.j2",
        item=item,
        now=now,
        label=f"督办通知（{role}，供知悉）",
        dedupe=f"notice-head:{a.id}",
        audience="head",
        **ctx,
    )
    return bool(people)


# --------------------------------------------------------------------------------------------
# 归档
# --------------------------------------------------------------------------------------------


async def archive_item(session: AsyncSession, person: Person, item_id: int, *, now: datetime) -> Item:
    """Archive a closed item (office). Its dossier stays available."""
    me = await act(session, person, "item.archive")
    require_role(me, "office", "归档")
    item = await load_item(session, item_id, lock=True)
    move_item(item, "item.archive")
    item.archived_at, item.archived_by_id = now, me.id
    await record_item_event(session, "archive", item.id, now, actor_id=me.id)
    await session.flush()
    return item


# --------------------------------------------------------------------------------------------
# Provisional deadlines
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineChange:
    item_id: int
    assignment_id: int | None  # None: the item's own (original) deadline
    unit_name: str | None
    old_due: date | None  # as stored: the column is nullable
    new_due: date
    provisional: bool  # still provisional (counted through another unloaded year)


async def recompute_provisional(session: AsyncSession, calendar: WorkCalendar, now: datetime) -> list[DeadlineChange]:
    """Recount every provisional working-day deadline with ``calendar`` (run after loading a year).

    A deadline whose date changes, or which stops being provisional, is updated; the liaisons of
    the unit are told (once per change). Idempotent: running it again changes and sends nothing.
    Extended deadlines are explicit dates and never provisional.
    """
    await session.flush()
    session.info["action"] = "deadline.recompute"
    changes: list[DeadlineChange] = []

    items = (
        await session.scalars(
            select(Item).where(
                Item.due_provisional.is_(True), Item.deadline_days.is_not(None), Item.approved_at.is_not(None)
            )
        )
    ).all()
    for item in items:
        if item.approved_at is None or item.deadline_days is None:  # as selected; tells the type checker
            continue
        fixed = calendar.add_working_days(local_date(item.approved_at), item.deadline_days)
        if (fixed.due, fixed.provisional) != (item.due_date, item.due_provisional):
            changes.append(DeadlineChange(item.id, None, None, item.due_date, fixed.due, fixed.provisional))
            item.due_date, item.due_provisional = fixed.due, fixed.provisional

    rows = (
        await session.scalars(
            select(Assignment)
            .where(
                Assignment.due_provisional.is_(True),
                Assignment.due_days.is_not(None),
                Assignment.due_basis.is_not(None),
            )
            .order_by(Assignment.id)
        )
    ).all()
    for a in rows:
        if a.due_basis is None or a.due_days is None:  # as selected; tells the type checker
            continue
        fixed = calendar.add_working_days(a.due_basis, a.due_days)
        if (fixed.due, fixed.provisional) == (a.due_date, a.due_provisional):
            continue
        old = a.due_date
        a.due_date, a.due_provisional = fixed.due, fixed.provisional
        changes.append(DeadlineChange(a.item_id, a.id, a.unit.name, old, fixed.due, fixed.provisional))
        if a.state in ("assigned", "in_progress", "reported"):
            # The unit's liaisons and its head (issue 12: the head was given the original notice).
            people = [*await liaisons(session, a.unit_id), *await unit_heads(session, a.unit_id)]
            await notify_many(
                session,
                people,
                "notices/deadline_changed.html.j2",
                item=await load_item(session, a.item_id),
                now=now,
                label="办结时限调整",
                dedupe=f"due:{a.id}:{fixed.due.isoformat()}:{int(fixed.provisional)}",
                unit=a.unit.name,
                old_due=due_text(old, True),
                new_due=due_text(fixed.due, fixed.provisional),
                new_due_provisional=fixed.provisional,
            )
    await session.flush()
    return changes
