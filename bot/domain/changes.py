"""Mistakes that can be fixed (issue 12): a draft edited, withdrawn or deleted; an approved item
changed (deadline, requirements, a unit added or removed), suspended (中止), resumed or cancelled (撤销).

Who may do what, and why:

* A draft (待提交, e.g. after the office head returned it) is edited by office staff — title,
  requirements, deadline, units — through ``items.update_draft``, then submitted again (提交审批).
* A submitted draft (待审批) is withdrawn (撤回) only by the person who submitted it; it becomes a
  draft again and the office heads' approval buttons go stale (they are told).
* A draft is deleted by office staff (the registrant or a colleague), with a reason. It is kept as
  「已删除」 for the audit trail and leaves every list.
* An approved item is changed, suspended, resumed or cancelled only with the office head's
  consent: office staff propose (with a reason), each office head gets 同意变更/不同意变更, and
  the first decision counts. The regulation (§5(一), 立项: "报经县政府办公室主要领导审核同意后 …
  建档立项"; §5(二), 交办 fixes 目标任务、办理要求和办结时限) makes the head's approval what
  fixes an item's requirements, units and deadline, so undoing or changing any of them goes
  back to the head. A county office that is used to the clerk simply editing the deadline gets a
  proposal instead; that is the regulation's choice, not a missing shortcut.
* Every decided change is announced to those it affects — each live unit's liaisons and unit
  head (a removed unit's too), the responsible leaders and the proposer — recorded as an item
  event (the dossier and ``/item`` show it with its reason) and audited like every write.

Suspension and scores: while an item is suspended its units' shares are 「已中止」 — no traffic
light, no reminder, no weekly feedback, nothing overdue. On resumption every suspended unit's
deadline moves later by the working days the item was suspended (counted like the calendar
counts deadlines), so the pause costs no unit a point: a share finished by its moved deadline is
on time. This is not an extension (``extension_count`` is untouched, nothing is docked).
A cancelled item (撤销) is not scored at all: its shares are 「已撤销」, which no score rule counts.

分工 per unit (issue 12 point 6, §4(五)): one unit's own task (变更分工) or its own deadline
(变更单位时限) is changed like the rest — proposed with a reason, decided by the office head —
and announced to that unit (and the leaders and the follower), not to every unit on the item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.confidential import clean_label
from bot.domain.dates import ANY_DATE, parse_date
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.events import record_item_event
from bot.domain.items import approval_request_key, notice_buttons, send_notice, set_deadline, update_draft
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ACTIVE_ASSIGNMENT_STATES,
    LIVE_ASSIGNMENT_STATES,
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    DeadlineSpec,
    FixedDeadline,
    InvalidState,
    act,
    check_item,
    clean_text,
    due_text,
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
from store.changes import ItemChange
from store.events import ItemEvent
from store.models import Person, Unit
from store.workflow import Assignment, ExtensionRequest, Item, Transfer

# kind → (the transition it makes, what the notices call it)
KINDS: dict[str, tuple[str, str]] = {
    "deadline": ("item.change", "变更办结时限"),
    "requirements": ("item.change", "变更办理要求"),
    "add_unit": ("item.change", "增加承办单位"),
    "remove_unit": ("item.change", "撤出承办单位"),
    "suspend": ("item.suspend", "中止办理"),
    "resume": ("item.resume", "恢复办理"),
    "cancel": ("item.cancel", "撤销事项"),
    "unit_task": ("item.change", "变更单位分工"),
    "unit_deadline": ("item.change", "变更单位时限"),
}
# The kinds that concern one unit's share only (its task or deadline: 分工, issue 12).
UNIT_KINDS = frozenset({"unit_task", "unit_deadline"})
CHANGE_STATES = {"pending": "待审批", "approved": "已同意", "rejected": "未同意"}
# Shares that stop at a cancellation (the rest already ended their own way).
_ENDED_BY_CANCEL = frozenset({"draft", "assigned", "in_progress", "reported", "suspended"})


# --------------------------------------------------------------------------------------------
# Drafts: edit, withdraw, delete
# --------------------------------------------------------------------------------------------

_DAYS = re.compile(r"(\d{1,4})\s*(?:个)?\s*(?:工作日|天)?")


def deadline_from_text(text: str | None, today: date) -> DeadlineSpec:
    """``7`` / ``7个工作日`` → 7 working days after approval; a date as ``bot.domain.dates`` reads it."""
    s = (text or "").strip()
    m = _DAYS.fullmatch(s)
    spec = DeadlineSpec.working_days(int(m.group(1))) if m else DeadlineSpec.on_date(parse_date(s, today))
    return spec.validate(today)


async def edit_draft(
    session: AsyncSession,
    person: Person,
    item_id: int,
    *,
    field: str,
    text: str | None = None,
    unit_id: int | None = None,
    calendar: WorkCalendar,
    now: datetime,
) -> Item:
    """One field of a draft changed from the chat (office): ``title``, ``requirements``,
    ``deadline`` (text as typed), ``add_assist``, ``remove_assist``, ``lead`` (a unit id)."""
    item = await load_item(session, item_id)
    changes: dict[str, object]
    if item.confidential and field == "requirements":
        _no_requirements(item)
    if item.confidential and field == "title":  # a neutral label only (bot.domain.confidential)
        changes = {"title": clean_label(text)}
    elif field in ("title", "requirements"):
        changes = {field: text or ""}
    elif field == "deadline":
        changes = {"deadline": deadline_from_text(text, local_date(now))}
    elif field in ("add_assist", "remove_assist", "lead"):
        lead = next((a.unit_id for a in item.assignments if a.role == "lead"), None)
        assists = [a.unit_id for a in item.assignments if a.role == "assist"]
        unit = await session.get(Unit, unit_id) if isinstance(unit_id, int) else None
        if unit is None:
            raise DomainError("所选单位不存在，请重新选择")
        if field == "add_assist":
            if unit.id == lead or unit.id in assists:
                raise DomainError(f"{unit.name}已是本事项的承办单位")
            changes = {"assisting_unit_ids": [*assists, unit.id]}
        elif field == "remove_assist":
            if unit.id == lead:
                raise DomainError(f"{unit.name}是主办单位，不能移除；请用「更换主办单位」")
            if unit.id not in assists:
                raise DomainError(f"{unit.name}不是本事项的协办单位")
            changes = {"assisting_unit_ids": [u for u in assists if u != unit.id]}
        else:
            if unit.id == lead:
                raise DomainError(f"{unit.name}已是主办单位")
            changes = {"lead_unit_id": unit.id, "assisting_unit_ids": [u for u in assists if u != unit.id]}
    else:
        raise ValueError(f"unknown draft field {field!r}")
    return await update_draft(session, person, item_id, calendar=calendar, now=now, **changes)


async def _submitter(session: AsyncSession, item_id: int) -> int | None:
    return await session.scalar(
        select(ItemEvent.actor_id)
        .where(ItemEvent.item_id == item_id, ItemEvent.kind == "submit")
        .order_by(ItemEvent.id.desc())
        .limit(1)
    )


async def withdraw_item(session: AsyncSession, person: Person, item_id: int, *, now: datetime) -> Item:
    """Take a submitted draft back before the office head decides (its submitter only)."""
    me = await act(session, person, "item.withdraw")
    require_role(me, "office", "撤回立项申请")
    item = await load_item(session, item_id, lock=True)
    check_item(item, "item.withdraw")
    if await _submitter(session, item.id) not in (me.id, None):
        raise NotAllowed("只有提交审批的人才能撤回该立项申请")
    move_item(item, "item.withdraw")
    await withdraw_unsent(session, approval_request_key(item.id), f"已由{me.name}撤回")
    await record_item_event(session, "withdraw", item.id, now, actor_id=me.id)
    await notify_many(
        session,
        await office_heads(session),
        "notices/item_withdrawn.html.j2",
        item=item,
        now=now,
        label="立项申请已撤回",
        dedupe=f"withdrawn:{item.id}:{item.submission_count}",
        by=me.name,
    )
    await session.flush()
    return item


async def delete_draft(
    session: AsyncSession, person: Person, item_id: int, *, reason: str | None, now: datetime
) -> Item:
    """Delete a draft that was never approved (office), with a reason; it leaves every list."""
    me = await act(session, person, "item.delete")
    require_role(me, "office", "删除草稿")
    item = await load_item(session, item_id, lock=True)
    check_item(item, "item.delete")
    reason = clean_text(reason, "删除理由", 500)
    move_item(item, "item.delete")
    await record_item_event(session, "delete", item.id, now, actor_id=me.id)
    change = ItemChange(
        item_id=item.id,
        kind="delete",
        reason=reason,
        status="approved",
        proposed_by_id=me.id,
        proposed_at=now,
        decided_by_id=me.id,
        decided_at=now,
    )
    session.add(change)
    await session.flush()
    return item


# --------------------------------------------------------------------------------------------
# Approved items: propose, decide
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    kind: str
    reason: str
    new_due: date | None = None
    new_text: str | None = None
    unit_id: int | None = None


def split_requirements(text: str | None) -> tuple[str, str]:
    """New requirements and the reason from one message: the reason is the last line that starts
    with 理由 (「理由：……」); everything before it is the new requirements."""
    lines = (text or "").strip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        m = re.match(r"\s*(?:变更)?理由\s*[：:]\s*(.*)", lines[i])
        if m:
            return "\n".join(lines[:i]).strip(), (m.group(1) + "\n" + "\n".join(lines[i + 1 :])).strip()
    raise DomainError("请在新的办理要求后另起一行写明变更理由，如“理由：县政府常务会议调整了工作目标”")


_DATED = re.compile(rf"\s*({ANY_DATE})\s*[，,、；;。.]?\s*(?:(?:变更)?理由\s*[：:])?\s*(.*)", re.S)


def split_dated(text: str | None, today: date) -> tuple[date, str]:
    """A unit's new deadline and the reason from one message: 「2026-12-18 理由：……」."""
    m = _DATED.fullmatch(text or "")
    if m is None:
        raise DomainError("请先写新的办结日期，再写变更理由，如“2026-12-18 理由：该单位负责的部分须先行完成”")
    return parse_date(m.group(1), today), m.group(2).strip()


