"""审核 and 审阅/批示.

Office, on a completion report: ``r:ok`` 审核通过 asks "需要填写现场核验意见吗？" — type the note or
tap 跳过; ``r:no`` 退回重办 asks for the reason. A responsible leader: ``l:ok`` 同意 at once (the
item closes), ``l:ins`` 批示 asks for the instruction text.
"""

from __future__ import annotations

from bot.domain import review as review_svc
from handlers.flow import Ask, Direct


async def _agree(s, me, item_id, env):  # noqa: ANN001, ANN202
    return await review_svc.leader_agree(s, me, item_id, now=env.now)


async def _approve(s, me, report_id, answer, env):  # noqa: ANN001, ANN202
    return await review_svc.approve_report(s, me, report_id, site_note=answer.text, now=env.now)


async def _return(s, me, report_id, answer, env):  # noqa: ANN001, ANN202
    return await review_svc.return_report(s, me, report_id, reason=answer.text, now=env.now)


async def _instruct(s, me, item_id, answer, env):  # noqa: ANN001, ANN202
    return await review_svc.leader_instruct(s, me, item_id, instruction=answer.text, now=env.now)


DIRECTS = (
    Direct("l:ok", _agree, toast="已审阅同意，事项办结", outcome="✅ 已审阅同意 · 查看"),
)

ASKS = (
    Ask("r:ok", "optional", _approve, outcome="✅ 审核通过 · 查看"),
    Ask("r:no", "text", _return, outcome="↩️ 已退回重办 · 查看"),
    Ask("l:ins", "text", _instruct, outcome="✅ 已批示 · 查看"),
)
