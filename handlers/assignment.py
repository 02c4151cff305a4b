"""承办: a liaison handles their unit's share; the office decides extension and transfer requests.

Liaison (own unit only — the services check): ``a:ack`` 签收 at once (the time is recorded);
``a:prg`` 反馈进展, ``a:rpt`` 提交办结报告 and ``a:pln`` 工作方案 collect text, photos and files over
several messages until 完成; ``a:ext`` 申请延期 asks for the new date, then the reason; ``a:trf``
申请转办 and ``a:dec`` 无法协办 ask for the reason; ``m:ok`` marks a milestone done. Replying to the
notice itself is a progress entry too (``handlers.flow.on_reply``).

Office: ``x:ok`` 同意延期 at once, ``x:no`` asks for the reason; ``t:ok`` 同意转办 asks for the new
unit (type part of its name, pick a button), ``t:no`` asks for the reason.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.domain import assignments as asg
from bot.domain.assignments import MilestoneIn
from bot.domain.workflow import OFFICE_TZ, local_date
from handlers.flow import PLACEHOLDER, Answer, Ask, Direct, parse_date
from store.workflow import Assignment

_MILESTONE = re.compile(
    r"\s*(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[日号]?|\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[日号]?)"
    r"\s*[：:，,、]?\s*(\S.*)"
)


def split_plan(text: str | None, today) -> tuple[str, list[MilestoneIn]]:  # noqa: ANN001
    """Plan text and its milestones: each line that starts with a date is a milestone."""
    lines, steps = [], []
    for line in (text or "").splitlines():
        m = _MILESTONE.fullmatch(line)
        if m:
            steps.append(MilestoneIn(parse_date(m.group(1), today), m.group(2).strip()))
        elif line.strip():
            lines.append(line.strip())
    return "\n".join(lines), steps


async def _ack(s, me, aid, env):  # noqa: ANN001, ANN202
    return await asg.acknowledge(s, me, aid, now=env.now)


async def _milestone(s, me, mid, env):  # noqa: ANN001, ANN202
    return await asg.complete_milestone(s, me, mid, now=env.now)


async def _approve_extension(s, me, rid, env):  # noqa: ANN001, ANN202
    return await asg.approve_extension(s, me, rid, now=env.now)


async def _progress(s, me, aid, answer, env):  # noqa: ANN001, ANN202
    return await asg.add_progress(s, me, aid, text=answer.text, attachments=answer.files, now=env.now)


async def _report(s, me, aid, answer, env):  # noqa: ANN001, ANN202
    return await asg.submit_report(s, me, aid, text=answer.text, attachments=answer.files, now=env.now)


async def _plan(s, me, aid, answer, env):  # noqa: ANN001, ANN202
    text, steps = split_plan(answer.text, local_date(env.now))
    return await asg.submit_plan(s, me, aid, text=text, milestones=steps, attachments=answer.files, now=env.now)


async def _extension(s, me, aid, answer, env):  # noqa: ANN001, ANN202
    return await asg.request_extension(s, me, aid, new_due=answer.day, reason=answer.text, now=env.now)


async def _extension_probe(s, me, aid, env):  # noqa: ANN001, ANN202
    """A date that passes the date checks, so the dry run meets the permission and state checks."""
    due = await s.scalar(select(Assignment.due_date).where(Assignment.id == aid))
    day = max(due or local_date(env.now), local_date(env.now)) + timedelta(days=1)
    return await _extension(s, me, aid, Answer(text=PLACEHOLDER, day=day), env)


async def _transfer(s, me, aid, answer, env):  # noqa: ANN001, ANN202
    return await asg.request_transfer(s, me, aid, reason=answer.text, now=env.now)


async def _decline(s, me, aid, answer, env):  # noqa: ANN001, ANN202
    return await asg.decline_assist(s, me, aid, reason=answer.text, now=env.now)


async def _reject_extension(s, me, rid, answer, env):  # noqa: ANN001, ANN202
    return await asg.reject_extension(s, me, rid, reason=answer.text, now=env.now)


async def _approve_transfer(s, me, tid, answer, env):  # noqa: ANN001, ANN202
    return await asg.approve_transfer(s, me, tid, to_unit_id=answer.unit_id, calendar=env.calendar, now=env.now)


async def _approve_transfer_probe(s, me, tid, env):  # noqa: ANN001, ANN202
    # The same checks as approving (office, request still pending), without a unit chosen yet.
    return await asg.reject_transfer(s, me, tid, reason=PLACEHOLDER, now=env.now)


async def _reject_transfer(s, me, tid, answer, env):  # noqa: ANN001, ANN202
    return await asg.reject_transfer(s, me, tid, reason=answer.text, now=env.now)


DIRECTS = (
    Direct("a:ack", _ack, toast="已签收，签收时间已记录",
           outcome=lambda a: f"✅ 已签收 {a.acknowledged_at.astimezone(OFFICE_TZ):%m-%d %H:%M} · 查看"),
    Direct("m:ok", _milestone, toast="已标记该节点完成", outcome="✅ 节点已完成", edit="button"),
    Direct("x:ok", _approve_extension, toast="已同意延期，已通知该单位",
           outcome=lambda r: f"✅ 已同意延期至{r.new_due:%m-%d} · 查看"),
)

ASKS = (
    Ask("a:prg", "collect", _progress, outcome="", edit="none"),
    Ask("a:pln", "collect", _plan, outcome="", edit="none",
        summary=lambda plan: {"milestones": [(m.due_date, m.title) for m in plan.milestones]}),
    Ask("a:rpt", "collect", _report, outcome="📨 已提交办结报告 · 查看", edit="all"),
    Ask("a:ext", "date_text", _extension, outcome="⏳ 已申请延期 · 查看", edit="button", probe=_extension_probe),
    Ask("a:trf", "text", _transfer, outcome="🔀 已申请转办 · 查看", edit="button"),
    Ask("a:dec", "text", _decline, outcome="⚠️ 已报告无法协办 · 查看", edit="all"),
    Ask("x:no", "text", _reject_extension, outcome="❌ 未同意延期 · 查看"),
    Ask("t:ok", "unit", _approve_transfer, outcome=lambda a: f"🔀 已转办至{a.unit.name} · 查看",
        probe=_approve_transfer_probe, summary=lambda a: {"unit": a.unit.name}),
    Ask("t:no", "text", _reject_transfer, outcome="❌ 未同意转办 · 查看"),
)
