"""Every button of the workflow, declared once.

A declaration (``ActionSpec``, ``bot.domain.actions``) is all the chat needs to offer a button:
its code and label (the notices put it on their keyboards with ``actions.button``), the workflow
transition it makes (so who may press it and from which states), what it asks first (nothing, a
text, text and files, a date and a reason, a unit), the service it calls, the toast or the
confirmation after it, and the "✅ …" label left in place of the used button. ``handlers.buttons``
turns these into Telegram handlers; nothing else has to be registered.

A button that asks has one template, ``templates/actions/<scope>_<verb>.html.j2``, with its
prompt (``step == "prompt"``) and its confirmation (``step == "done"``).

To add a button: write (or reuse) the service, add one ``ActionSpec`` below, its template when it
asks, and an e2e test that taps it (``tests/e2e/test_lifecycle.py`` shows how). README, "For
developers", walks through one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import assignments as asg
from bot.domain import changes as chg
from bot.domain import contributions as contributions_svc
from bot.domain import evidence, office_items
from bot.domain import items as items_svc
from bot.domain import records as records_svc
from bot.domain import review as review_svc
from bot.domain.actions import ASKS, EDITS, PLACEHOLDER, ActionEnv, ActionSpec, Answer
from bot.domain.assignments import MilestoneIn
from bot.domain.dates import ANY_DATE, parse_date
from bot.domain.manual_urge import urge_item
from bot.domain.roles import ROLE_NAMES
from bot.domain.workflow import item_label, local_date
from bot.kernel.clock import OFFICE_TZ
from store.models import Person
from store.workflow import Assignment

# --------------------------------------------------------------------------------------------
# The service calls (one small adapter per button: the services take keyword arguments)
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T")


def _given(value: _T | None) -> _T:
    """What a button asked for: its ``asks`` makes the dialog (handlers.buttons) supply it."""
    assert value is not None
    return value


async def _approve_item(s: AsyncSession, me: Person, item_id: int, _: Answer, env: ActionEnv) -> Any:
    item = await items_svc.approve_item(s, me, item_id, calendar=env.calendar, now=env.now)
    await env.filing.notice(s, item_id)  # the printable 督办通知单 (.docx), kept exactly as issued
    return item


async def _archive_item(s: AsyncSession, me: Person, item_id: int, _: Answer, env: ActionEnv) -> Any:
    item = await items_svc.archive_item(s, me, item_id, now=env.now)
    # The printable dossier (.docx) is filed and queued to the archivist (the chat also sends an
    # HTML one that reads well on a phone: handlers.archive).
    await env.filing.dossier(s, item_id, me, env.now)
    return item


_MILESTONE = re.compile(rf"\s*({ANY_DATE})\s*[：:，,、]?\s*(\S.*)")


def split_plan(text: str | None, today: Any) -> tuple[str, list[MilestoneIn]]:
    """Plan text and its milestones: each line that starts with a date is a milestone."""
    lines, steps = [], []
    for line in (text or "").splitlines():
        m = _MILESTONE.fullmatch(line)
        if m:
            steps.append(MilestoneIn(parse_date(m.group(1), today), m.group(2).strip()))
        elif line.strip():
            lines.append(line.strip())
    return "\n".join(lines), steps


async def _plan(s: AsyncSession, me: Person, aid: int, answer: Answer, env: ActionEnv) -> Any:
    text, steps = split_plan(answer.text, local_date(env.now))
    return await asg.submit_plan(s, me, aid, text=text, milestones=steps, attachments=answer.files, now=env.now)


async def _extension(s: AsyncSession, me: Person, aid: int, answer: Answer, env: ActionEnv) -> Any:
    return await asg.request_extension(s, me, aid, new_due=_given(answer.day), reason=_given(answer.text), now=env.now)


async def _extension_probe(s: AsyncSession, me: Person, aid: int, env: ActionEnv) -> Any:
    """A date that passes the date checks, so the dry run meets the permission and state checks."""
    due = await s.scalar(select(Assignment.due_date).where(Assignment.id == aid))
    day = max(due or local_date(env.now), local_date(env.now)) + timedelta(days=1)
    return await _extension(s, me, aid, Answer(text=PLACEHOLDER, day=day), env)


async def _approve_transfer_probe(s: AsyncSession, me: Person, tid: int, env: ActionEnv) -> Any:
    # The same checks as approving (office, request still pending), without a unit chosen yet.
    return await asg.reject_transfer(s, me, tid, reason=PLACEHOLDER, now=env.now)


def _edit(field: str) -> Any:
    """A draft's field changed from the chat (issue 12): the text or the unit the person gave."""
    return lambda s, me, i, a, env: chg.edit_draft(
        s, me, i, field=field, text=a.text, unit_id=a.unit_id, calendar=env.calendar, now=env.now
    )


