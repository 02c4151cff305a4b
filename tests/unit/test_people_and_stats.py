"""The domain of issue 12 points 3 and 8: people who come and go (bot.domain.people, the briefing,
a full directory import), finding items (bot.domain.search) and the statistics (bot.domain.stats)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_workflow_support import CAL, PEOPLE, UNITS, make_world, outbox, register

from bot.domain import assignments, people, review
from bot.domain.directory import person_by_telegram_id
from bot.domain.directory_import import run_import
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.onboarding import create_invitation, redeem
from bot.domain.search import clean_keyword, find_items
from bot.domain.stats import fit, table_lines, width, year_stats
from bot.domain.workflow import local_date
from bot.outbox.queue import enqueue
from store.models import AuditEntry, Invitation, Person
from store.workflow import Assignment, CompletionReport

# --- people -------------------------------------------------------------------------------------


async def test_deactivate_cancels_queued_messages_revokes_links_unbinds_and_tells_them(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    async with db.session() as s:
        await enqueue(s, w.lead_liaison, "一条还没发出的提醒", now=now)
        await create_invitation(s, role="liaison", name=w.lead_liaison.name, unit_name="城关镇", created_by=w.office,
                                now=now, ttl_days=7)
    async with db.session() as s:
        out = await people.deactivate(s, w.office, w.lead_liaison.id, now=now)
    assert out.chat_id == w.lead_liaison.telegram_id and not out.person.active
    assert out.warning == "城关镇现在没有联络员，请尽快邀请或指定新的联络员（/people 城关镇）"
    async with db.session() as s:
        assert await person_by_telegram_id(s, w.lead_liaison.telegram_id) is None  # the look-up by account
        row = await s.get(Person, w.lead_liaison.id)
        assert not row.active and row.telegram_id is None and row.roles == {"liaison"}  # roles kept
        invitation = await s.scalar(select(Invitation))
        assert invitation.expires_at <= now
        audit = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "person.deactivate"))).all()
        assert {a.entity for a in audit} == {"people", "invitations"} and all(a.actor_id == w.office.id for a in audit)
    rows = await outbox(db)
    assert [(r.text, r.status) for r in rows][0] == ("一条还没发出的提醒", "cancelled")
    assert rows[-1].status == "pending" and rows[-1].chat_id == out.chat_id and "已停用您在督办助手的账号" in rows[-1].text


async def test_only_the_office_manages_people_and_not_themselves(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    for who in (w.lead_liaison, w.leader, w.nobody):
        async with db.session() as s:
            with pytest.raises(NotAllowed):
                await people.deactivate(s, who, w.a1_liaison.id, now=now)
    async with db.session() as s:
        with pytest.raises(DomainError, match="不能停用自己的账号"):
            await people.deactivate(s, w.office, w.office.id, now=now)
    async with db.session() as s:
        with pytest.raises(DomainError, match="找不到该人员"):
            await people.person_card(s, w.office, 987654)
    async with db.session() as s:
        await people.add_role(s, w.office, w.office.id, "leader", now=now)
    async with db.session() as s:
        with pytest.raises(DomainError, match="不能取消自己的督查室角色"):
            await people.remove_role(s, w.office, w.office.id, "office", now=now)


async def test_roles_must_fit_the_person_and_the_last_role_is_not_removed(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    for person, role, message in (
        (w.lead_liaison, "leader", "属于城关镇，县领导不属于承办单位"),
        (w.leader, "liaison", "不属于任何单位，不能担任联络员"),
        (w.lead_liaison, "liaison", "已经是联络员，无需重复操作"),
        (w.lead_liaison, "boss", "未知的角色"),
    ):
        async with db.session() as s:
            with pytest.raises(DomainError, match=message):
                await people.add_role(s, w.office, person.id, role, now=now)
    async with db.session() as s:
        with pytest.raises(DomainError, match="唯一的角色"):
            await people.remove_role(s, w.office, w.lead_liaison.id, "liaison", now=now)
    async with db.session() as s:
        with pytest.raises(DomainError, match="不是单位负责人"):
            await people.remove_role(s, w.office, w.lead_liaison.id, "unit_head", now=now)


async def test_hand_over_moves_the_role_and_briefs_the_new_liaison_once(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    item = await register(db, w, now, approve=True)
    mark = (await outbox(db))[-1].id
    async with db.session() as s:
        out = await people.hand_over(s, w.office, w.lead_liaison.id, w.lead_head.id, now=now)
    assert out.briefed == 1 and not out.person.active  # no role left: the old liaison has left
    sent = [m for m in await outbox(db) if m.id > mark]
    to_new = [m for m in sent if m.person_id == w.lead_head.id]
    assert len(to_new) == 1 and "您已接任<b>城关镇</b>的联络员" in to_new[0].text and "城区主干道破损路面修复" in to_new[0].text
    assert to_new[0].buttons == [[{"text": "查看 督字〔2026〕1号", "data": f"i:v:{item.id}"}]]
    async with db.session() as s:
        head = await s.get(Person, w.lead_head.id)
        assert head.roles == {"liaison", "unit_head"}
        a = await s.scalar(select(Assignment).where(Assignment.item_id == item.id, Assignment.role == "lead"))
        await assignments.acknowledge(s, head, a.id, now=now)  # acts for the unit at once
    async with db.session() as s:
        with pytest.raises(NotAllowed):
            a = await s.scalar(select(Assignment).where(Assignment.item_id == item.id, Assignment.role == "lead"))
            await assignments.add_progress(s, w.lead_liaison, a.id, text="还在办", now=now)
    async with db.session() as s:
        for from_, to, message in ((w.a1_liaison, w.lead_head, "只能移交给本单位人员"),
                                   (w.lead_head, w.lead_head, "不能移交给本人"),
                                   (w.a2_head, w.a2_liaison, "不是联络员")):
            with pytest.raises(DomainError, match=message):
                await people.hand_over(s, w.office, from_.id, to.id, now=now)


async def test_change_unit_moves_the_roles_and_refuses_a_name_clash(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    await register(db, w, now, approve=True, lead_unit_id=w.unit("water").id, assisting_unit_ids=[])
    async with db.session() as s:
        out = await people.change_unit(s, w.office, w.lead_head.id, w.unit("water").id, now=now)
    assert out.person.unit_name == "县水利局" and out.briefed == 0  # a unit head: told, not briefed
    async with db.session() as s:
        out = await people.change_unit(s, w.office, w.other_liaison.id, w.unit("water").id, now=now)
    assert out.briefed == 1
    async with db.session() as s:
        s.add(Person(name="陈联络", unit_id=w.unit("a1").id, created_at=now))
    async with db.session() as s:
        with pytest.raises(DomainError, match="县交通运输局已有一位陈联络"):
            await people.change_unit(s, w.office, w.lead_liaison.id, w.unit("a1").id, now=now)
        with pytest.raises(DomainError, match="不属于承办单位"):
            await people.change_unit(s, w.office, w.leader.id, w.unit("a1").id, now=now)
        with pytest.raises(DomainError, match="已经在城关镇"):
            await people.change_unit(s, w.office, w.lead_liaison.id, w.unit("lead").id, now=now)


async def test_find_people_by_name_or_unit(db, clock):
    w = await make_world(db, clock.now())
    async with db.session() as s:
        assert [c.name for c in await people.find_people(s, w.office, "城关镇")] == ["郑镇长", "陈联络"]
        found = await people.find_people(s, w.office, "联络")
        assert {c.name for c in found} >= {"陈联络", "周联络", "孙联络"} and len(found) <= people.MAX_FOUND
        with pytest.raises(DomainError, match="请输入要查找的姓名或单位"):
            await people.find_people(s, w.office, " \x00 ")
        with pytest.raises(DomainError, match="太长"):
            await people.find_people(s, w.office, "长" * 31)
        assert await people.find_people(s, w.office, "%") == []  # LIKE wildcards are plain text


async def test_a_redeemed_liaison_invitation_briefs_only_a_new_liaison(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    await register(db, w, now, approve=True)
    async with db.session() as s:
        inv = await create_invitation(s, role="liaison", name="新联络", unit_name="城关镇", created_by=w.office,
                                      now=now, ttl_days=7)
        again = await create_invitation(s, role="liaison", name=w.lead_liaison.name, unit_name="城关镇",
                                        created_by=w.office, now=now, ttl_days=7)
    mark = (await outbox(db))[-1].id
    async with db.session() as s:
        await redeem(s, inv.code, 555, now)
        await redeem(s, again.code, 556, now)  # the same liaison on a new phone: no second briefing
    briefs = [m for m in await outbox(db) if m.id > mark]
    assert len(briefs) == 1 and "城关镇在办督查事项</b>：共1件" in briefs[0].text and briefs[0].chat_id == 555


# --- a full directory import --------------------------------------------------------------------


async def _full(db, path, confirm, keep=()):
    out, err = io.StringIO(), io.StringIO()
    code = await run_import(db, "people", path, out, err, full=True, confirm=confirm, keep_telegram_ids=keep)
    return code, out.getvalue(), err.getvalue()


async def test_full_import_lists_the_missing_and_marks_them_only_when_confirmed(db, clock, tmp_path):
    now = clock.now()
    w = await make_world(db, now)
    lines = ["姓名,单位,角色"] + [f"{name},{UNITS[unit] if unit else ''},{'、'.join(roles)}"
                                 for key, name, unit, roles in PEOPLE
                                 if roles and key not in ("lead_liaison", "a1_liaison", "office2")]
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines), encoding="utf-8")

    code, out, err = await _full(db, path, None)
    assert code == 2 and "以下4人不在本次完整名单中" in out and "加 --yes 重新运行" in err
    assert "  陈联络（城关镇，联络员）" in out and "  周联络（县交通运输局，联络员）" in out and "  刘督查（督查室工作人员）" in out
    assert "  路人甲（无角色）" in out  # no role, not in the file: listed too
    code, out, _ = await _full(db, path, lambda: False)
    assert code == 1 and "已取消，未导入任何数据" in out
    async with db.session() as s:
        assert (await s.get(Person, w.lead_liaison.id)).active

    code, out, err = await _full(db, path, lambda: True, keep=[w.office2.telegram_id])  # a configured admin stays
    assert code == 0, err
    assert "以下3人" in out and "刘督查" not in out and "标记离岗 3" in out
    async with db.session() as s:
        assert not (await s.get(Person, w.lead_liaison.id)).active and (await s.get(Person, w.office2.id)).active
        audit = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "people")
                                 .where(AuditEntry.action == "person.leave_import"))).all()
        assert len(audit) == 3
    notices = [m for m in await outbox(db) if m.person_id == w.lead_liaison.id]
    assert "您已不在名单中" in notices[-1].text
    code, out, _ = await _full(db, path, lambda: pytest.fail("nothing to confirm"), keep=[w.office2.telegram_id])
    assert code == 0 and "不在本次完整名单中" not in out  # the second run finds nobody missing


async def test_full_import_refuses_units_and_a_list_that_changed_while_confirming(db, clock, tmp_path):
    now = clock.now()
    w = await make_world(db, now)
    path = tmp_path / "people.csv"
    path.write_text("姓名,单位,角色\n王督查,,督查室工作人员\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert await run_import(db, "units", path, out, err, full=True) == 2 and "只适用于人员名单" in err.getvalue()

    from bot.domain.directory_import import import_people, read_rows
    from store.audit import Actor

    rows = read_rows(path)
    async with db.session(Actor.system("import"), "people.import") as s:
        first = await import_people(s, rows, now, full=True)
        assert "陈联络（城关镇，联络员）" in first.leaving and first.left == 0  # listed, not marked
        await s.rollback()
    async with db.session() as s:  # someone leaves (or arrives) while the office reads the list
        await people.deactivate(s, w.office, w.lead_liaison.id, now=now)
    async with db.session(Actor.system("import"), "people.import") as s:
        second = await import_people(s, rows, now, full=True, confirmed=first.leaving)
        await s.rollback()
    assert second.errors == ["名单在确认期间发生了变化，请重新运行并核对要标记离岗的人员"] and second.left == 0


# --- finding items -------------------------------------------------------------------------------


async def test_find_by_title_number_and_unit_within_what_the_person_may_see(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    road = await register(db, w, now, approve=True)
    secret = await register(db, w, now, approve=True, title="某涉密工程", confidential=True, assisting_unit_ids=[])
    water = await register(db, w, now, approve=True, title="水库除险加固", lead_unit_id=w.unit("water").id,
                           assisting_unit_ids=[])
    draft = await register(db, w, now, title="草稿事项")

    async def ids(person, keyword):
        async with db.session() as s:
            return {i.id for i in (await find_items(s, person, keyword, calendar=CAL, now=now)).items}

    assert await ids(w.office, "路面") == {road.id}
    assert await ids(w.office, "涉密") == set()  # never by a confidential title
    assert await ids(w.office, "城关镇") == {road.id, secret.id}
    assert await ids(w.office, "2") == {secret.id} and await ids(w.office, "督字〔2026〕3号") == {water.id}
    assert await ids(w.office, "2026-1") == {road.id} and await ids(w.office, f"登记号{draft.id}") == {draft.id}
    assert await ids(w.office, "城关镇 路面") == {road.id}  # every word must match
    assert await ids(w.lead_liaison, "水库") == set() and await ids(w.lead_liaison, "3") == set()
    assert await ids(w.water_liaison, "水利") == {water.id}
    assert await ids(w.leader, "草稿") == set()  # not the leader's until approved
    assert await ids(w.nobody, "路面") == set()
    async with db.session() as s:
        page = await find_items(s, w.office, "事项", page=9, page_size=1, calendar=CAL, now=now)
    assert page.page == page.pages == 1 and page.total == 1  # a page past the end shows the last


def test_keywords():
    assert clean_keyword("  城关镇\t 路面 ") == "城关镇 路面"
    for bad, message in (("", "请在 /find 后写上关键词"), ("\x00\x01", "请在 /find 后写上关键词"),
                         ("长" * 17, "最多16个字")):
        with pytest.raises(DomainError, match=message):
            clean_keyword(bad)


# --- statistics ----------------------------------------------------------------------------------


async def _finish(db, w, item, now, *, at):
    """The lead unit reports at ``at``; the office approves, the leader agrees."""
    async with db.session() as s:
        a = await s.scalar(select(Assignment).where(Assignment.item_id == item.id, Assignment.role == "lead"))
        liaison = w.lead_liaison if a.unit_id == w.unit("lead").id else w.water_liaison
        await assignments.acknowledge(s, liaison, a.id, now=now)
        await assignments.submit_report(s, liaison, a.id, text="已完成", now=at)
        report = await s.scalar(select(CompletionReport.id).where(CompletionReport.assignment_id == a.id))
        await review.approve_report(s, w.office, report, now=at)
        await review.leader_agree(s, w.leader, item.id, now=at)


async def test_year_stats_by_unit_leader_and_source(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    on_time = await register(db, w, now, approve=True, deadline=None, assisting_unit_ids=[])
    late = await register(db, w, now, approve=True, lead_unit_id=w.unit("water").id, assisting_unit_ids=[],
                          source="proposal", leader_ids=[w.leader.id, w.leader2.id])
    await register(db, w, now, approve=True, assisting_unit_ids=[w.unit("a1").id])
    await register(db, w, now, title="草稿不计")
    await _finish(db, w, on_time, now, at=now + timedelta(days=1))
    await _finish(db, w, late, now, at=now + timedelta(days=30))
    today = local_date(now + timedelta(days=40))
    async with db.session() as s:
        stats = await year_stats(s, 2026, today)
    units = {r.name: (r.total, r.done, r.on_time, r.late_done, r.overdue_open) for r in stats.by_unit}
    assert units == {"城关镇": (2, 1, 1, 0, 1), "县水利局": (1, 1, 0, 1, 0), "县交通运输局": (1, 0, 0, 0, 1)}
    assert [r.name for r in stats.by_unit][-1] == "县水利局"  # the overdue first
    leaders = {r.name: (r.total, r.done, r.on_time, r.overdue_open) for r in stats.by_leader}
    assert leaders == {"赵县长": (3, 2, 1, 1), "钱副县长": (1, 1, 0, 0)}
    sources = {r.name: (r.total, r.done, r.rate) for r in stats.by_source}
    assert sources == {"县政府重要工作部署": (2, 1, 1.0), "人大代表建议、政协委员提案": (1, 1, 0.0)}
    assert (stats.items.total, stats.items.done, stats.items.on_time, stats.items.overdue_open) == (3, 2, 1, 1)
    assert stats.items.rate_text == "50%"
    async with db.session() as s:
        empty = await year_stats(s, 2025, today)
        with pytest.raises(DomainError, match="年度「1999」不对"):
            await year_stats(s, 1999, today)
    assert empty.by_unit == [] and empty.items.total == 0 and empty.items.rate_text == "—"


def test_the_chat_table_is_fixed_width_with_cjk_names():
    from bot.domain.stats import StatRow

    assert width("城关镇ab") == 8 and fit("县经济开发区管委会", 14) == "县经济开发区… " and width(fit("abc", 14)) == 14
    lines = table_lines([StatRow("城关镇", 2, 1, 1, 0, 1), StatRow("县住房和城乡建设局", 10, 0, 0, 0, 0)], "承办单位")
    assert lines[1] == "城关镇            2    1   100%    1"
    assert lines[2] == "县住房和城乡…    10    0      —    0"
    assert len({width(line) for line in lines}) == 1


async def test_nothing_is_queued_for_a_person_who_left(db, clock):
    """Whatever still names them (an item's follower, its registrant, an old list) sends nothing."""
    now = clock.now()
    w = await make_world(db, now)
    async with db.session() as s:
        await people.deactivate(s, w.office, w.office2.id, now=now)
    async with db.session() as s:
        row = await enqueue(s, await s.get(Person, w.office2.id), "事项已办结", now=now)
    assert row.status == "cancelled" and row.chat_id is None


async def test_reinvite_revokes_older_links_and_tells_a_bound_person(db, clock):
    now = clock.now()
    w = await make_world(db, now)
    async with db.session() as s:
        first = await people.reinvite(s, w.office, w.lead_liaison.id, "liaison", now=now, ttl_days=7)
    async with db.session() as s:
        second = await people.reinvite(s, w.office, w.lead_liaison.id, "liaison", now=now, ttl_days=7)
    async with db.session() as s:
        with pytest.raises(DomainError, match="过期"):
            await redeem(s, first.code, 777, now)
    async with db.session() as s:
        assert (await redeem(s, second.code, 777, now)).id == w.lead_liaison.id
    told = [m for m in await outbox(db) if m.person_id == w.lead_liaison.id]
    assert len(told) == 2 and "督查室为您生成了新的邀请链接（角色「联络员」）" in told[0].text
    async with db.session() as s:
        with pytest.raises(DomainError, match="不属于任何单位，不能担任联络员"):
            await people.reinvite(s, w.office, w.leader.id, "liaison", now=now, ttl_days=7)


async def test_on_time_is_decided_on_the_offices_calendar_day(db, clock):
    """A report at 23:59 Beijing time on the deadline is on time; one at 00:00 the next day is late."""
    from datetime import UTC, datetime

    now = clock.now()
    w = await make_world(db, now)
    on_day = await register(db, w, now, approve=True, assisting_unit_ids=[])
    next_day = await register(db, w, now, approve=True, assisting_unit_ids=[], title="第二件")
    async with db.session() as s:
        due = await s.scalar(select(Assignment.due_date).where(Assignment.item_id == on_day.id))
    end = datetime(due.year, due.month, due.day, 16, 0, tzinfo=UTC)  # 00:00 the next day in Beijing
    await _finish(db, w, on_day, now, at=end - timedelta(minutes=1))
    await _finish(db, w, next_day, now, at=end)
    async with db.session() as s:
        stats = await year_stats(s, 2026, local_date(end))
    row = next(r for r in stats.by_unit if r.name == "城关镇")
    assert (row.done, row.on_time, row.late_done) == (2, 1, 1)
    assert (stats.items.done, stats.items.on_time, stats.items.late_done) == (2, 1, 1)
