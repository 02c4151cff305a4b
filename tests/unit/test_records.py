"""The services behind /call, /visit and /bulletin: times as typed, who may do what, and refusals
that change nothing (audit log and outbox included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_workflow_support import counts, data_of, make_world, outbox, register, to

from bot.domain import records as rec
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.workflow import AlreadyHandled, InvalidState
from bot.kernel.clock import OFFICE_TZ
from store.models import Person
from store.workflow import Item

OFFICE = "固镇县人民政府督查室"
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 14:00 in Beijing


@pytest.mark.parametrize(("text", "expected"), [
    ("现在", NOW.astimezone(OFFICE_TZ)),
    ("9:30", datetime(2026, 3, 10, 9, 30, tzinfo=OFFICE_TZ)),
    ("9：05", datetime(2026, 3, 10, 9, 5, tzinfo=OFFICE_TZ)),
    ("10点", datetime(2026, 3, 10, 10, 0, tzinfo=OFFICE_TZ)),
    ("昨天 15:30", datetime(2026, 3, 9, 15, 30, tzinfo=OFFICE_TZ)),
    ("3月9日 8:00", datetime(2026, 3, 9, 8, 0, tzinfo=OFFICE_TZ)),
    ("2026-03-01 08:15", datetime(2026, 3, 1, 8, 15, tzinfo=OFFICE_TZ)),
    ("2025年12月31日 17:00", datetime(2025, 12, 31, 17, 0, tzinfo=OFFICE_TZ)),
])
def test_times_as_people_type_them(text, expected):
    assert rec.parse_when(text, NOW) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "看不懂"), ("下午", "看不懂"), ("25:00", "看不懂"), ("2月30日 9:00", "看不懂"),
    ("15:00", "晚于现在"), ("2024-01-01 09:00", "已超过一年"),
])
def test_bad_times_are_explained(text, message):
    with pytest.raises(DomainError, match=message):
        rec.parse_when(text, NOW)


async def _refused(db, exc, call, match):
    before = await counts(db)
    with pytest.raises(exc, match=match):
        async with db.session() as s:
            await call(s)
    assert await counts(db) == before


async def test_phone_records_who_and_what(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    draft = await register(db, w, clock.now(), title="草稿")
    now, cg = clock.now(), w.unit("lead").id
    call = dict(item_id=item.id, unit_id=cg, contact="张伟", occurred_at=now, summary="催办。", promise=None, now=now)
    await _refused(db, NotAllowed, lambda s: rec.record_call(s, w.lead_liaison, **call), "只有督查室工作人员")
    await _refused(db, NotAllowed, lambda s: rec.record_call(s, w.head, **call), "只有督查室工作人员")
    await _refused(db, DomainError, lambda s: rec.record_call(s, w.office, **dict(call, contact=" ")), "通话对象不能为空")
    await _refused(db, DomainError, lambda s: rec.record_call(s, w.office, **dict(call, summary="x" * 2001)),
                   "通话内容太长")
    await _refused(db, DomainError, lambda s: rec.record_call(s, w.office, **dict(call, unit_id=w.unit("other").id)),
                   "该单位未承办督字〔2026〕1号")
    await _refused(db, InvalidState, lambda s: rec.record_call(s, w.office, **dict(call, item_id=draft.id)),
                   "尚未审批交办")
    await _refused(db, DomainError, lambda s: rec.record_call(s, w.office, **dict(call, occurred_at=now + timedelta(hours=1))),
                   "不能晚于现在")

    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        sent = await rec.record_call(s, w.office, **dict(call, promise="月底前完成"))
    assert sent.told == 1
    (m,) = await outbox(db, seen)
    assert m.person_id == w.lead_liaison.id and data_of(m) == [[f"c:ok:{sent.record.id}", f"c:no:{sent.record.id}"]]
    assert "月底前完成" in m.text and "王督查" in m.text

    rid = sent.record.id
    await _refused(db, NotAllowed, lambda s: rec.confirm_record(s, w.lead_head, rid, now=now), "只有城关镇的联络员")
    await _refused(db, NotAllowed, lambda s: rec.confirm_record(s, w.a1_liaison, rid, now=now), "^无权查看$")
    await _refused(db, DomainError, lambda s: rec.dispute_record(s, w.lead_liaison, rid, reason="", now=now),
                   "异议内容不能为空")
    await _refused(db, DomainError, lambda s: rec.confirm_record(s, w.lead_liaison, 999, now=now), "找不到该督查记录")
    async with db.session() as s:
        await rec.confirm_record(s, w.lead_liaison, rid, now=now)
    await _refused(db, AlreadyHandled, lambda s: rec.dispute_record(s, w.lead_liaison, rid, reason="不对", now=now),
                   "已确认")

    # A unit without a liaison: recorded, nobody told; the office is told so by ``told``.
    other = await register(db, w, now, approve=True, title="财政事项", lead_unit_id=w.unit("other").id,
                           assisting_unit_ids=[])
    async with db.session() as s:
        p = await s.get(Person, w.other_liaison.id)
        p.active = False
    async with db.session() as s:
        assert (await rec.record_call(s, w.office, **dict(call, item_id=other.id, unit_id=w.unit("other").id))).told == 0

    # Archived: no more supervision.
    async with db.session() as s:
        it = await s.get(Item, item.id)
        it.state = "archived"
    await _refused(db, InvalidState, lambda s: rec.record_call(s, w.office, **call), "已归档")


async def test_visits_tell_the_unit_only_when_announced(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    now, a1 = clock.now(), w.unit("a1").id
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        assert await rec.announce_visit(s, w.office, item_id=item.id, unit_id=a1, planned="明天上午到现场", now=now) == 1
        announced = await rec.record_visit(s, w.office, item_id=item.id, unit_id=a1, occurred_at=now,
                                           summary="现场已开工。", unannounced=False, now=now)
        secret = await rec.record_visit(s, w.office, item_id=item.id, unit_id=a1, occurred_at=now,
                                        summary="现场无人。", unannounced=True, now=now)
    msgs = await outbox(db, seen)
    assert [m.person_id for m in msgs] == [w.a1_liaison.id, w.a1_liaison.id]
    assert "明天上午到现场" in msgs[0].text and "现场已开工" in msgs[1].text and msgs[1].buttons is None
    assert (announced.told, secret.told) == (1, 0) and secret.record.unannounced
    assert not any("现场无人" in m.text for m in await outbox(db))
    await _refused(db, DomainError, lambda s: rec.record_visit(
        s, w.office, item_id=item.id, unit_id=a1, occurred_at=now, summary="", unannounced=True, now=now),
        "督查情况不能为空")
    await _refused(db, NotAllowed, lambda s: rec.announce_visit(
        s, w.a1_liaison, item_id=item.id, unit_id=a1, planned="x", now=now), "只有督查室工作人员")


async def test_bulletins_count_under_the_right_rules_only(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    now, cg = clock.now(), w.unit("lead").id
    b = dict(item_id=item.id, unit_id=cg, kind="criticism", rule_code="criticism.other", text="未落实。",
             office_name=OFFICE, now=now)
    for kwargs, exc, message in [
        (dict(b, rule_code="late_feedback"), DomainError, "通报批评只能按以下考核规则计分"),
        (dict(b, rule_code="commendation"), DomainError, "通报批评只能按以下考核规则计分"),
        (dict(b, kind="commendation", rule_code="criticism.other"), DomainError, "通报表扬只能按以下考核规则计分"),
        (dict(b, kind="praise"), DomainError, "通报类型只能是"),
        (dict(b, text=""), DomainError, "通报内容不能为空"),
        (dict(b, unit_id=w.unit("water").id), DomainError, "该单位未承办"),
    ]:
        await _refused(db, exc, lambda s, kw=kwargs: rec.issue_bulletin(s, w.office, **kw), message)
    await _refused(db, NotAllowed, lambda s: rec.issue_bulletin(s, w.leader, **b), "只有督查室工作人员")

    before = await counts(db)
    async with db.session() as s:
        preview = await rec.preview_bulletin(s, w.office, **b)
    assert "（预览，尚未发布）" in preview and "第八条（六）" in preview and "扣5分" in preview
    assert (await counts(db))[1] == before[1]  # nothing queued

    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        issued = await rec.issue_bulletin(s, w.office, **b)
        second = await rec.issue_bulletin(s, w.office, **dict(b, kind="commendation", rule_code=None, text="已整改。"))
        assert [await rec.bulletin_seq(s, x.bulletin) for x in (issued, second)] == [1, 2]
    msgs = await outbox(db, seen)
    liaisons = {w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id, w.other_liaison.id, w.water_liaison.id}
    assert {m.person_id for m in msgs} == liaisons | {w.lead_head.id}
    assert len(to(msgs, w.lead_head)) == 2 and issued.told == 6
    assert "2026年第1期" in to(msgs, w.water_liaison)[0].text and "2026年第2期" in to(msgs, w.water_liaison)[1].text
