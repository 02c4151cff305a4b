"""审核 and 审阅/批示: the office reviews completion reports; a responsible leader closes the item.

* ``approve_report`` (office) — an assisting unit's part is done; the lead unit's report sends the
  item to its responsible leader(s), each with 同意 / 批示 buttons.
* ``return_report``  (office) — back to 办理中 with the reason; the redo counter goes up and stays.
* ``leader_agree`` / ``leader_instruct`` (a responsible leader) — the first answer closes the item;
  the office and the units are told. A later answer from another leader is AlreadyHandled.
* ``leader_return`` (a responsible leader, at 审阅; issue 12) — 退回重办: the item and its lead unit
  go back to 办理中 with the leader's reason (redo counter + 1) and the lead unit reports again;
  the units' liaisons and heads and the item's follower are told. Unlike 批示 it does not close.
* ``leader_direct`` (a responsible leader, while the units handle the item; issue 12) — 批示 on an
  open item: recorded and delivered to the units still on it as an instruction; no state changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.confidential import progress_button, report_button
from bot.domain.contributions import contributions
from bot.domain.errors import NotAllowed
from bot.domain.events import record_item_event
from bot.domain.evidence import report_files
from bot.domain.score import DEFAULT_RULES, Rules, record_late_closure
from bot.domain.workflow import (
    LIVE_ASSIGNMENT_STATES,
    AlreadyHandled,
    act,
    check_item,
    clean_text,
    is_responsible_leader,
    liaisons,
    load_item,
    locked,
    move_assignment,
    move_item,
    notify_many,
    office_staff,
    optional_text,
    require_role,
    unit_heads,
)
from bot.outbox.queue import Button, Keyboard
from store.models import Person
from store.workflow import CompletionReport, Item, LeaderReview, Review


async def _report_for_review(session: AsyncSession, person: Person, report_id: int, action: str):  # noqa: ANN202
    me = await act(session, person, action)
    require_role(me, "office", "审核办结报告")
    report, item = await locked(session, CompletionReport, report_id, "办结报告")
    if report.status != "pending":
        done = "已审核通过" if report.status == "approved" else "已退回重办"
        raise AlreadyHandled(f"这份办结报告{done}，无需重复审核。")
    a = next(x for x in item.assignments if x.id == report.assignment_id)
    return me, report, a


async def approve_report(
    session: AsyncSession, person: Person, report_id: int, *, site_note: str | None = None, now: datetime
) -> Review:
    """审核通过 (office), with an optional site-verification note (现场核验情况)."""
    me, report, a = await _report_for_review(session, person, report_id, "report.approve")
    item = a.item
    if a.role == "lead":
        check_item(item, "report.approve")
    site_note = optional_text(site_note, "现场核验情况")
    review = Review(report_id=report.id, approved=True, site_note=site_note, reviewed_by_id=me.id, reviewed_at=now)
    session.add(review)
    report.status = "approved"
    move_assignment(a, "report.approve")
    a.done_at = now
    if a.role == "lead":
        move_item(item, "report.approve")
    await session.flush()
    await record_item_event(session, "review", item.id, now, actor_id=me.id, assignment_id=a.id, ref=review)

    await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "notices/report_reviewed.html.j2",
        item=item,
        now=now,
        label="办结报告审核通过",
        dedupe=f"review:{report.id}",
        approved=True,
        unit=a.unit.name,
        reason=None,
        site_note=site_note,
        redo_count=a.redo_count,
        by=me.name,
    )
    if a.role == "lead":
        files = await report_files(session, report.id)
        await ask_leaders(
            session,
            item,
            now=now,
            dedupe=f"leader-req:{item.id}:{report.id}",
            unit=a.unit.name,
            text=report.text,
            attachment_names=[f.file_name for f in files],
            files_button=button("r:att", report.id, f"查看附件（{len(files)}）") if files else None,
            site_note=site_note,
            reviewed_by=me.name,
            contributions=await contributions(session, item, exclude=a.id),
        )
    await session.flush()
    return review


async def ask_leaders(
    session: AsyncSession,
    item: Item,
    *,
    now: datetime,
    dedupe: str,
    unit: str,
    text: str | None,
    attachment_names: list[str],
    files_button: Button | None,
    site_note: str | None = None,
    reviewed_by: str | None = None,
    contributions: list | None = None,
) -> None:
    """An item's result to its responsible leaders for 审阅 (同意 / 批示 / 退回重办): a unit's report
    the office approved, or the office's own result of an item it handles itself. The leader
    decides with the evidence at hand: the files are sent on a tap (``files_button``)."""
    buttons: Keyboard = [[button("l:ok", item.id), button("l:ins", item.id), button("l:ret", item.id)]]
    if files_button is not None:
        buttons.append([files_button])
    await notify_many(
        session,
        [p for p in item.leaders if p.active],
        "notices/leader_review_request.html.j2",
        item=item,
        now=now,
        label="办理结果请审阅",
        dedupe=dedupe,
        buttons=buttons,
        unit=unit,
        text=text,
        site_note=site_note,
        reviewed_by=reviewed_by,
        attachment_names=attachment_names,
        contributions=contributions or [],
    )


async def return_report(
    session: AsyncSession,
    person: Person,
    report_id: int,
    *,
    reason: str,
    site_note: str | None = None,
    now: datetime,
) -> Review:
    """退回重办 (office): the unit is back to 办理中, ``redo_count`` + 1; its liaisons are told why."""
    me, report, a = await _report_for_review(session, person, report_id, "report.return")
    item = a.item
    if a.role == "lead":
        check_item(item, "report.return")
    reason = clean_text(reason, "退回理由")
    site_note = optional_text(site_note, "现场核验情况")
    review = Review(
        report_id=report.id, approved=False, reason=reason, site_note=site_note, reviewed_by_id=me.id, reviewed_at=now
    )
    session.add(review)
    report.status = "returned"
    move_assignment(a, "report.return")
    a.redo_count += 1
    if a.role == "lead":
        move_item(item, "report.return")
    await session.flush()
    await record_item_event(session, "review", item.id, now, actor_id=me.id, assignment_id=a.id, ref=review)
    await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "notices/report_reviewed.html.j2",
        item=item,
        now=now,
        label="办结报告退回重办",
        dedupe=f"review:{report.id}",
        approved=False,
        unit=a.unit.name,
        reason=reason,
        site_note=site_note,
        redo_count=a.redo_count,
        by=me.name,
    )
    await session.flush()
    return review


async def _leader_decides(
    session: AsyncSession,
    person: Person,
    item_id: int,
    action: str,
    instruction: str | None,
    now: datetime,
    rules: Rules,
) -> LeaderReview:
    me = await act(session, person, action)
    item = await load_item(session, item_id, lock=True)
    if not is_responsible_leader(me, item):
        raise NotAllowed("只有本事项的责任领导才能审阅")
    if item.state in ("closed", "archived"):
        raise AlreadyHandled("该事项已审阅办结，无需重复操作。")
    check_item(item, action)
    if action == "leader.instruct":
        instruction = clean_text(instruction, "批示内容")
    review = LeaderReview(
        item_id=item.id,
        leader_id=me.id,
        decision="instruct" if instruction else "agree",
        instruction=instruction,
        created_at=now,
    )
    session.add(review)
    move_item(item, action)
    item.closed_at = now
    told = []
    for a in item.assignments:
        if a.state in LIVE_ASSIGNMENT_STATES:
            move_assignment(a, "item.close")
            a.done_at = now
        if a.state == "done":
            told += await liaisons(session, a.unit_id)
    # Leader/superior items and NPC/CPPCC proposals: units that finished late lose points (§8(4)(5)).
    await record_late_closure(session, item, now, rules)
    # The office's copy carries 归档, its next step (issue 12); the units' copies carry nothing.
    office = await office_staff(session)
    await notify_many(
        session,
        office,
        "notices/item_closed.html.j2",
        item=item,
        now=now,
        label="事项已办结",
        dedupe=f"closed:{item.id}",
        leader=me.name,
        instruction=instruction,
        buttons=[[button("i:arc", item.id)]],
    )
    await notify_many(
        session,
        [p for p in told if p.id not in {o.id for o in office}],
        "notices/item_closed.html.j2",
        item=item,
        now=now,
        label="事项已办结",
        dedupe=f"closed:{item.id}",
        leader=me.name,
        instruction=instruction,
    )
    await session.flush()
    await record_item_event(session, "leader_review", item.id, now, actor_id=me.id, ref=review)
    await record_item_event(session, "close", item.id, now, actor_id=me.id)
    await session.flush()
    return review


async def leader_agree(
    session: AsyncSession, person: Person, item_id: int, *, now: datetime, rules: Rules = DEFAULT_RULES
) -> LeaderReview:
    """审阅同意 (a responsible leader): the item is closed (``rules``: the deployment's score rules)."""
    return await _leader_decides(session, person, item_id, "leader.agree", None, now, rules)


async def leader_instruct(
    session: AsyncSession,
    person: Person,
    item_id: int,
    *,
    instruction: str,
    now: datetime,
    rules: Rules = DEFAULT_RULES,
) -> LeaderReview:
    """批示 (a responsible leader): the instruction is recorded and sent with the closing notice."""
    return await _leader_decides(session, person, item_id, "leader.instruct", instruction, now, rules)


async def _responsible(session: AsyncSession, person: Person, item_id: int, action: str):  # noqa: ANN202
    """The acting leader and the locked item, refused unless they are one of its responsible leaders."""
    me = await act(session, person, action)
    item = await load_item(session, item_id, lock=True)
    if not is_responsible_leader(me, item):
        raise NotAllowed("只有本事项的责任领导才能批示或退回")
    return me, item


async def _units_and_follower(session: AsyncSession, item: Item, states: frozenset[str]) -> list[Person]:
    """The liaisons and heads of the units in ``states`` on the item, and the office side: of the
    office staff, ``notify`` lets only the item's follower (else its registrant) hear (issue 13)."""
    people: list[Person] = []
    for a in item.assignments:
        if a.state in states:
            people += await liaisons(session, a.unit_id) + await unit_heads(session, a.unit_id)
    return people + await office_staff(session)


async def leader_return(
    session: AsyncSession, person: Person, item_id: int, *, reason: str, now: datetime
) -> LeaderReview:
    """退回重办 (a responsible leader at 审阅): back to 办理中 with the reason; the lead unit reports again.

    The leader read the lead unit's approved report, so the lead unit is reopened (its redo counter
    goes up, as for the office's 退回重办); assisting units whose part was approved stay done but
    are told, since the leader's reason may concern them too."""
    me, item = await _responsible(session, person, item_id, "leader.return")
    if item.state in ("closed", "archived"):
        raise AlreadyHandled("该事项已审阅办结，不能再退回重办。")
    check_item(item, "leader.return")
    reason = clean_text(reason, "退回理由")
    review = LeaderReview(item_id=item.id, leader_id=me.id, decision="return", instruction=reason, created_at=now)
    session.add(review)
    move_item(item, "leader.return")
    reopened = [a for a in item.assignments if a.role == "lead" and a.state == "done"]
    for a in reopened:
        move_assignment(a, "leader.return")
        a.done_at = None
        a.redo_count += 1
    await session.flush()
    await record_item_event(session, "leader_return", item.id, now, actor_id=me.id, ref=review)
    lead_liaisons = {p.id for a in reopened for p in await liaisons(session, a.unit_id)}
    people = await _units_and_follower(session, item, LIVE_ASSIGNMENT_STATES | {"done"})
    for who in dict.fromkeys(people):  # the lead unit's liaisons get the buttons to carry on
        buttons: Keyboard | None = None
        if who.id in lead_liaisons:
            buttons = [
                [progress_button(a.id, item.confidential), report_button(a.id, item.confidential)] for a in reopened
            ]
        await notify_many(
            session,
            [who],
            "notices/leader_returned.html.j2",
            item=item,
            now=now,
            label="领导退回重办",
            dedupe=f"leader-return:{review.id}",
            buttons=buttons,
            leader=me.name,
            reason=reason,
            units=[a.unit.name for a in reopened],
        )
    await session.flush()
    return review


async def leader_direct(
    session: AsyncSession, person: Person, item_id: int, *, instruction: str, now: datetime
) -> LeaderReview:
    """批示 while the item is being handled (a responsible leader): delivered to the units still on it."""
    me, item = await _responsible(session, person, item_id, "leader.direct")
    check_item(item, "leader.direct")
    instruction = clean_text(instruction, "批示内容")
    review = LeaderReview(item_id=item.id, leader_id=me.id, decision="direct", instruction=instruction, created_at=now)
    session.add(review)
    await session.flush()
    await record_item_event(session, "leader_instruction", item.id, now, actor_id=me.id, ref=review)
    await notify_many(
        session,
        await _units_and_follower(session, item, LIVE_ASSIGNMENT_STATES),
        "notices/leader_instruction.html.j2",
        item=item,
        now=now,
        label="领导批示",
        dedupe=f"leader-direct:{review.id}",
        leader=me.name,
        instruction=instruction,
    )
    await session.flush()
    return review
