"""The score's rules around the whole-year scenario: configured points, refusals that change nothing,
reversals, lateness (who is late, which year, once only) and who may see what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_workflow_support import counts, make_world, register

from bot.kernel.config import ConfigError, ScoreSettings, Settings, load_settings
from bot.runtime.services import Services
from bot.domain import assignments as asg
from bot.domain import review
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.ledger import approve_year, compute_table, view_table, view_unit
from bot.domain.records import issue_bulletin
from bot.domain.score import (
    DEFAULT_RULES,
    add_manual_event,
    pending_deductions,
    record_event,
    reverse_event,
    rules_with_points,
    settle_year,
)
from bot.domain.workflow import AlreadyHandled, DeadlineSpec
from store.models import AuditEntry
from store.score import ScoreEvent

ROOT = Path(__file__).resolve().parents[2]
OFFICE = "固镇县人民政府督查室"
DAYS7 = DeadlineSpec.working_days(7)


def at(y: int, m: int, d: int, hour: int = 2) -> datetime:
    return datetime(y, m, d, hour, tzinfo=UTC)


async def all_events(db) -> list[ScoreEvent]:
    async with db.session() as s:
        return list((await s.scalars(select(ScoreEvent).order_by(ScoreEvent.id))).all())


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def test_points_come_from_the_config_file(tmp_path):
    assert load_settings(ROOT / "config.example.toml", environ={}).score.points == {
        code: rule.points for code, rule in DEFAULT_RULES.items()}
    cfg = tmp_path / "c.toml"
    cfg.write_text('[score.points]\n"late_feedback" = -3\ncriticism.decision = -4\ncommendation = 3\n', encoding="utf-8")
    points = load_settings(cfg, environ={}).score.points
    assert points == {"late_feedback": -3, "criticism.decision": -4, "commendation": 3}
    rules = rules_with_points(points)
    assert (rules["late_feedback"].points, rules["criticism.decision"].points, rules["fraud"].points) == (-3, -4, 0)
    assert load_settings(None, environ={}).score.points == {}


@pytest.mark.parametrize(("content", "expected"), [
    ("[score.points]\nminus_seven = -7\n", "[score.points] 中有未知的键 minus_seven"),
    ("[score.points]\nlate_feedback = 2\n", '[score.points] "late_feedback" 是扣分项，应为负数或 0'),
    ("[score.points]\ncommendation = -5\n", '[score.points] "commendation" 是加分项，应为正数或 0'),
    ("[score.points]\nfraud = 5\n", '[score.points] "fraud" 是扣分项'),
    ("[score.points]\ncriticism.other = -500\n", '[score.points] "criticism.other" 应在 -100–100 之间'),
    ('[score.points]\nlate_feedback = "-2"\n', "[score.points] late_feedback 应为整数，实际为字符串"),
    ("[score.points]\nlate_feedback = -2.5\n", "[score.points] late_feedback 应为整数，实际为小数"),
    ("[score]\npoints = 5\n", "[score.points] 应为表"),
])
def test_bad_points_name_file_and_key(tmp_path, content, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    assert str(info.value).startswith(f"配置错误 {cfg}：") and expected in str(info.value)


async def test_services_hold_the_configured_points_and_the_domain_records_with_them(db, clock):
    settings = replace(Settings(), score=ScoreSettings(points={"late_feedback": -3, "criticism.project": -4,
                                                               "commendation": 6}))
    rules = Services(settings=settings, db=db, clock=clock, sender=None).score_rules
    assert {code: rule.points for code, rule in rules.items() if rule.points != DEFAULT_RULES[code].points} == {
        "late_feedback": -3, "criticism.project": -4, "commendation": 6}
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    cg = w.unit("lead").id
    async with db.session() as s:
        await record_event(s, year=2026, unit_id=cg, rule_code="late_feedback", reason="未反馈", now=clock.now(),
                           item_id=item.id, rules=rules)
        await issue_bulletin(s, w.office, item_id=item.id, unit_id=cg, kind="criticism", rule_code="criticism.project",
                             text="进度落后。", office_name=OFFICE, now=clock.now(), rules=rules)
        await issue_bulletin(s, w.office, item_id=item.id, unit_id=cg, kind="commendation", rule_code=None,
                             text="成效明显。", office_name=OFFICE, now=clock.now(), rules=rules)
        # Nothing global: a caller that passes no rules records the regulation's points.
        await record_event(s, year=2026, unit_id=cg, rule_code="late_feedback", reason="又未反馈", now=clock.now(),
                           item_id=item.id)
    assert [(e.rule, e.points) for e in await all_events(db)] == [
        ("late_feedback", -3), ("criticism.project", -4), ("commendation", 6), ("late_feedback", -2)]


# --------------------------------------------------------------------------------------------
# Manual events and reversals
# --------------------------------------------------------------------------------------------


async def test_bad_manual_events_change_nothing(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    draft = await register(db, w, clock.now(), title="草稿事项")
    cg = w.unit("lead").id
    good = dict(unit_id=cg, rule_code="criticism.other", item_id=item.id, reason="整改不到位", now=clock.now())
    cases = [
        (w.office, dict(good, reason=""), DomainError, "考核理由不能为空"),
        (w.office, dict(good, reason="   "), DomainError, "考核理由不能为空"),
        (w.office, dict(good, item_id=None), DomainError, "必须关联一个督查事项"),
        (w.office, dict(good, rule_code="minus_seven"), DomainError, "不在本县配置的规则内"),
        (w.office, dict(good, unit_id=w.unit("other").id), DomainError, "县财政局未承办督字〔2026〕1号"),
        (w.office, dict(good, item_id=draft.id), DomainError, "尚未审批交办"),
        (w.office, dict(good, year=2027), DomainError, "年度应为 2000–2026"),
        (w.head, good, NotAllowed, "只有督查室工作人员才能增加考核记录"),
        (w.lead_liaison, good, NotAllowed, "只有督查室工作人员"),
    ]
    for person, kwargs, exc, message in cases:
        before = await counts(db)
        with pytest.raises(exc, match=message):
            async with db.session() as s:
                await add_manual_event(s, person, **kwargs)
        assert await counts(db) == before
    assert await all_events(db) == []


async def test_reversals(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    cg = w.unit("lead").id
    async with db.session() as s:
        fraud = await add_manual_event(s, w.office, unit_id=cg, rule_code="fraud", item_id=item.id,
                                       reason="虚报进度", now=clock.now())
        table = await compute_table(s, 2026, date(2026, 3, 10))
        assert table.row(cg).disqualified
    for person, reason, exc, message in ((w.office, "", DomainError, "撤销理由不能为空"),
                                         (w.lead_liaison, "更正", NotAllowed, "只有督查室工作人员")):
        with pytest.raises(exc, match=message):
            async with db.session() as s:
                await reverse_event(s, person, fraud.id, reason=reason, now=clock.now())
    async with db.session() as s:
        undo = await reverse_event(s, w.office, fraud.id, reason="核查有误", now=clock.now())
        assert (undo.points, undo.disqualifies, undo.rule, undo.reverses_id) == (0, False, "fraud", fraud.id)
        table = await compute_table(s, 2026, date(2026, 3, 10))
        assert not table.row(cg).disqualified and table.row(cg).events == 0
    with pytest.raises(DomainError, match="本身是撤销记录"):
        async with db.session() as s:
            await reverse_event(s, w.office, undo.id, reason="再撤", now=clock.now())
    with pytest.raises(AlreadyHandled):
        async with db.session() as s:
            await reverse_event(s, w.office, fraud.id, reason="再撤", now=clock.now())
    with pytest.raises(DomainError, match="找不到第999号"):
        async with db.session() as s:
            await reverse_event(s, w.office, 999, reason="再撤", now=clock.now())
    # the original is untouched
    assert [(e.id, e.points, e.disqualifies) for e in await all_events(db)] == [(fraud.id, 0, True), (undo.id, 0, False)]


# --------------------------------------------------------------------------------------------
# Lateness
# --------------------------------------------------------------------------------------------


async def _finish(db, person, office, assignment_id, now):
    """Report (acknowledging first if needed) and have the office approve the report."""
    async with db.session() as s:
        report = await asg.submit_report(s, person, assignment_id, text="已完成。", now=now)
    async with db.session() as s:
        await review.approve_report(s, office, report.id, now=now)


async def test_who_is_late_is_decided_by_when_the_unit_finished(db, clock):
    """A leader's item, due 03-19: the lead reported on 03-18 (on time) and the leader read it on
    03-27 — not the lead's delay. The assisting unit never reported its part: it finished only when
    the item closed, late. A deployment item closing late costs nothing by itself."""
    clock.set(at(2026, 3, 10))
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, source="leader", importance="normal", deadline=DAYS7,
                          assisting_unit_ids=[w.unit("a1").id])
    plain = await register(db, w, clock.now(), approve=True, importance="normal", deadline=DAYS7,
                           lead_unit_id=w.unit("water").id, assisting_unit_ids=[])
    lead = next(a.id for a in item.assignments if a.role == "lead")
    await _finish(db, w.lead_liaison, w.office, lead, at(2026, 3, 18))
    await _finish(db, w.water_liaison, w.office, plain.assignments[0].id, at(2026, 3, 25))
    clock.set(at(2026, 3, 27))
    async with db.session() as s:
        await review.leader_agree(s, w.leader, item.id, now=clock.now())
        await review.leader_agree(s, w.leader, plain.id, now=clock.now())
    (event,) = await all_events(db)
    assert (event.unit_id, event.rule, event.points, event.year, event.automatic) == (
        w.unit("a1").id, "late.leader_or_superior", -5, 2026, True)
    assert event.item_id == item.id and event.dedupe_key == f"late:{event.assignment_id}"
    assert "督字〔2026〕1号（协办）办结时限2026-03-19，2026-03-27办结，超期" == event.reason
    async with db.session() as s:
        assert await settle_year(s, 2026, at(2027, 1, 5)) == []  # nothing twice
        audited = set((await s.execute(select(AuditEntry.entity, AuditEntry.action).where(
            AuditEntry.entity.in_(("score_events", "items"))))).all())
    # the closing is audited as the leader's, the event as the score's own
    assert ("items", "leader.agree") in audited and {a for e, a in audited if e == "score_events"} == {"score.late_closure"}


async def test_open_items_past_their_deadline_are_pending_then_settled_once(db, clock):
    """An NPC proposal due 12-21 (lead 城关镇, assisting 交通 and 住建): 住建 reported on 12-18 (on
    time, awaiting review), 交通 reported on 12-23 (late), the lead never did. A CPPCC motion due
    in 2027 is not 2026's business."""
    clock.set(at(2026, 12, 10))
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, source="proposal", importance="normal",
                          deadline=DeadlineSpec.on_date(date(2026, 12, 21)))
    await register(db, w, clock.now(), approve=True, source="proposal", importance="normal",
                   deadline=DeadlineSpec.on_date(date(2027, 1, 20)), lead_unit_id=w.unit("water").id,
                   assisting_unit_ids=[])
    ids = {a.unit_id: a.id for a in item.assignments}
    for liaison, unit, day in ((w.a2_liaison, "a2", 18), (w.a1_liaison, "a1", 23)):
        async with db.session() as s:
            await asg.acknowledge(s, liaison, ids[w.unit(unit).id], now=at(2026, 12, day))
            await asg.submit_report(s, liaison, ids[w.unit(unit).id], text="协办部分已完成。", now=at(2026, 12, day))
    async with db.session() as s:
        assert await pending_deductions(s, 2026, date(2026, 12, 21)) == []  # due today: not late yet
        pending = await pending_deductions(s, 2026, date(2026, 12, 28))
    assert [(p.unit_name, p.rule.code, p.rule.points, p.finished) for p in pending] == [
        ("城关镇", "late.npc_cppcc.lead", -2, None), ("县交通运输局", "late.npc_cppcc.assist", -1, date(2026, 12, 23))]

    async with db.session() as s:
        table = await view_table(s, w.office, 2026, now=at(2026, 12, 28))
        assert table.row(w.unit("lead").id).score == 100 and len(table.pending) == 2  # pending: not counted yet
        events = await settle_year(s, 2026, at(2027, 1, 4))
        assert len(events) == 2 and await settle_year(s, 2026, at(2027, 1, 4)) == []
        assert {e.reason for e in events} >= {"督字〔2026〕1号（主办）办结时限2026-12-21，年度结算时仍未办结，超期"}

    # The lead finishes in January: it was already counted (in 2026), not again in 2027.
    async with db.session() as s:
        await approve_year(s, w.head, 2026, now=at(2027, 1, 5))
    await _finish(db, w.lead_liaison, w.office, ids[w.unit("lead").id], at(2027, 1, 6))
    async with db.session() as s:
        await review.leader_agree(s, w.leader, item.id, now=at(2027, 1, 7))
        n = await s.scalar(select(func.count()).select_from(ScoreEvent))
        years = set((await s.scalars(select(ScoreEvent.year))).all())
    assert n == 2 and years == {2026}