async def _check_proposal(session: AsyncSession, item: Item, p: Proposal, today: date) -> None:
    """Whether the change fits the item now (checked when proposed and again when decided)."""
    if p.kind not in KINDS:
        raise ValueError(f"unknown change kind {p.kind!r}")
    check_item(item, KINDS[p.kind][0])
    if item.office_handled and (p.kind in UNIT_KINDS or p.kind in ("add_unit", "remove_unit")):
        raise DomainError("督查室自办的事项没有承办单位")
    live = {a.unit_id: a for a in item.assignments if a.state in LIVE_ASSIGNMENT_STATES | {"suspended"}}
    if p.kind == "deadline":
        if p.new_due is None:
            raise DomainError("请填写新的办结日期")
        DeadlineSpec.on_date(p.new_due).validate(today)
        if p.new_due == item.due_date and all(a.due_date == p.new_due for a in live.values()):
            raise DomainError(f"办结时限已是 {p.new_due.isoformat()}，无需变更")
    elif p.kind == "requirements":
        _no_requirements(item)
        clean_text(p.new_text, "新的办理要求")
        if (p.new_text or "").strip() == item.requirements:
            raise DomainError("新的办理要求与原来相同，无需变更")
    elif p.kind in ("add_unit", "remove_unit"):
        unit = await session.get(Unit, p.unit_id) if isinstance(p.unit_id, int) else None
        if unit is None or not unit.active:
            raise DomainError("所选单位不存在或已停用，请重新选择")
        if p.kind == "add_unit":
            if unit.id in live:
                raise DomainError(f"{unit.name}已是本事项的承办单位")
            if any(a.unit_id == unit.id for a in item.assignments):
                raise DomainError(f"{unit.name}曾承办本事项（已转办、撤出或无法协办），不能再次加入")
        else:
            a = live.get(unit.id)
            if a is None:
                raise DomainError(f"{unit.name}不是本事项在办的承办单位")
            if a.role == "lead":
                raise DomainError(f"{unit.name}是主办单位，不能撤出；如需更换请由该单位申请转办")
    elif p.kind in UNIT_KINDS:
        share = live.get(p.unit_id) if isinstance(p.unit_id, int) else None
        if share is None:
            raise DomainError("所选单位不是本事项在办的承办单位，请重新选择")
        if p.kind == "unit_task":
            if item.confidential:  # its 分工 goes on paper like its requirements (§9(五))
                raise DomainError("涉密事项的分工不在此填写，请随纸质文件交办")
            if clean_text(p.new_text, "新的分工任务") == (share.task or ""):
                raise DomainError(f"{share.unit.name}的分工与原来相同，无需变更")
        else:
            if p.new_due is None:
                raise DomainError("请填写该单位新的办结日期")
            DeadlineSpec.on_date(p.new_due).validate(today)
            if p.new_due == share.due_date:
                raise DomainError(f"{share.unit.name}的办结时限已是 {p.new_due.isoformat()}，无需变更")


