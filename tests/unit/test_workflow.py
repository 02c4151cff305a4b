"""One important item through its whole life: 立项 → 审批 → 交办 → 承办 → 审核 → 审阅/批示 → 归档."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from test_workflow_support import CAL, counts, data_of, labels_of, make_world, outbox, register, to

from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain import review
from bot.domain.attachments import AttachmentIn, store_attachment_bytes
from bot.domain.dossier import dossier, render_dossier
from bot.domain.views import ItemFilters, item_detail, open_items_for
from bot.domain.workflow import AlreadyHandled, DeadlineSpec
from store.models import AuditEntry
from store.workflow import Assignment, Attachment, CompletionReport, Item, LeaderReview, Progress


async def test_an_important_item_from_registration_to_archive(db, clock, tmp_path):
    w = await make_world(db, clock.now())
    lead_u, a1_u, a2_u = w.unit("lead"), w.unit("a1"), w.unit("a2")

    # ---- 立项 (office): important → 7 working days by default, weekly feedback on.
    async with db.session() as s:
        item = await items_svc.register_item(
            s, w.office, title="城区主干道破损路面修复", requirements="修复城区主干道破损路面，报送修复前后照片。",
            source="deployment", importance="重要", lead_unit_id=lead_u.id,
            assisting_unit_ids=[a1_u.id, a2_u.id], leader_ids=[w.leader.id], calendar=CAL, now=clock.now(),
        )
        assert (item.state, item.deadline_days, item.weekly_feedback, item.number) == ("draft", 7, True, None)
        await items_svc.submit_item(s, w.office, item.id, now=clock.now())
    item_id = item.id
    msgs = await outbox(db)
    assert [m.person_id for m in msgs] == [w.head.id]
    assert data_of(msgs[0]) == [[f"i:ok:{item_id}", f"i:no:{item_id}"]] and labels_of(msgs[0]) == ["同意", "退回"]
    assert "城区主干道破损路面修复" in msgs[0].text and "批准后7个工作日" in msgs[0].text

    # ---- 审批 (office head): number, deadline (Tue 03-10 + 7 working days = Thu 03-19), notices.
    seen = msgs[-1].id
    clock.advance(hours=1)
    async with db.session() as s:
        item = await items_svc.approve_item(s, w.head, item_id, calendar=CAL, now=clock.now())
        assert (item.year, item.number, item.state) == (2026, 1, "assigned")
        assert (item.due_date, item.due_provisional) == (date(2026, 3, 19), False)
        ids = {a.unit_id: a.id for a in item.assignments}
        assert all(a.state == "assigned" and a.due_date == date(2026, 3, 19) for a in item.assignments)
    lead_a, a1_a, a2_a = ids[lead_u.id], ids[a1_u.id], ids[a2_u.id]
    msgs = await outbox(db, seen)
    for liaison, aid, assist in ((w.lead_liaison, lead_a, False), (w.a1_liaison, a1_a, True), (w.a2_liaison, a2_a, True)):
        (m,) = to(msgs, liaison)
        assert "督办通知单" in m.text and "督字〔2026〕1号" in m.text and "2026-03-19" in m.text
        assert "修复城区主干道破损路面" in m.text and "县政府重要工作部署" in m.text and "每周" in m.text
        expected = [[f"a:ack:{aid}"], [f"a:prg:{aid}", f"a:ext:{aid}"], [f"a:rpt:{aid}"] + ([f"a:dec:{aid}"] if assist else [])]
        assert data_of(m) == expected
        assert labels_of(m)[:4] == ["签收", "反馈进展", "申请延期", "提交办结报告"]
        assert ("无法协办" in labels_of(m)) is assist
    for head in (w.lead_head, w.a2_head):
        (m,) = to(msgs, head)
        assert "督办通知单" in m.text and "知悉" in m.text and m.buttons is None
    (m,) = to(msgs, w.office)
    assert "立项已审批" in m.text and "督字〔2026〕1号" in m.text
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id, w.lead_head.id,
                                          w.a2_head.id, w.office.id}
    assert all(m.status == "pending" and m.dedupe_key for m in msgs)

    # ---- 签收: the lead's acknowledgement starts the item.
    clock.advance(hours=1)
    async with db.session() as s:
        a = await asg.acknowledge(s, w.lead_liaison, lead_a, now=clock.now())
        assert a.state == "in_progress" and a.acknowledged_at == clock.now() and a.item.state == "in_progress"
        await asg.acknowledge(s, w.a1_liaison, a1_a, now=clock.now())

    # ---- Weekly progress with a photo.
    clock.advance(days=6)
    photo = b"\xff\xd8\xff\xe0 fake jpeg bytes"
    sha, path = store_attachment_bytes(tmp_path / "files", photo)
    assert path == tmp_path / "files" / sha[:2] / sha[2:] and path.read_bytes() == photo
    async with db.session() as s:
        p = await asg.add_progress(
            s, w.lead_liaison, lead_a, text="已完成东环路段修复，附现场照片。", now=clock.now(),
            attachments=[AttachmentIn("现场.jpg", len(photo), "image/jpeg", "tg-file-1", "tg-uniq-1", sha, str(path))],
        )
        progress_id = p.id

    # ---- 延期: requested, approved; the lead's deadline moves and it is not overdue on the old one.
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        req = await asg.request_extension(s, w.lead_liaison, lead_a, new_due=date(2026, 3, 27),
                                          reason="雨季施工受阻，需延长一周。", now=clock.now())
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.office.id}  # the item's follower, its registrant (issue 13)
    assert data_of(msgs[0]) == [[f"x:ok:{req.id}", f"x:no:{req.id}"]] and "2026-03-27" in msgs[0].text
    async with db.session() as s:
        await asg.approve_extension(s, w.office, req.id, now=clock.now())
    msgs = await outbox(db, msgs[-1].id)
    # The lead unit's liaison and, for information, its head (issue 12: deadline changes reach the head).
    assert [m.person_id for m in msgs] == [w.lead_liaison.id, w.lead_head.id]
    assert all("2026-03-27" in m.text for m in msgs) and msgs[1].buttons is None
    clock.set(clock.now().replace(day=20))  # Fri 03-20: past the old deadline of 03-19
    async with db.session() as s:
        d = await item_detail(s, w.office, "1", calendar=CAL, now=clock.now())
        lights = {v.unit_name: v.light for v in d.summary.assignments}
        # lead: extended to Fri 03-27, five working days left; assisting unit 1: still due 03-19
        assert (lights["城关镇"].code, lights["城关镇"].days_left) == ("green", 5)
        assert (lights["县交通运输局"].code, lights["县交通运输局"].days_left) == ("red", -1)

    # ---- 无法协办 (assisting unit 2): the office and the lead unit's liaison are told at once.
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        await asg.decline_assist(s, w.a2_liaison, a2_a, reason="该路段不在本局管养范围。", now=clock.now())
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.office.id, w.lead_liaison.id}  # the office side: its follower
    assert all(m.urgent and "无法协办" in m.text and "不在本局管养范围" in m.text for m in msgs)

    # ---- 办结报告 → 退回重办 (redo 1) → 再报 → 审核通过.
    async with db.session() as s:
        r1 = await asg.submit_report(s, w.lead_liaison, lead_a, text="路面已全部修复。", now=clock.now())
        assert (await s.get(Item, item_id)).state == "reported"
    msgs = await outbox(db, msgs[-1].id)
    assert {m.person_id for m in msgs} == {w.office.id}
    assert data_of(msgs[0]) == [[f"r:ok:{r1.id}", f"r:no:{r1.id}"]] and "路面已全部修复" in msgs[0].text
    async with db.session() as s:
        await review.return_report(s, w.office, r1.id, reason="缺少修复后照片。", now=clock.now())
        a = await s.get(Assignment, lead_a)
        assert (a.state, a.redo_count, a.item.state) == ("in_progress", 1, "in_progress")
    msgs = await outbox(db, msgs[-1].id)
    assert [m.person_id for m in msgs] == [w.lead_liaison.id] and "缺少修复后照片" in msgs[0].text
    clock.advance(days=1)
    async with db.session() as s:
        r2 = await asg.submit_report(s, w.lead_liaison, lead_a, text="已补充修复后照片。", now=clock.now())
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        await review.approve_report(s, w.office2, r2.id, site_note="已到现场核验，路面平整。", now=clock.now())
        item = await s.get(Item, item_id)
        assert item.state == "leader_review"
        assert (await s.get(Assignment, lead_a)).redo_count == 1
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.leader.id}
    (lm,) = [m for m in msgs if m.person_id == w.leader.id]
    assert data_of(lm) == [[f"l:ok:{item_id}", f"l:ins:{item_id}", f"l:ret:{item_id}"]] and labels_of(lm) == ["同意", "批示", "退回重办"]
    assert "已补充修复后照片" in lm.text and "路面平整" in lm.text

    # ---- 批示 → closed; the office and the units still on the item are told.
    seen = msgs[-1].id
    clock.advance(hours=3)
    async with db.session() as s:
        await review.leader_instruct(s, w.leader, item_id, instruction="做好后续养护，防止反复破损。", now=clock.now())
        item = await s.get(Item, item_id)
        assert item.state == "closed" and item.closed_at == clock.now()
        states = {a.unit_id: a.state for a in item.assignments}
        assert states == {lead_u.id: "done", a1_u.id: "done", a2_u.id: "declined"}
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.office.id, w.lead_liaison.id, w.a1_liaison.id}
    assert all("防止反复破损" in m.text and "事项已办结" in m.text for m in msgs)

    # ---- 归档, and the dossier.
    async with db.session() as s:
        await items_svc.archive_item(s, w.office, item_id, now=clock.now())
        assert (await s.get(Item, item_id)).state == "archived"
        d = await dossier(s, item_id)
    kinds = [e.kind for e in d.entries]
    assert kinds[:6] == ["register", "submit", "approve", "notice", "notice", "notice"]
    assert kinds[-3:] == ["leader_review", "close", "archive"]
    for k in ("acknowledge", "progress", "extension_request", "extension_decision", "decline", "report", "review"):
        assert k in kinds
    assert kinds.index("progress") < kinds.index("extension_request") < kinds.index("decline") < kinds.index("report")
    assert [e.label for e in d.entries if e.kind == "review"] == ["退回重办", "审核通过"]
    assert [e.at for e in d.entries] == sorted(e.at for e in d.entries)
    (prog,) = [e for e in d.entries if e.kind == "progress"]
    assert prog.actor == "陈联络（城关镇）" and prog.attachments[0].file_name == "现场.jpg"
    assert [f.sha256 for f in d.attachments] == [sha] and d.number == "督字〔2026〕1号"
    html = render_dossier(d)
    assert "督字〔2026〕1号 卷宗" in html and "防止反复破损" in html and "现场.jpg" in html and "缺少修复后照片" in html

    # ---- The records and the audit trail: every transition under its own action and actor.
    async with db.session() as s:
        att = (await s.scalars(select(Attachment))).one()
        assert (att.owner_kind, att.owner_id, att.item_id, att.assignment_id) == ("progress", progress_id, item_id, lead_a)
        assert (await s.scalars(select(Progress))).one().text.startswith("已完成东环路段")
        assert [r.status for r in (await s.scalars(select(CompletionReport).order_by(CompletionReport.id))).all()] == [
            "returned", "approved"]
        lr = (await s.scalars(select(LeaderReview))).one()
        assert (lr.decision, lr.leader_id) == ("instruct", w.leader.id)
        audit = (await s.scalars(select(AuditEntry).where(AuditEntry.action != "test.setup")
                                 .order_by(AuditEntry.id))).all()
    by_action: dict[str, set] = {}
    for e in audit:
        by_action.setdefault(e.action, set()).add(e.actor_id)
    assert by_action == {
        "item.register": {w.office.id},
        "item.submit": {w.office.id},
        "item.approve": {w.head.id},
        "assignment.acknowledge": {w.lead_liaison.id, w.a1_liaison.id},
        "progress.add": {w.lead_liaison.id},
        "extension.request": {w.lead_liaison.id},
        "extension.approve": {w.office.id},
        "assignment.decline": {w.a2_liaison.id},
        "report.submit": {w.lead_liaison.id},
        "report.return": {w.office.id},
        "report.approve": {w.office2.id},
        "leader.instruct": {w.leader.id},
        "item.archive": {w.office.id},
    }
    approve_rows = [(e.entity, e.after.get("state")) for e in audit if e.action == "item.approve"]
    assert ("items", "assigned") in approve_rows and approve_rows.count(("assignments", "assigned")) == 3
    ext = [e for e in audit if e.action == "extension.approve" and e.entity == "assignments"]
    assert ext[0].before["due_date"] == "2026-03-19" and ext[0].after["due_date"] == "2026-03-27"


async def test_item_numbers_count_per_year(db, clock):
    w = await make_world(db, clock.now())
    first = await register(db, w, clock.now(), approve=True)
    second = await register(db, w, clock.now(), approve=True, title="第二件")
    assert (first.number, second.number) == (1, 2)
    clock.set(clock.now().replace(year=2027, month=1, day=5))
    third = await register(db, w, clock.now(), approve=True, title="新年第一件",
                           deadline=DeadlineSpec.on_date(date(2027, 2, 26)))
    assert (third.year, third.number) == (2027, 1)
    async with db.session() as s:
        d = await item_detail(s, w.office, "督字〔2026〕2号", calendar=CAL, now=clock.now())
        assert d.summary.title == "第二件"
        d = await item_detail(s, w.office, "1", calendar=CAL, now=clock.now())
        assert d.summary.title == "新年第一件"


async def test_open_items_per_role_and_paging(db, clock):
    w = await make_world(db, clock.now())
    approved = await register(db, w, clock.now(), approve=True)
    await register(db, w, clock.now(), approve=True, title="财政局的事", lead_unit_id=w.unit("other").id,
                   assisting_unit_ids=[], leader_ids=[w.leader2.id])
    await register(db, w, clock.now(), title="还是草稿")
    async with db.session() as s:
        async def titles(person, **kw):
            page = await open_items_for(s, person, calendar=CAL, now=clock.now(), **kw)
            return sorted(i.title for i in page.items), page

        assert (await titles(w.office))[0] == ["城区主干道破损路面修复", "财政局的事", "还是草稿"]
        assert (await titles(w.head))[0] == ["城区主干道破损路面修复", "财政局的事", "还是草稿"]
        assert (await titles(w.leader))[0] == ["城区主干道破损路面修复"]
        assert (await titles(w.leader2))[0] == ["财政局的事"]
        assert (await titles(w.lead_liaison))[0] == ["城区主干道破损路面修复"]
        assert (await titles(w.lead_head))[0] == ["城区主干道破损路面修复"]
        assert (await titles(w.other_liaison))[0] == ["财政局的事"]
        assert (await titles(w.water_liaison))[0] == []
        assert (await titles(w.nobody))[0] == []
        names, page = await titles(w.office, page=2, page_size=2)
        assert (page.total, page.pages, len(names)) == (3, 2, 1)
        names, _ = await titles(w.office, filters=ItemFilters(states=frozenset({"draft"})))
        assert names == ["还是草稿"]
        mine = (await open_items_for(s, w.a1_liaison, calendar=CAL, now=clock.now())).items[0]
        assert mine.my_assignment_id == next(a.id for a in approved.assignments if a.unit_id == w.unit("a1").id)
        assert mine.light.code == "green" and mine.number == "督字〔2026〕1号"


async def test_transfer_reassigns_to_another_unit(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[])
    lead_a = item.assignments[0].id
    async with db.session() as s:
        t = await asg.request_transfer(s, w.lead_liaison, lead_a, reason="该道路属水利局堤顶路。", now=clock.now())
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        new = await asg.approve_transfer(s, w.office, t.id, to_unit_id=w.unit("water").id, calendar=CAL, now=clock.now())
        old = await s.get(Assignment, lead_a)
        assert (old.state, old.transferred_to_id) == ("transferred", new.id)
        assert (new.role, new.state, new.due_date) == ("lead", "assigned", old.due_date)
        assert new.item.state == "assigned"
    msgs = await outbox(db, seen)
    (m,) = to(msgs, w.lead_liaison)
    assert "县水利局" in m.text
    (m,) = to(msgs, w.water_liaison)
    assert "督办通知单" in m.text and data_of(m)[0] == [f"a:ack:{new.id}"]
    async with db.session() as s:
        assert (await open_items_for(s, w.lead_liaison, calendar=CAL, now=clock.now())).total == 0
        assert (await open_items_for(s, w.water_liaison, calendar=CAL, now=clock.now())).total == 1
        # the old unit may still read what it passed on
        assert (await item_detail(s, w.lead_liaison, item.id, calendar=CAL, now=clock.now())).summary.label
    before = await counts(db)
    with pytest.raises(AlreadyHandled):
        async with db.session() as s:
            await asg.approve_transfer(s, w.office, t.id, to_unit_id=w.unit("other").id, calendar=CAL, now=clock.now())
    assert await counts(db) == before


async def test_plan_with_milestones(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    lead_a = next(a.id for a in item.assignments if a.role == "lead")
    async with db.session() as s:
        plan = await asg.submit_plan(s, w.lead_liaison, lead_a, text="分三段施工。", now=clock.now(), milestones=[
            asg.MilestoneIn(date(2026, 3, 13), "东段完工"), asg.MilestoneIn(date(2026, 3, 18), "西段完工")])
        assert [m.title for m in plan.milestones] == ["东段完工", "西段完工"]
        assert (await s.get(Assignment, lead_a)).acknowledged_at == clock.now()  # acting on it acknowledges it
        mid = plan.milestones[0].id
    clock.advance(days=2)
    async with db.session() as s:
        m = await asg.complete_milestone(s, w.lead_liaison, mid, now=clock.now())
        assert m.done_at == clock.now()
    async with db.session() as s:
        kinds = [e.kind for e in (await dossier(s, item.id)).entries]
    assert "plan" in kinds and "milestone" in kinds
