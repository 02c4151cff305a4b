"""Confidential items (§9(五), issue 12 point 7): the neutral label, what a view may show, and the
offline confirmations that stand for progress and reports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_workflow_support import counts, data_of, make_world, outbox, register, to

from bot.domain import assignments as asg
from bot.domain import changes as chg
from bot.domain.attachments import AttachmentIn
from bot.domain.confidential import (
    NO_CONTENT,
    OFFLINE_PROGRESS,
    OFFLINE_REPORT,
    OFFLINE_REQUIREMENTS,
    clean_label,
    display_name,
    is_label,
    shown_label,
)
from bot.domain.errors import DomainError
from bot.domain.feedback import _feedback_times


def test_a_label_is_short_and_neutral_and_stored_with_its_suffix():
    assert clean_label("县委交办事项") == "县委交办事项（涉密）"
    assert clean_label("  县委交办事项（涉密） ") == "县委交办事项（涉密）"  # typed with the suffix
    assert clean_label("县委\u200b交办事项") == "县委交办事项（涉密）"  # invisible characters dropped
    for content in ("关于某村征地补偿款拨付问题的督办事项", "补偿款3000万元", "选址论证，月底完成", "第一行\n第二行"):
        with pytest.raises(DomainError, match="简短的中性简称"):
            clean_label(content)
    with pytest.raises(DomainError, match="简称不能为空"):
        clean_label(" （涉密） ")
    with pytest.raises(DomainError, match="要有文字"):
        clean_label("——")


def test_only_a_stored_label_is_shown_for_a_confidential_item():
    assert is_label("县委交办事项（涉密）") and not is_label("某涉密工程选址")
    assert shown_label("县委交办事项（涉密）", True) == "县委交办事项（涉密）"
    # A title registered before labels existed may be content: the number alone stands for it.
    assert shown_label("某涉密工程选址", True) is None and display_name("某涉密工程选址", True) == "涉密事项"
    assert shown_label("关于补偿款3000万元的事项（涉密）", True) is None
    assert shown_label("城区主干道破损路面修复", False) == "城区主干道破损路面修复"


async def _confidential(db, w, now):
    return await register(db, w, now, approve=True, title=clean_label("县委交办事项"),
                          requirements=OFFLINE_REQUIREMENTS, confidential=True)


def _lead(item, w):
    return next(a.id for a in item.assignments if a.unit_id == w.unit("lead").id)


async def test_content_for_a_confidential_item_is_refused_and_changes_nothing(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await _confidential(db, w, now)
    lead = _lead(item, w)
    photo = AttachmentIn("现场.jpg", 3, mime_type="image/jpeg", telegram_file_id="f1")
    for call in (
        lambda s: asg.add_progress(s, w.lead_liaison, lead, text="选址论证已完成", now=now),
        lambda s: asg.add_progress(s, w.lead_liaison, lead, text=None, attachments=[photo], now=now),
        lambda s: asg.submit_report(s, w.lead_liaison, lead, text="已办结", now=now),
        lambda s: asg.submit_plan(s, w.lead_liaison, lead, text="方案", now=now),
        lambda s: chg.edit_draft(s, w.office, item.id, field="requirements", text="x", calendar=None, now=now),
        lambda s: chg.may_propose(s, w.office, item.id, "requirements"),
    ):
        before = await counts(db)
        with pytest.raises(DomainError) as e:
            async with db.session() as s:
                await call(s)
        assert e.value.message in (NO_CONTENT, "涉密事项的办理要求以纸质文件为准，不在此填写或变更。")
        assert await counts(db) == before


async def test_offline_confirmations_count_as_progress_and_report(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await _confidential(db, w, now)
    lead = _lead(item, w)
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        p = await asg.add_progress(s, w.lead_liaison, lead, text="不该留下的内容", attachments=[], now=now,
                                   offline=True)
        assert (p.text, p.created_by_id, p.created_at) == (OFFLINE_PROGRESS, w.lead_liaison.id, now)
    later = now + timedelta(days=1)
    async with db.session() as s:
        r = await asg.submit_report(s, w.lead_liaison, lead, text="不该留下的内容", offline=True, now=later)
        assert (r.text, r.status) == (OFFLINE_REPORT, "pending")
        # The weekly feedback and the deadline rules read these rows like any other feedback.
        assert await _feedback_times(s, [lead], now) == {lead: [now, later]}
    # The office is asked to review it, as usual: 审核通过 / 退回重办 on a message without content.
    (m,) = to(await outbox(db, seen), w.office)
    assert data_of(m)[0] == [f"r:ok:{r.id}", f"r:no:{r.id}"]
    assert "不该留下的内容" not in m.text and "县委交办事项（涉密）" in m.text


async def test_an_ordinary_item_is_not_confirmed_offline(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await register(db, w, now, approve=True)
    with pytest.raises(DomainError, match="不是涉密事项"):
        async with db.session() as s:
            await asg.add_progress(s, w.lead_liaison, _lead(item, w), text=None, offline=True, now=now)