async def test_a_late_closure_after_its_year_was_approved_counts_in_the_current_year(db, clock):
    """城关镇 reported on time (awaiting review) when 2026 was approved, so nothing was settled for it;
    the office then returned the report and it finished late in 2027: counted in 2027."""
    clock.set(at(2026, 12, 10))
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, source="superior", importance="normal",
                          deadline=DeadlineSpec.on_date(date(2026, 12, 21)), assisting_unit_ids=[])
    lead = item.assignments[0].id
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, lead, now=at(2026, 12, 18))
        report = await asg.submit_report(s, w.lead_liaison, lead, text="已完成。", now=at(2026, 12, 18))
    async with db.session() as s:
        await approve_year(s, w.head, 2026, now=at(2027, 1, 5))
    async with db.session() as s:
        await review.return_report(s, w.office, report.id, reason="材料不全", now=at(2027, 1, 6))
    await _finish(db, w.lead_liaison, w.office, lead, at(2027, 1, 8))
    async with db.session() as s:
        await review.leader_agree(s, w.leader, item.id, now=at(2027, 1, 9))
    (event,) = await all_events(db)
    assert (event.year, event.rule, event.points) == (2027, "late.leader_or_superior", -5)


# --------------------------------------------------------------------------------------------
# Who sees what
# --------------------------------------------------------------------------------------------