def _propose(kind: str) -> Any:
    """A change to an approved item proposed to the office head, with the reason typed last."""

    async def run(s: AsyncSession, me: Person, i: int, a: Answer, env: ActionEnv) -> Any:
        day, text, reason = a.day, a.text, a.text
        if a.text == PLACEHOLDER and kind in chg.UNIT_KINDS:  # the dry run once the unit is picked
            day = local_date(env.now) + timedelta(days=400) if kind == "unit_deadline" else day
        elif kind in ("requirements", "unit_task"):
            text, reason = chg.split_requirements(a.text)  # (str, str)
        elif kind == "unit_deadline":
            day, reason = chg.split_dated(a.text, local_date(env.now))
            text = None
        return await chg.propose_change(
            s, me, i, chg.Proposal(kind, reason or "", new_due=day, new_text=text, unit_id=a.unit_id), now=env.now
        )

    return run


def _may_edit(field: str) -> Any:
    return lambda s, me, i, env: chg.may_edit_draft(s, me, i, field)


async def _report_context(s: AsyncSession, aid: int) -> dict:
    """The lead unit reports with the assisting units' parts in view (issue 12)."""
    return {"contributions": await contributions_svc.for_assignment(s, aid)}


def _may_propose(kind: str) -> Any:
    return lambda s, me, i, env: chg.may_propose(s, me, i, kind)


def _draft_edit(code: str, label: str, field: str, asks: str) -> ActionSpec:
    return ActionSpec(
        code,
        "item",
        label,
        step="item.update",
        asks=asks,
        edit="none",
        run=_edit(field),
        probe=_may_edit(field),
        summary=lambda item: {"item_id": item.id},
    )


def _change(code: str, label: str, kind: str, asks: str) -> ActionSpec:
    return ActionSpec(
        code,
        "item",
        label,
        step=chg.KINDS[kind][0],
        asks=asks,
        edit="none",
        run=_propose(kind),
        probe=_may_propose(kind),
        summary=lambda c: {"change_id": c.id},
    )


# --------------------------------------------------------------------------------------------
# The buttons
# --------------------------------------------------------------------------------------------