async def propose_change(
    session: AsyncSession, person: Person, item_id: int, proposal: Proposal, *, now: datetime
) -> ItemChange:
    """Office staff propose a change to an approved item; each office head gets 同意/不同意变更."""
    action = KINDS[proposal.kind][0] if proposal.kind in KINDS else "item.change"
    me = await act(session, person, f"{action}.propose")
    require_role(me, "office", "提出事项变更")
    item = await load_item(session, item_id, lock=True)
    reason = clean_text(proposal.reason, "变更理由", 500)
    await _check_proposal(session, item, proposal, local_date(now))
    heads = await office_heads(session)
    if not heads:
        raise DomainError("尚未设置督查室负责人，无法提交变更审批。")
    change = ItemChange(
        item_id=item.id,
        kind=proposal.kind,
        reason=reason,
        status="pending",
        new_due=proposal.new_due,
        new_text=clean_text(proposal.new_text, "新的办理要求" if proposal.kind == "requirements" else "新的分工任务")
        if proposal.kind in ("requirements", "unit_task")
        else None,
        unit_id=proposal.unit_id if proposal.kind in ("add_unit", "remove_unit", *UNIT_KINDS) else None,
        proposed_by_id=me.id,
        proposed_at=now,
    )
    session.add(change)
    await session.flush()
    await session.refresh(change, ["unit"])  # a new row: its unit is read now, not lazily later
    await record_item_event(session, "change_request", item.id, now, actor_id=me.id, ref=change)
    buttons: Keyboard = [[button("g:ok", change.id), button("g:no", change.id)]]
    await notify_many(
        session,
        heads,
        "notices/change_request.html.j2",
        item=item,
        now=now,
        label="事项变更审批",
        dedupe=f"change-req:{change.id}",
        buttons=buttons,
        change=_describe(change, item),
        by=me.name,
    )
    await session.flush()
    return change