async def test_who_may_see_the_table(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    async with db.session() as s:
        await issue_bulletin(s, w.office, item_id=item.id, unit_id=w.unit("a1").id, kind="commendation",
                             rule_code=None, text="好。", office_name=OFFICE, now=clock.now())
    async with db.session() as s:
        for person in (w.office, w.head, w.leader):
            table = await view_table(s, person, 2026, now=clock.now())
            assert len(table.rows) == 5 and table.units == 5
        mine = await view_table(s, w.a2_liaison, 2026, now=clock.now())
        # 交通 105; 财政 and 水利 handled nothing: the average 101.67; then 城关镇 and 住建 at 100
        assert [r.unit for r in mine.rows] == ["县住建局"] and mine.units == 5 and mine.rows[0].rank == 4
        head = await view_table(s, w.a2_head, 2026, now=clock.now())
        assert [r.unit for r in head.rows] == ["县住建局"]
        v = await view_unit(s, w.a1_liaison, 2026, w.unit("a1").id, now=clock.now())
        assert v.row.score == 105 and [e.rule for e in v.events] == ["commendation"]
        for person, unit, message in ((w.a2_liaison, "a1", "只能查看本单位"), (w.nobody, "a1", "没有查看考核结果的权限")):
            with pytest.raises(NotAllowed, match=message):
                await view_unit(s, person, 2026, w.unit(unit).id, now=clock.now())
        with pytest.raises(DomainError, match="年度应为"):
            await view_table(s, w.office, 2031, now=clock.now())