_SPECS = (
    # Items: the office head approves or returns; the office submits a draft and archives.
    ActionSpec(
        "i:ok",
        "item",
        "同意",
        step="item.approve",
        run=_approve_item,
        toast="已同意立项，督办通知单已下发",
        outcome=lambda item: f"✅ 已同意（{item_label(item)}）· 查看",
    ),
    ActionSpec(
        "i:no",
        "item",
        "退回",
        step="item.reject",
        asks="text",
        outcome="↩️ 已退回 · 查看",
        run=lambda s, me, i, a, env: items_svc.reject_item(s, me, i, reason=_given(a.text), now=env.now),
    ),
    ActionSpec(
        "i:sub",
        "item",
        "提交审批",
        step="item.submit",
        toast="已提交督查室负责人审批",
        outcome="📤 已提交审批 · 查看",
        run=lambda s, me, i, a, env: items_svc.submit_item(s, me, i, now=env.now),
    ),
    ActionSpec(
        "i:arc",
        "item",
        "归档",
        step="item.archive",
        run=_archive_item,
        toast="已归档，卷宗随后发送",
        outcome="🗄 已归档 · 查看",
    ),
    ActionSpec("i:v", "item", "查看详情", who="anyone allowed to see the item", handled_by="handlers.views"),
    # Issue 12 point 4: office staff chase the open units' liaisons by hand (bot.domain.manual_urge);
    # the chat confirms who was chased (actions/i_urg.html.j2).
    ActionSpec(
        "i:urg",
        "item",
        "催办",
        who="office",
        toast="已催办",
        outcome="📣 已催办 · 查看",
        edit="button",
        confirm=True,
        summary=lambda urged: urged.summary(),
        run=lambda s, me, i, a, env: urge_item(s, me, i, calendar=env.calendar, settings=env.settings, now=env.now),
    ),
    # Issue 12, mistakes that can be fixed (bot.domain.changes). A draft: edited field by field
    # (one template, actions/i_edit.html.j2, per field's code), withdrawn by its submitter, deleted.
    _draft_edit("i:ttl", "修改名称", "title", "text"),
    _draft_edit("i:req", "修改要求", "requirements", "text"),
    _draft_edit("i:dl", "修改时限", "deadline", "text"),
    _draft_edit("i:au", "增加协办单位", "add_assist", "unit"),
    _draft_edit("i:ru", "移除协办单位", "remove_assist", "unit"),
    _draft_edit("i:lu", "更换主办单位", "lead", "unit"),
    ActionSpec(
        "i:wd",
        "item",
        "撤回",
        step="item.withdraw",
        toast="已撤回，可修改后重新提交",
        outcome="↩️ 已撤回 · 查看",
        run=lambda s, me, i, a, env: chg.withdraw_item(s, me, i, now=env.now),
    ),
    ActionSpec(
        "i:del",
        "item",
        "删除草稿",
        step="item.delete",
        asks="text",
        outcome="🗑 已删除 · 查看",
        run=lambda s, me, i, a, env: chg.delete_draft(s, me, i, reason=a.text, now=env.now),
    ),
    # An approved item: office staff propose, the office head decides (g:ok / g:no).
    _change("i:cd", "变更时限", "deadline", "date_text"),
    _change("i:cr", "变更要求", "requirements", "text"),
    _change("i:ca", "增加单位", "add_unit", "unit_text"),
    _change("i:cu", "撤出单位", "remove_unit", "unit_text"),
    _change("i:sus", "中止办理", "suspend", "text"),
    _change("i:res", "恢复办理", "resume", "text"),
    _change("i:can", "撤销事项", "cancel", "text"),
    # 督查室自办 (issue 12 point 6): the office reports the result itself, to the leader.
    ActionSpec(
        "i:ofr",
        "item",
        "报送办理结果",
        step="item.office_report",
        asks="collect",
        edit="all",
        outcome="📨 已报送办理结果 · 查看",
        probe=lambda s, me, i, env: office_items.may_report(s, me, i),
        run=lambda s, me, i, a, env: office_items.report_result(
            s, me, i, text=a.text, attachments=a.files, now=env.now
        ),
    ),
    # 分工 per unit (issue 12 point 6): one unit's own task or deadline.
    _change("i:ct", "变更分工", "unit_task", "unit_text"),
    _change("i:cud", "变更单位时限", "unit_deadline", "unit_text"),
    ActionSpec(
        "g:ok",
        "change",
        "同意变更",
        who="office_head",
        toast="已同意，变更已生效并通知相关单位",
        outcome="✅ 已同意变更 · 查看",
        run=lambda s, me, i, a, env: chg.approve_change(s, me, i, calendar=env.calendar, now=env.now),
    ),
    ActionSpec(
        "g:no",
        "change",
        "不同意变更",
        who="office_head",
        asks="text",
        outcome="❌ 未同意变更 · 查看",
        run=lambda s, me, i, a, env: chg.reject_change(s, me, i, reason=_given(a.text), now=env.now),
    ),
    # A unit's assignment (its own liaison).
    ActionSpec(
        "a:ack",
        "assignment",
        "签收",
        step="assignment.acknowledge",
        toast="已签收，签收时间已记录",
        outcome=lambda a: f"✅ 已签收 {a.acknowledged_at.astimezone(OFFICE_TZ):%m-%d %H:%M} · 查看",
        run=lambda s, me, i, a, env: asg.acknowledge(s, me, i, now=env.now),
    ),
    ActionSpec(
        "a:prg",
        "assignment",
        "反馈进展",
        step="progress.add",
        asks="collect",
        edit="none",
        run=lambda s, me, i, a, env: asg.add_progress(s, me, i, text=a.text, attachments=a.files, now=env.now),
    ),
    ActionSpec(
        "a:pln",
        "assignment",
        "工作方案",
        step="plan.submit",
        asks="collect",
        edit="none",
        run=_plan,
        summary=lambda plan: {"milestones": [(m.due_date, m.title) for m in plan.milestones]},
    ),
    ActionSpec(
        "a:ext",
        "assignment",
        "申请延期",
        step="extension.request",
        asks="date_text",
        edit="button",
        run=_extension,
        probe=_extension_probe,
        outcome="⏳ 已申请延期 · 查看",
    ),
    ActionSpec(
        "a:rpt",
        "assignment",
        "提交办结报告",
        step="report.submit",
        asks="collect",
        edit="all",
        outcome="📨 已提交办结报告 · 查看",
        prompt_context=_report_context,
        run=lambda s, me, i, a, env: asg.submit_report(s, me, i, text=_given(a.text), attachments=a.files, now=env.now),
    ),
    # A confidential item (§9(五)): the unit reports on paper and confirms it here in one tap;
    # 反馈进展 / 提交办结报告 with content are refused for it (bot.domain.confidential).
    ActionSpec(
        "a:olp",
        "assignment",
        "已线下报送进展",
        step="progress.add",
        edit="none",
        toast="已记录：进展已线下报送",
        run=lambda s, me, i, a, env: asg.add_progress(s, me, i, text=None, offline=True, now=env.now),
    ),
    ActionSpec(
        "a:olr",
        "assignment",
        "已线下报送办结报告",
        step="report.submit",
        edit="all",
        toast="已记录：办结报告已线下报送，等待督查室审核",
        outcome="📨 已线下报送办结报告 · 查看",
        run=lambda s, me, i, a, env: asg.submit_report(s, me, i, text="", offline=True, now=env.now),
    ),
    ActionSpec(
        "a:trf",
        "assignment",
        "申请转办",
        step="transfer.request",
        asks="text",
        edit="button",
        outcome="🔀 已申请转办 · 查看",
        run=lambda s, me, i, a, env: asg.request_transfer(s, me, i, reason=_given(a.text), now=env.now),
    ),
    ActionSpec(
        "a:dec",
        "assignment",
        "无法协办",
        step="assignment.decline",
        asks="text",
        edit="all",
        outcome="⚠️ 已报告无法协办 · 查看",
        run=lambda s, me, i, a, env: asg.decline_assist(s, me, i, reason=_given(a.text), now=env.now),
    ),
    # A milestone of the unit's plan (issue 12): on /item and in the round's milestone reminders.
    ActionSpec(
        "m:ok",
        "milestone",
        "节点完成",
        step="milestone.done",
        toast="已标记该节点完成",
        outcome="✅ 节点已完成",
        edit="button",
        run=lambda s, me, i, a, env: asg.complete_milestone(s, me, i, now=env.now),
    ),
    # Requests decided by the office.
    ActionSpec(
        "x:ok",
        "extension",
        "同意延期",
        step="extension.approve",
        toast="已同意延期，已通知该单位",
        outcome=lambda r: f"✅ 已同意延期至{r.new_due:%m-%d} · 查看",
        run=lambda s, me, i, a, env: asg.approve_extension(s, me, i, now=env.now),
    ),
    ActionSpec(
        "x:no",
        "extension",
        "不同意延期",
        who="office",
        asks="text",
        outcome="❌ 未同意延期 · 查看",
        run=lambda s, me, i, a, env: asg.reject_extension(s, me, i, reason=_given(a.text), now=env.now),
    ),
    ActionSpec(
        "t:ok",
        "transfer",
        "同意转办",
        step="transfer.approve",
        asks="unit",
        probe=_approve_transfer_probe,
        outcome=lambda t: f"🔀 已转办至{t.unit.name} · 查看",
        summary=lambda t: {"unit": t.unit.name},
        run=lambda s, me, i, a, env: asg.approve_transfer(
            s, me, i, to_unit_id=_given(a.unit_id), calendar=env.calendar, now=env.now
        ),
    ),
    ActionSpec(
        "t:no",
        "transfer",
        "不同意转办",
        who="office",
        asks="text",
        outcome="❌ 未同意转办 · 查看",
        run=lambda s, me, i, a, env: asg.reject_transfer(s, me, i, reason=_given(a.text), now=env.now),
    ),
    # Completion reports (office review).
    ActionSpec(
        "r:ok",
        "report",
        "审核通过",
        step="report.approve",
        asks="optional",
        outcome="✅ 审核通过 · 查看",
        run=lambda s, me, i, a, env: review_svc.approve_report(s, me, i, site_note=a.text, now=env.now),
    ),
    ActionSpec(
        "r:no",
        "report",
        "退回重办",
        step="report.return",
        asks="text",
        outcome="↩️ 已退回重办 · 查看",
        run=lambda s, me, i, a, env: review_svc.return_report(s, me, i, reason=_given(a.text), now=env.now),
    ),
    # Evidence (issue 12): the files behind a 办结报告 (its review and 审阅 notices) and behind an
    # item (/item), sent on a tap. Office staff, the item's leaders and, for their own unit's
    # files, its liaisons and heads: bot.domain.evidence decides from the database.
    ActionSpec(
        "r:att",
        "report",
        "查看附件",
        who="office",
        edit="none",
        toast="附件正在发送，请稍候",
        run=lambda s, me, i, a, env: evidence.send_report_files(s, me, i, now=env.now),
    ),
    ActionSpec(
        "i:att",
        "item",
        "查看附件",
        who="office",
        edit="none",
        toast="附件正在发送，请稍候",
        run=lambda s, me, i, a, env: evidence.send_item_files(s, me, i, now=env.now),
    ),
    # The responsible leader.
    ActionSpec(
        "l:ok",
        "item",
        "同意",
        step="leader.agree",
        toast="已审阅同意，事项办结",
        outcome="✅ 已审阅同意 · 查看",
        run=lambda s, me, i, a, env: review_svc.leader_agree(s, me, i, now=env.now, rules=env.score_rules),
    ),
    ActionSpec(
        "l:ins",
        "item",
        "批示",
        step="leader.instruct",
        asks="text",
        outcome="✅ 已批示 · 查看",
        run=lambda s, me, i, a, env: review_svc.leader_instruct(
            s, me, i, instruction=_given(a.text), now=env.now, rules=env.score_rules
        ),
    ),
    # Issue 12: 退回重办 at 审阅 (does not close), and 批示 while the units handle the item.
    ActionSpec(
        "l:ret",
        "item",
        "退回重办",
        step="leader.return",
        asks="text",
        outcome="↩️ 已退回重办 · 查看",
        run=lambda s, me, i, a, env: review_svc.leader_return(s, me, i, reason=_given(a.text), now=env.now),
    ),
    ActionSpec(
        "l:dir",
        "item",
        "批示",
        step="leader.direct",
        asks="text",
        edit="none",
        run=lambda s, me, i, a, env: review_svc.leader_direct(s, me, i, instruction=_given(a.text), now=env.now),
    ),
    # A phone supervision record (电话督查), answered by the unit's liaison (有异议: the records dialog).
    ActionSpec(
        "c:ok",
        "record",
        "确认",
        who="liaison",
        toast="已确认",
        outcome="✅ 已确认",
        run=lambda s, me, i, a, env: records_svc.confirm_record(s, me, i, now=env.now),
    ),
    ActionSpec("c:no", "record", "有异议", who="liaison", handled_by="handlers.records"),  # in the records dialog
    # The year's score table (the id is the year), approved by the office head in two steps.
    ActionSpec("y:ask", "year", "审定年度考核结果", who="office_head", handled_by="handlers.score"),
    ActionSpec("y:ok", "year", "确认审定", who="office_head", handled_by="handlers.score"),
)
ACTIONS: dict[str, ActionSpec] = {s.code: s for s in _SPECS}


def _check(specs: tuple[ActionSpec, ...]) -> None:
    """A declaration that cannot work fails at import, not at the first tap."""
    assert len({s.code for s in specs}) == len(specs), "an action code is declared twice"
    for s in specs:
        assert (s.run is None) != (s.handled_by is None), f"{s.code}: a run or a handler module, not both"
        assert s.asks is None or s.asks in ASKS, f"{s.code}: asks {s.asks!r}"
        assert s.edit in EDITS, f"{s.code}: edit {s.edit!r}"
        assert s.step is None or s.transitions, f"{s.code}: no transition {s.step!r} in bot.domain.workflow"
        assert s.step is not None or s.who, f"{s.code}: say who may press it (a step or who)"
        assert s.who_may in ROLE_NAMES or s.handled_by, f"{s.code}: who {s.who_may!r}"


_check(_SPECS)