async def _pending_change(
    session: AsyncSession, person: Person, change_id: int, action: str
) -> tuple[Person, ItemChange, Item]:
    me = await act(session, person, action)
    require_role(me, "office_head", "审批事项变更")
    item_id = (
        await session.scalar(select(ItemChange.item_id).where(ItemChange.id == change_id))
        if isinstance(change_id, int)
        else None
    )
    if item_id is None:
        raise DomainError("找不到该变更申请，可能已被删除")
    item = await load_item(session, item_id, lock=True)
    change = await session.scalar(
        select(ItemChange).where(ItemChange.id == change_id).execution_options(populate_existing=True)
    )
    assert change is not None
    if change.status != "pending":
        raise AlreadyHandled(f"该变更申请已{CHANGE_STATES.get(change.status, change.status)}，无需重复操作。")
    return me, change, item


async def approve_change(
    session: AsyncSession, person: Person, change_id: int, *, calendar: WorkCalendar, now: datetime
) -> ItemChange:
    """The office head agrees: the change is made and everyone it affects is told."""
    me, change, item = await _pending_change(session, person, change_id, "item.change.approve")
    proposal = Proposal(change.kind, change.reason, change.new_due, change.new_text, change.unit_id)
    try:
        await _check_proposal(session, item, proposal, local_date(now))
    except (InvalidState, AlreadyHandled) as exc:
        raise InvalidState(f"该变更已不适用：{exc.message}") from exc
    session.info["action"] = f"{KINDS[change.kind][0]}.approve"
    change.status, change.decided_by_id, change.decided_at = "approved", me.id, now
    affected = await _apply(session, item, change, calendar=calendar, now=now)
    await record_item_event(session, "change", item.id, now, actor_id=me.id, ref=change)
    await _announce(session, item, change, affected, by=me.name, now=now)
    await session.flush()
    return change


