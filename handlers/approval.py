"""立项审批: the office head approves or returns a registered item; the office (re)submits a draft.

Buttons (on the approval request the domain queued, and on /item):
``i:ok`` 同意 — at once: numbered, notices go out; ``i:no`` 退回 — asks for the reason (the next
text message, or a reply to the prompt); ``i:sub`` 提交审批 — a draft, e.g. after it was returned.
"""

from __future__ import annotations

from bot.documents.word import on_item_approved
from bot.domain import items as items_svc
from bot.domain.workflow import item_label
from handlers.flow import Ask, Direct


async def _approve(s, me, item_id, env):  # noqa: ANN001, ANN202
    item = await items_svc.approve_item(s, me, item_id, calendar=env.calendar, now=env.now)
    # The printable 督办通知单 (.docx) is kept exactly as issued.
    await on_item_approved(s, item_id, files_dir=env.services.settings.storage.files_dir,
                           office_name=env.services.settings.office.name)
    return item


async def _submit(s, me, item_id, env):  # noqa: ANN001, ANN202
    return await items_svc.submit_item(s, me, item_id, now=env.now)


async def _reject(s, me, item_id, answer, env):  # noqa: ANN001, ANN202
    return await items_svc.reject_item(s, me, item_id, reason=answer.text, now=env.now)


DIRECTS = (
    Direct("i:ok", _approve, toast="已同意立项，督办通知单已下发",
           outcome=lambda item: f"✅ 已同意（{item_label(item)}）· 查看"),
    Direct("i:sub", _submit, toast="已提交督查室负责人审批", outcome="📤 已提交审批 · 查看"),
)

ASKS = (
    Ask("i:no", "text", _reject, outcome="↩️ 已退回 · 查看"),
)
