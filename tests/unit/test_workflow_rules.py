"""The rules around the workflow: stale buttons, payloads, input limits, confidentiality, lights, 暂定 deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from test_workflow_support import CAL, counts, data_of, make_world, outbox, register, to

from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain import review
from bot.domain.actions import ACTIONS, MAX_DATA_BYTES, MAX_ID, MalformedAction, action_data, parse_action
from bot.domain.attachments import MAX_ATTACHMENT_BYTES, AttachmentIn, store_attachment_bytes
from bot.domain.dossier import dossier, render_dossier
from bot.domain.errors import DomainError
from bot.domain.views import ItemFilters, item_detail, open_items_for
from bot.domain.workdays import WorkCalendar, parse_schedule
from bot.domain.workflow import (
    AlreadyHandled,
    DeadlineSpec,
    InvalidState,
    Light,
    light_for,
    parse_item_ref,
)
from store.workflow import Assignment, Item

ROOT = Path(__file__).resolve().parents[2]


def _a(item, w, unit_key):
    return next(a.id for a in item.assignments if a.unit_id == w.unit(unit_key).id)


async def _refused_without_change(db, exc, call, match=None):
    before = await counts(db)
    with pytest.raises(exc, match=match) as e:
        async with db.session() as s:
            await call(s)
    assert await counts(db) == before, "a refused action must change nothing (audit log and outbox included)"
    return e.value


# --------------------------------------------------------------------------------------------
# Stale and repeated actions
# --------------------------------------------------------------------------------------------


async def test_stale_and_double_actions_change_nothing(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await register(db, w, now, approve=True, leader_ids=[w.leader.id, w.leader2.id])
    lead = _a(item, w, "lead")

    # approving an approved item
    e = await _refused_without_change(
        db, AlreadyHandled, lambda s: items_svc.approve_item(s, w.head, item.id, calendar=CAL, now=now))
    assert "已处理过" in e.message
    await _refused_without_change(db, AlreadyHandled, lambda s: items_svc.reject_item(s, w.head, item.id, reason="x", now=now))

    # 签收 twice
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, lead, now=now)
    e = await _refused_without_change(db, AlreadyHandled, lambda s: asg.acknowledge(s, w.lead_liaison, lead, now=now))
    assert "无需重复签收" in e.message

    # a second extension request while one waits; deciding one twice
    async with db.session() as s:
        ext = await asg.request_extension(s, w.lead_liaison, lead, new_due=date(2026, 4, 3), reason="需要时间", now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: asg.request_extension(
        s, w.lead_liaison, lead, new_due=date(2026, 4, 10), reason="再延", now=now))
    async with db.session() as s:
        await asg.reject_extension(s, w.office, ext.id, reason="时间充足", now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: asg.approve_extension(s, w.office2, ext.id, now=now))

    # declining twice
    a2 = _a(item, w, "a2")
    async with db.session() as s:
        await asg.decline_assist(s, w.a2_liaison, a2, reason="无此职能", now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: asg.decline_assist(s, w.a2_liaison, a2, reason="x", now=now))
    await _refused_without_change(db, InvalidState, lambda s: asg.add_progress(s, w.a2_liaison, a2, text="x", now=now))

    # reviewing a report twice, in both directions
    async with db.session() as s:
        r = await asg.submit_report(s, w.lead_liaison, lead, text="已办结", now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: asg.submit_report(s, w.lead_liaison, lead, text="再报", now=now))
    async with db.session() as s:
        await review.approve_report(s, w.office, r.id, now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: review.approve_report(s, w.office2, r.id, now=now))
    await _refused_without_change(db, AlreadyHandled, lambda s: review.return_report(s, w.office2, r.id, reason="x", now=now))

    # two responsible leaders answer; the second is too late
    async with db.session() as s:
        await review.leader_instruct(s, w.leader, item.id, instruction="抓好落实", now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: review.leader_agree(s, w.leader2, item.id, now=now))
    async with db.session() as s:
        await items_svc.archive_item(s, w.office, item.id, now=now)
    await _refused_without_change(db, AlreadyHandled, lambda s: items_svc.archive_item(s, w.office, item.id, now=now))


async def test_a_rejected_submission_can_be_fixed_and_resubmitted(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await register(db, w, now, submit=True)
    clock.advance(minutes=10)
    now = clock.now()
    async with db.session() as s:
        await items_svc.reject_item(s, w.head, item.id, reason="协办单位不全", now=now)
    msgs = to(await outbox(db), w.office)
    assert "协办单位不全" in msgs[-1].text
    # the other head's 同意 button on the old request is stale now
    await _refused_without_change(db, AlreadyHandled, lambda s: items_svc.approve_item(s, w.head, item.id, calendar=CAL, now=now))
    clock.advance(minutes=10)
    now = clock.now()
    async with db.session() as s:
        item = await items_svc.update_draft(s, w.office, item.id, assisting_unit_ids=[w.unit("a1").id],
                                            calendar=CAL, now=now)
        assert sorted(a.unit_id for a in item.assignments) == sorted([w.unit("lead").id, w.unit("a1").id])
        await items_svc.submit_item(s, w.office, item.id, now=now)
    heads = to(await outbox(db), w.head)
    assert len(heads) == 2  # a new request (a new dedupe key) for the resubmission
    clock.advance(minutes=10)
    now = clock.now()
    async with db.session() as s:
        item = await items_svc.approve_item(s, w.head, item.id, calendar=CAL, now=now)
        assert item.state == "assigned" and len(item.assignments) == 2
        kinds = [e.kind for e in (await dossier(s, item.id)).entries]
    assert kinds[:5] == ["register", "submit", "reject", "submit", "approve"]


# --------------------------------------------------------------------------------------------
# Callback data
# --------------------------------------------------------------------------------------------


def test_every_action_code_round_trips_within_64_bytes():
    for code, spec in ACTIONS.items():
        data = action_data(code, MAX_ID)
        assert len(data.encode()) <= MAX_DATA_BYTES
        parsed = parse_action(data)
        assert (parsed.spec, parsed.target_id, parsed.data) == (spec, MAX_ID, data)
    assert parse_action("a:ack:17").spec.label == "签收"
    assert parse_action(b"i:ok:3").target_id == 3


@pytest.mark.parametrize("data", [
    None, "", "a:ack", "a:ack:", "a:ack:0", "a:ack:01", "a:ack:-1", "a:ack:1:2", "a:ack:1 ", " a:ack:1", "a:ack:1\n",
    "zz:ok:1", "a:zzz:1", "A:ACK:1", "a:ack:x", "a:ack:１", "a:ack:2147483648", "a:ack:99999999999",
    "a:ack:" + "1" * 70, "i:ok:3;drop", b"\xff\xfe", "a；ack；1", 17,
])
def test_malformed_callback_data_is_refused(data):
    with pytest.raises(MalformedAction) as e:
        parse_action(data)
    assert "按钮已失效" in e.value.message


def test_action_data_refuses_bad_input():
    for code, target in (("a:nope", 1), ("a:ack", 0), ("a:ack", MAX_ID + 1), ("a:ack", True)):
        with pytest.raises(ValueError):
            action_data(code, target)


# --------------------------------------------------------------------------------------------
# Input limits
# --------------------------------------------------------------------------------------------


async def test_empty_and_oversized_input_is_refused_clearly(db, clock, tmp_path):
    w = await make_world(db, clock.now())
    now = clock.now()

    async def reg(**kw):
        return await _refused_without_change(db, DomainError, lambda s: register_call(s, **kw))

    async def register_call(s, **kw):
        fields = dict(title="标题", requirements="要求", source="deployment", importance="important",
                      lead_unit_id=w.unit("lead").id, leader_ids=[w.leader.id])
        fields.update(kw)
        return await items_svc.register_item(s, w.office, calendar=CAL, now=now, **fields)

    assert (await reg(title="  ")).message == "事项名称不能为空"
    assert (await reg(title="长" * 101)).message == "事项名称太长：最多100字，现有101字"
    assert (await reg(requirements="")).message == "办理要求不能为空"
    assert "最多2000字" in (await reg(requirements="要" * 2001)).message
    assert "事项来源" in (await reg(source="小道消息")).message
    assert "重要程度" in (await reg(importance="特急")).message
    assert "办结时限" in (await reg(importance="normal")).message
    assert "应晚于今天" in (await reg(deadline=DeadlineSpec.on_date(date(2026, 3, 10)))).message
    assert "1–250" in (await reg(deadline=DeadlineSpec.working_days(0))).message
    assert "主办单位不能同时是协办单位" in (await reg(assisting_unit_ids=[w.unit("lead").id])).message
    assert "承办单位不存在" in (await reg(lead_unit_id=99999)).message
    assert "县领导" in (await reg(leader_ids=[])).message
    assert "县领导" in (await reg(leader_ids=[w.office.id])).message
    assert "专人跟踪" in (await reg(importance="urgent", deadline=DeadlineSpec.working_days(2))).message
    assert "督查室工作人员" in (await reg(importance="紧急", deadline=DeadlineSpec.working_days(2),
                                   follower_id=w.lead_liaison.id)).message

    item = await register(db, w, now, approve=True)
    lead = _a(item, w, "lead")
    e = await _refused_without_change(db, DomainError, lambda s: asg.add_progress(s, w.lead_liaison, lead, text=" ", now=now))
    assert e.message == "进展情况不能为空"
    e = await _refused_without_change(db, DomainError, lambda s: asg.submit_report(
        s, w.lead_liaison, lead, text="报" * 2001, now=now))
    assert e.message == "办结报告太长：最多2000字，现有2001字"
    e = await _refused_without_change(db, DomainError, lambda s: asg.decline_assist(
        s, w.a1_liaison, _a(item, w, "a1"), reason="", now=now))
    assert e.message == "无法协办的理由不能为空"
    e = await _refused_without_change(db, DomainError, lambda s: asg.request_extension(
        s, w.lead_liaison, lead, new_due=date(2026, 3, 18), reason="理由", now=now))
    assert "应晚于现在的期限 2026-03-19" in e.message
    big = AttachmentIn("录像.mp4", MAX_ATTACHMENT_BYTES + 1, "video/mp4", "f", "u")
    e = await _refused_without_change(db, DomainError, lambda s: asg.add_progress(
        s, w.lead_liaison, lead, text="见附件", attachments=[big], now=now))
    assert "20 MB" in e.message
    files = tmp_path / "files"
    with pytest.raises(DomainError, match="20 MB"):
        store_attachment_bytes(files, b"\0" * (MAX_ATTACHMENT_BYTES + 1))
    assert not files.exists()
    # a photo without a caption is progress enough
    async with db.session() as s:
        p = await asg.add_progress(s, w.lead_liaison, lead, text=None, now=now,
                                   attachments=[AttachmentIn("现场.jpg", 1000, "image/jpeg", "f1", "u1")])
        assert p.text == ""
    # the same bytes are stored once
    sha1, p1 = store_attachment_bytes(files, b"photo")
    sha2, p2 = store_attachment_bytes(files, b"photo")
    assert (sha1, p1) == (sha2, p2) and p1.read_bytes() == b"photo"


# --------------------------------------------------------------------------------------------
# Item numbers as typed
# --------------------------------------------------------------------------------------------


def test_item_references():
    assert parse_item_ref("3", 2026) == (2026, 3)
    assert parse_item_ref("第3号", 2026) == (2026, 3)
    assert parse_item_ref("督字〔2025〕12号", 2026) == (2025, 12)
    assert parse_item_ref("督字[2025]12号", 2026) == (2025, 12)
    assert parse_item_ref("2025-12", 2026) == (2025, 12)
    for bad in ("", "abc", "督字〔26〕1号", "3号号", "1.5"):
        with pytest.raises(DomainError, match="格式不对"):
            parse_item_ref(bad, 2026)


async def test_unknown_numbers_and_hidden_items_are_refused(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True)
    async with db.session() as s:
        assert (await item_detail(s, w.lead_liaison, "督字〔2026〕1号", calendar=CAL, now=clock.now())).summary.number == "督字〔2026〕1号"
        with pytest.raises(DomainError, match="没有找到督字〔2026〕99号督查事项"):
            await item_detail(s, w.office, "99", calendar=CAL, now=clock.now())
        with pytest.raises(DomainError, match="没有找到督字〔2025〕1号"):
            await item_detail(s, w.office, "督字〔2025〕1号", calendar=CAL, now=clock.now())
        with pytest.raises(DomainError, match="格式不对"):
            await item_detail(s, w.office, "路面", calendar=CAL, now=clock.now())
        with pytest.raises(DomainError, match="^无权查看$"):
            await item_detail(s, w.other_liaison, "1", calendar=CAL, now=clock.now())


# --------------------------------------------------------------------------------------------
# Confidential items
# --------------------------------------------------------------------------------------------


async def test_confidential_items_send_no_content(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    title, req = "某涉密工程进度核查", "核查某涉密工程的建设进度"
    item = await register(db, w, now, approve=True, title=title, requirements=req, confidential=True,
                          leader_ids=[w.leader.id])
    lead, a2 = _a(item, w, "lead"), _a(item, w, "a2")
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, lead, now=now)
        x = await asg.request_extension(s, w.lead_liaison, lead, new_due=date(2026, 4, 3), reason="机密原因一", now=now)
        await asg.approve_extension(s, w.office, x.id, note="机密意见", now=now)
        await asg.decline_assist(s, w.a2_liaison, a2, reason="机密原因二", now=now)
        t = await asg.request_transfer(s, w.a1_liaison, _a(item, w, "a1"), reason="机密原因三", now=now)
        await asg.reject_transfer(s, w.office, t.id, reason="机密意见二", now=now)
        r = await asg.submit_report(s, w.lead_liaison, lead, text="", offline=True, now=now)  # on paper
        await review.approve_report(s, w.office, r.id, site_note="机密核验", now=now)
        await review.leader_instruct(s, w.leader, item.id, instruction="机密批示", now=now)
    msgs = await outbox(db)
    assert len(msgs) > 15
    for m in msgs:
        assert title not in m.text and req not in m.text and "机密" not in m.text, m.text
        assert "请到督查室查阅" in m.text, m.text
    # The submission for approval names the registration number; every message after it, the number.
    assert [("督字〔2026〕1号" in m.text, f"登记号{item.id}" in m.text) for m in msgs] == (
        [(False, True)] + [(True, False)] * (len(msgs) - 1))
    # buttons still work: the liaison can acknowledge from the notice
    assert data_of(to(msgs, w.lead_liaison)[0])[0] == [f"a:ack:{lead}"]
    # the submission to the office head (no number yet) carries no content either
    other = await register(db, w, now, submit=True, title=title, requirements=req, confidential=True)
    (m,) = to(await outbox(db, msgs[-1].id), w.head)
    assert title not in m.text and f"登记号{other.id}" in m.text and "请到督查室查阅" in m.text
    # views and the rendered dossier do not show it either; the dossier object keeps it for the archive
    async with db.session() as s:
        d = await item_detail(s, w.office, "1", calendar=CAL, now=now)
        assert title not in d.summary.title and d.requirements is None
        page = await open_items_for(s, w.office, ItemFilters(include_closed=True), calendar=CAL, now=now)
        assert all(title not in i.title for i in page.items)
        full = await dossier(s, item.id)
    assert full.title == title
    assert title not in render_dossier(full) and "请到督查室查阅" in render_dossier(full)
    assert title in render_dossier(full, reveal_confidential=True)


# --------------------------------------------------------------------------------------------
# Traffic lights
# --------------------------------------------------------------------------------------------


def _bj(y, m, d, h=10):
    return datetime(y, m, d, h - 8, 0, tzinfo=UTC)  # 10:00 in Beijing


async def test_traffic_lights_around_a_weekend(db, clock):
    w = await make_world(db, clock.now())
    # Approved Tue 03-10 with 7 working days: due Thu 03-19.
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[])
    assert item.due_date == date(2026, 3, 19)
    expected = [
        (date(2026, 3, 13), "green", 4),   # Fri: 16, 17, 18, 19 left
        (date(2026, 3, 14), "green", 4),   # Sat
        (date(2026, 3, 15), "green", 4),   # Sun
        (date(2026, 3, 16), "yellow", 3),  # Mon
        (date(2026, 3, 19), "yellow", 0),  # the due day itself
        (date(2026, 3, 20), "red", -1),    # Fri after
        (date(2026, 3, 22), "red", -1),    # Sun after
        (date(2026, 3, 24), "red", -3),    # Tue after: 20, 23, 24
    ]
    for day, code, left in expected:
        async with db.session() as s:
            page = await open_items_for(s, w.lead_liaison, calendar=CAL, now=_bj(day.year, day.month, day.day))
        light = page.items[0].light
        assert (day, light.code, light.days_left, light.emoji) == (day, code, left, {"green": "🟢", "yellow": "🟡", "red": "🔴"}[code])
    # late in the evening of the due day (Beijing) is still the due day, not overdue
    async with db.session() as s:
        late = datetime(2026, 3, 19, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
        assert (await open_items_for(s, w.office, calendar=CAL, now=late)).items[0].light.code == "yellow"
    # an approved extension moves the deadline: not red any more
    lead = item.assignments[0].id
    async with db.session() as s:
        x = await asg.request_extension(s, w.lead_liaison, lead, new_due=date(2026, 4, 3), reason="理由", now=_bj(2026, 3, 20))
        await asg.approve_extension(s, w.office, x.id, now=_bj(2026, 3, 20))
    async with db.session() as s:
        page = await open_items_for(s, w.office, calendar=CAL, now=_bj(2026, 3, 24))
        assert (page.items[0].light.code, page.items[0].light.days_left) == ("green", 8)
        reds = await open_items_for(s, w.office, ItemFilters(light="red"), calendar=CAL, now=_bj(2026, 3, 24))
        assert reds.total == 0
    # around a holiday: Qingming 2026 (04-04..04-06 off) — Fri 04-03 is the due day, Tue 04-07 is -1
    assert light_for(CAL, date(2026, 4, 3), date(2026, 4, 6)).days_left == -1
    assert light_for(CAL, date(2026, 4, 7), date(2026, 4, 3)).code == "yellow"


def test_a_light_says_its_working_days_in_words():
    assert Light("green", 5, False).words == "剩5个工作日"
    assert Light("yellow", 0, False).words == "今天到期"
    assert Light("red", -2, False).words == "超期2个工作日"
    assert Light("yellow", 1, True).words == "剩1个工作日（暂定）"


# --------------------------------------------------------------------------------------------
# Provisional deadlines
# --------------------------------------------------------------------------------------------


async def test_provisional_deadlines_into_an_unloaded_year_and_recompute(db, clock):
    assert not CAL.knows(2027)
    clock.set(_bj(2026, 12, 28))  # Monday
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    # Weekends only in 2027: 12-29, 12-30, 12-31, 01-01, 01-04, 01-05, 01-06.
    assert (item.due_date, item.due_provisional) == (date(2027, 1, 6), True)
    assert all(a.due_provisional and a.due_date == date(2027, 1, 6) for a in item.assignments)
    msgs = await outbox(db)
    (notice,) = to(msgs, w.lead_liaison)
    assert "2027-01-06（暂定）" in notice.text
    (told,) = to(msgs, w.office)  # the office is told the year must be loaded
    assert "2027年放假安排尚未载入" in told.text
    async with db.session() as s:
        d = await item_detail(s, w.lead_liaison, "1", calendar=CAL, now=clock.now())
        assert d.summary.due_provisional and d.summary.light.provisional
    # an extension to an explicit date is never provisional
    a1 = _a(item, w, "a1")
    async with db.session() as s:
        x = await asg.request_extension(s, w.a1_liaison, a1, new_due=date(2027, 1, 20), reason="理由", now=clock.now())
        await asg.approve_extension(s, w.office, x.id, now=clock.now())

    loaded = CAL.with_schedules(parse_schedule((ROOT / "docs/schedule-example-2027.toml").read_text("utf-8")))
    seen = (await outbox(db))[-1].id
    clock.advance(days=1)
    async with db.session() as s:
        changes = await items_svc.recompute_provisional(s, loaded, clock.now())
    # New Year 01-01..01-03 off: 12-29, 12-30, 12-31, 01-04, 01-05, 01-06, 01-07.
    assert sorted((c.assignment_id or 0, c.old_due, c.new_due, c.provisional) for c in changes) == sorted(
        [(0, date(2027, 1, 6), date(2027, 1, 7), False)]
        + [(_a(item, w, k), date(2027, 1, 6), date(2027, 1, 7), False) for k in ("lead", "a2")]
    )
    async with db.session() as s:
        it = await s.get(Item, item.id)
        assert (it.due_date, it.due_provisional) == (date(2027, 1, 7), False)
        dues = {a.unit_id: (a.due_date, a.due_provisional) for a in (await s.scalars(select(Assignment))).all()}
    assert dues[w.unit("lead").id] == (date(2027, 1, 7), False) and dues[w.unit("a1").id] == (date(2027, 1, 20), False)
    msgs = await outbox(db, seen)
    # Each changed unit's liaison and its head (issue 12: the head was given the original notice).
    assert sorted(m.person_id for m in msgs) == sorted([w.lead_liaison.id, w.lead_head.id, w.a2_liaison.id, w.a2_head.id])
    assert all("2027-01-07" in m.text and "2027-01-06" in m.text and "暂定" in m.text for m in msgs)
    # idempotent
    async with db.session() as s:
        assert await items_svc.recompute_provisional(s, loaded, clock.now()) == []
    assert await outbox(db, msgs[-1].id) == []
    # a calendar that still lacks the year changes nothing
    async with db.session() as s:
        assert await items_svc.recompute_provisional(s, WorkCalendar(), clock.now()) == []


# --------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL: real row locks; SQLite serialises writers anyway)
# --------------------------------------------------------------------------------------------


async def test_concurrent_approvals_get_distinct_numbers_and_one_wins(db, clock):
    if db.is_sqlite:
        pytest.skip("row locking is a PostgreSQL matter; SQLite has one writer at a time")
    import asyncio

    w = await make_world(db, clock.now())
    pending = [await register(db, w, clock.now(), submit=True, title=f"事项{i}") for i in range(4)]

    async def approve(item_id):
        async with db.session() as s:
            return (await items_svc.approve_item(s, w.head, item_id, calendar=CAL, now=clock.now())).number

    numbers = await asyncio.gather(*(approve(i.id) for i in pending))
    assert sorted(numbers) == [1, 2, 3, 4]

    other = await register(db, w, clock.now(), submit=True, title="同时点了两次")
    results = await asyncio.gather(approve(other.id), approve(other.id), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["AlreadyHandled", "int"]
    assert [r for r in results if isinstance(r, int)] == [5]
    msgs = to(await outbox(db), w.lead_liaison)
    assert len([m for m in msgs if "督字〔2026〕5号" in m.text]) == 1