async def reject_change(
    session: AsyncSession, person: Person, change_id: int, *, reason: str, now: datetime
) -> ItemChange:
    """The office head does not agree (with a reason); the proposer is told, nothing else changes."""
    me, change, item = await _pending_change(session, person, change_id, "item.change.reject")
    note = clean_text(reason, "不同意的理由", 500)
    change.status, change.decided_by_id, change.decided_at, change.decision_note = "rejected", me.id, now, note
    await record_item_event(session, "change", item.id, now, actor_id=me.id, ref=change)
    await notify(
        session,
        change.proposed_by,
        "notices/change_decided.html.j2",
        item=item,
        now=now,
        label="事项变更未同意",
        dedupe=f"change-dec:{change.id}",
        change=_describe(change, item),
        approved=False,
        by=me.name,
        note=note,
    )
    await session.flush()
    return change


# --------------------------------------------------------------------------------------------
# Making a change
# --------------------------------------------------------------------------------------------


async def _apply(
    session: AsyncSession, item: Item, change: ItemChange, *, calendar: WorkCalendar, now: datetime
) -> list[Assignment]:
    """Make the change; returns the units' shares to tell (a removed unit's included)."""
    live = [a for a in item.assignments if a.state in LIVE_ASSIGNMENT_STATES | {"suspended"}]
    if change.kind == "deadline":
        assert change.new_due is not None
        change.before = {
            "due": item.due_date.isoformat() if item.due_date else None,
            "deadline_days": item.deadline_days,
            "units": {str(a.id): a.due_date.isoformat() if a.due_date else None for a in live},
        }
        item.due_date, item.due_provisional = change.new_due, False
        item.deadline_days, item.deadline_date = None, change.new_due
        for a in live:
            set_deadline(a, FixedDeadline(change.new_due, False, None, None))
        return live
    if change.kind == "requirements":
        change.before = {"requirements": item.requirements}
        item.requirements = change.new_text or item.requirements
        return live
    if change.kind == "add_unit":
        unit = await session.get(Unit, change.unit_id)
        lead = next((a for a in live if a.role == "lead"), None)
        due = lead.due_date if lead and lead.due_date else item.due_date
        a = Assignment(
            unit=unit,
            role="assist",
            state="assigned",
            created_at=now,
            notified_at=now,
            due_provisional=False,
            extension_count=0,
            redo_count=0,
        )
        if due is not None:  # the lead unit's deadline in force (an approved item always has one)
            set_deadline(a, FixedDeadline(due, False, None, None))
        item.assignments.append(a)
        await session.flush()
        await record_item_event(session, "notice", item.id, now, assignment_id=a.id)
        await send_notice(session, item, a, now=now)  # the new unit gets the 督办通知单 itself
        return live
    if change.kind == "remove_unit":
        a = next(a for a in live if a.unit_id == change.unit_id)
        change.before = {"assignment": a.id, "state": a.state}
        move_assignment(a, "unit.remove")
        await _cancel_requests(session, a)
        return [*live]
    if change.kind in UNIT_KINDS:
        a = next(a for a in live if a.unit_id == change.unit_id)
        if change.kind == "unit_task":
            change.before = {"assignment": a.id, "task": a.task}
            a.task = change.new_text
        else:
            assert change.new_due is not None
            change.before = {"assignment": a.id, "due": a.due_date.isoformat() if a.due_date else None}
            set_deadline(a, FixedDeadline(change.new_due, False, None, None))
        return [a]  # only the unit whose share changed is told (and the leaders and follower)
    if change.kind == "suspend":
        change.before = {
            "item": item.state,
            "assignments": {str(a.id): a.state for a in item.assignments if a.state in ACTIVE_ASSIGNMENT_STATES},
        }
        move_item(item, "item.suspend")
        for a in item.assignments:
            if a.state in ACTIVE_ASSIGNMENT_STATES:
                move_assignment(a, "item.suspend")
        return live
    if change.kind == "resume":
        await _resume(session, item, change, calendar, now)
        return [a for a in item.assignments if a.state in LIVE_ASSIGNMENT_STATES]
    if change.kind == "cancel":
        move_item(item, "item.cancel")
        item.closed_at = now
        for a in item.assignments:
            if a.state in _ENDED_BY_CANCEL:
                move_assignment(a, "item.cancel")
                await _cancel_requests(session, a)
        return live
    raise ValueError(change.kind)


async def _resume(session: AsyncSession, item: Item, change: ItemChange, calendar: WorkCalendar, now: datetime) -> None:
    """Back to where it was; each suspended share's deadline moves by the working days paused."""
    since = await session.scalar(
        select(ItemChange)
        .where(ItemChange.item_id == item.id, ItemChange.kind == "suspend", ItemChange.status == "approved")
        .order_by(ItemChange.id.desc())
        .limit(1)
    )
    if since is None or since.before is None or since.decided_at is None:
        raise InvalidState(f"{item_label(item)}没有中止记录，无法恢复")
    paused = max(0, calendar.working_days_between(local_date(since.decided_at), local_date(now)).days)
    states: dict[str, str] = since.before.get("assignments", {})
    moved = {}
    for a in item.assignments:
        if a.state != "suspended":
            continue
        a.state = states.get(str(a.id), "assigned" if a.acknowledged_at is None else "in_progress")
        if a.due_date is not None and paused:
            old = a.due_date
            new = calendar.add_working_days(a.due_date, paused)
            set_deadline(a, FixedDeadline(new.due, new.provisional, None, None))
            moved[str(a.id)] = [old.isoformat(), new.due.isoformat()]
    if item.due_date is not None and paused:
        item.due_date = calendar.add_working_days(item.due_date, paused).due
    item.state = since.before.get("item", "in_progress")
    change.before = {"paused_working_days": paused, "moved": moved}


async def _cancel_requests(session: AsyncSession, a: Assignment) -> None:
    """A share that ends leaves no request waiting for the office."""
    for r in (
        await session.scalars(
            select(ExtensionRequest).where(ExtensionRequest.assignment_id == a.id, ExtensionRequest.status == "pending")
        )
    ).all():
        r.status = "cancelled"
    for t in (
        await session.scalars(select(Transfer).where(Transfer.assignment_id == a.id, Transfer.status == "pending"))
    ).all():
        t.status = "cancelled"


# --------------------------------------------------------------------------------------------
# Telling people
# --------------------------------------------------------------------------------------------


def _describe(change: ItemChange, item: Item) -> dict[str, object]:
    """What a notice says about a change (never the requirements of a confidential item)."""
    lead = next((a for a in item.assignments if a.role == "lead" and a.state != "transferred"), None)
    if change.kind in UNIT_KINDS:  # the unit's own deadline is what changes
        lead = next((a for a in item.assignments if a.unit_id == change.unit_id), lead)
    before = change.before or {}
    return {
        "id": change.id,
        "kind": change.kind,
        "what": KINDS.get(change.kind, ("", "删除草稿"))[1],
        "reason": change.reason,
        "new_due": change.new_due.isoformat() if change.new_due else None,
        "old_due": due_text(lead.due_date if lead else item.due_date, False)
        if change.status == "pending"
        else (before.get("due") or "未定"),
        "new_text": change.new_text,
        "old_task": before.get("task") if change.status != "pending" else (lead.task if lead else None),
        "unit": change.unit.name if change.unit else None,
        "paused": before.get("paused_working_days"),
        "moved": bool(before.get("moved")),
    }


async def _announce(
    session: AsyncSession, item: Item, change: ItemChange, affected: list[Assignment], *, by: str, now: datetime
) -> None:
    """Each affected unit's liaisons (with the notice's buttons, so the newest message with them
    carries the deadline in force) and unit heads, the responsible leaders, and the proposer."""
    what = _describe(change, item)
    label = f"事项变更：{what['what']}"
    told: set[int] = set()
    for a in affected:
        role = UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role)
        ctx = {
            "unit": a.unit.name,
            "role": role,
            "due": due_text(a.due_date, a.due_provisional),
            "share_state": a.state,
        }
        keep_buttons = a.state in ACTIVE_ASSIGNMENT_STATES and change.kind in (
            "deadline",
            "requirements",
            "resume",
            *UNIT_KINDS,
        )
        people = [p for p in await liaisons(session, a.unit_id) if p.id not in told]
        await notify_many(
            session,
            people,
            "notices/item_changed.html.j2",
            item=item,
            now=now,
            label=label,
            dedupe=f"changed:{change.id}:{a.id}",
            change=what,
            audience="liaison",
            buttons=notice_buttons(a, item.confidential) if keep_buttons else None,
            **ctx,
        )
        told |= {p.id for p in people}
        heads = [p for p in await unit_heads(session, a.unit_id) if p.id not in told]
        await notify_many(
            session,
            heads,
            "notices/item_changed.html.j2",
            item=item,
            now=now,
            label=label,
            dedupe=f"changed-head:{change.id}:{a.id}",
            change=what,
            audience="head",
            **ctx,
        )
        told |= {p.id for p in heads}
    others = [p for p in [*item.leaders, item.follower] if p is not None and p.id not in told]
    await notify_many(
        session,
        others,
        "notices/item_changed.html.j2",
        item=item,
        now=now,
        label=label,
        dedupe=f"changed-others:{change.id}",
        change=what,
        audience="leader",
        unit=None,
        role=None,
        due=None,
        share_state=None,
    )
    await notify(
        session,
        change.proposed_by,
        "notices/change_decided.html.j2",
        item=item,
        now=now,
        label="事项变更已同意",
        dedupe=f"change-dec:{change.id}",
        change=what,
        approved=True,
        by=by,
        note=None,
    )


async def changes_of(session: AsyncSession, item_id: int) -> list[ItemChange]:
    return list(
        (await session.scalars(select(ItemChange).where(ItemChange.item_id == item_id).order_by(ItemChange.id))).all()
    )


# --------------------------------------------------------------------------------------------
# Dry runs for the buttons (who may, in which state), before anything is typed
# --------------------------------------------------------------------------------------------


async def may_edit_draft(session: AsyncSession, person: Person, item_id: int, field: str | None = None) -> Item:
    me = await act(session, person, "item.update")
    require_role(me, "office", "修改督查事项")
    item = await load_item(session, item_id)
    check_item(item, "item.update")
    if field == "requirements":
        _no_requirements(item)
    return item


async def may_propose(session: AsyncSession, person: Person, item_id: int, kind: str) -> Item:
    me = await act(session, person, f"{KINDS[kind][0]}.propose")
    require_role(me, "office", "提出事项变更")
    item = await load_item(session, item_id)
    check_item(item, KINDS[kind][0])
    if kind == "requirements":
        _no_requirements(item)
    return item


def _no_requirements(item: Item) -> None:
    """A confidential item's requirements are on paper (§9(五)): none are typed in chat."""
    if item.confidential:
        raise DomainError("涉密事项的办理要求以纸质文件为准，不在此填写或变更。")
