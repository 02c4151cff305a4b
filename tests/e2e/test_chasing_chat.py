"""Issue 12 point 4, chasing without holes, through the chat on a controlled clock: a notice
nobody signs for is chased (the liaison after one working day, the unit head after two); a plan's
milestones get their 节点完成 buttons and their reminders; the office chases an item by hand with
one tap, once a day; and the weekly feedback reminder and its −2 judge the same calendar week."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from test_reminders import approve, at, make_county, mark, new, tick

from bot.domain.workflow import DeadlineSpec
from store.events import ItemEvent
from store.score import ScoreEvent
from store.workflow import Milestone


async def tap_on(person, label: str, message) -> None:
    """Tap ``label`` on ``message``; in a morning message of several parts each button also
    names its item ("1号 签收 …")."""
    (full,) = [b for b in message.buttons if b == label or b.endswith(f" {label}")]
    await person.tap(full, message)


async def test_a_notice_nobody_signs_for_is_chased_then_the_head_is_told(harness):
    h = harness
    c = await make_county(h, ["城关镇", "县水利局"])
    h.clock.set(at(date(2026, 3, 9), 10))  # Monday: a 20-working-day item for two units
    item = await approve(h, c, lead="城关镇", assists=["县水利局"], deadline=DeadlineSpec.working_days(20))
    users = list(c.users.values())
    before = mark(users)
    await tick(h, at(date(2026, 3, 9), 16))
    assert [t for u in users for t in new(u, before) if "未签收" in t] == []  # the notice's own day

    # Tuesday's round: one working day without 签收 → both liaisons, one message each, with 签收.
    await tick(h, at(date(2026, 3, 10), 9))
    for liaison in (c["联络员0"], c["联络员1"]):
        (reminder,) = [t for t in new(liaison, before) if "督办提醒" in t]
        assert "您有1项督办事项未签收" in reminder and "通知单下发已1个工作日，尚未签收" in reminder
    assert [t for t in new(c["负责人0"], before) if "督办提醒" in t] == []
    # 城关镇 signs from the reminder itself.
    await tap_on(c["联络员0"], f"签收 督字〔2026〕{item.number}号", c["联络员0"].newest("未签收"))
    assert "已签收" in c["联络员0"].last_answer

    # Wednesday: two working days → 县水利局's head is told, its liaison reminded again; 城关镇 is left alone.
    before = mark(users)
    await tick(h, at(date(2026, 3, 11), 9))
    (told,) = new(c["负责人1"], before)
    assert "未签收" in told and "通知单下发已2个工作日" in told and "请督促联络员及时签收办理" in told
    assert len([t for t in new(c["联络员1"], before) if "督办提醒" in t]) == 1
    assert [t for t in new(c["联络员0"], before) + new(c["负责人0"], before) if "督办提醒" in t] == []
    # Each step once: Thursday brings nothing more about signing.
    before = mark(users)
    await tick(h, at(date(2026, 3, 12), 9))
    assert [t for u in users for t in new(u, before) if "未签收" in t] == []


async def test_milestones_have_a_done_button_and_reminders(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 3, 9), 10))
    item = await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    liaison = c["联络员0"]
    await liaison.send(f"/item {item.number}")
    await liaison.tap("工作方案")
    await liaison.send("分两段施工。\n2026-03-13 完成现场勘查\n2026-03-20 完成东段施工")
    await liaison.tap("完成")
    assert "工作方案已提交" in liaison.last.text
    # Where the unit sees its item: one 节点完成 per open milestone.
    await liaison.send(f"/item {item.number}")
    card = liaison.last
    assert "节点完成 03-13 完成现场勘查" in card.buttons and "节点完成 03-20 完成东段施工" in card.buttons

    # Tuesday: the survey is 3 working days away → 时间节点即将到期, with its button.
    before = mark([liaison, c["负责人0"]])
    await tick(h, at(date(2026, 3, 10), 9))
    (reminder,) = new(liaison, before)
    assert "时间节点即将到期" in reminder and "节点 2026-03-13 完成现场勘查 · 剩余3个工作日" in reminder
    # Monday after: overdue → the liaison and the head.
    before = mark([liaison, c["负责人0"]])
    await tick(h, at(date(2026, 3, 16), 9))
    assert "完成现场勘查 · 已超期1个工作日" in new(liaison, before)[0]
    assert "请督促按工作方案落实" in new(c["负责人0"], before)[0]
    # The liaison marks it done from the reminder; the button becomes its outcome.
    message = liaison.newest("已超期1个工作日")
    await tap_on(liaison, "节点完成 03-13 完成现场勘查", message)
    assert liaison.last_answer == "已标记该节点完成"
    async with h.db.session() as s:
        done = (await s.scalars(select(Milestone).where(Milestone.done_at.is_not(None)))).all()
    assert [m.title for m in done] == ["完成现场勘查"]
    # Tapped again (a stale button elsewhere): answered gently, nothing changes.
    await liaison.tap("节点完成 03-13 完成现场勘查", card)
    assert "已标记完成" in liaison.last_answer
    # /item offers the open one only; the next round says nothing of the done one.
    await liaison.send(f"/item {item.number}")
    assert "节点完成 03-13 完成现场勘查" not in liaison.last.buttons
    assert "节点完成 03-20 完成东段施工" in liaison.last.buttons
    before = mark([liaison])
    await tick(h, at(date(2026, 3, 17), 9))
    assert all("完成现场勘查" not in t for t in new(liaison, before))
    # Someone else's liaison cannot mark it (a forged tap).
    other = await make_county(h, ["县水利局"])
    async with h.db.session() as s:
        open_id = await s.scalar(select(Milestone.id).where(Milestone.done_at.is_(None)))
    await other["联络员0"].forge_tap(f"m:ok:{open_id}")
    assert other["联络员0"].answers[-1]["show_alert"]


async def test_the_office_chases_an_item_by_hand_once_a_day(harness):
    h = harness
    c = await make_county(h, ["城关镇", "县水利局"])
    h.clock.set(at(date(2026, 3, 9), 10))
    item = await approve(h, c, lead="城关镇", assists=["县水利局"], deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    await c["联络员0"].send(f"/item {item.number}")
    await c["联络员0"].tap("签收")
    office = c["王敏"]
    users = list(c.users.values())

    # Monday afternoon: one tap on the item's card; both units' liaisons hear at once.
    h.clock.set(at(date(2026, 3, 9), 15))
    before = mark(users)
    await office.send(f"/item {item.number}")
    await office.tap("催办")
    assert office.last_answer == "已催办"
    confirmation = office.last.text
    assert "已催办督字〔2026〕1号" in confirmation and "城关镇：联络员0" in confirmation
    assert "县水利局：联络员1" in confirmation
    for liaison in (c["联络员0"], c["联络员1"]):
        (chased,) = new(liaison, before)
        assert "督查室催办" in chased and "王敏" in chased and "城区主干道破损路面修复" in chased
    assert "请先点击“签收”" in new(c["联络员1"], before)[0] and "签收" not in new(c["联络员0"], before)[0]
    async with h.db.session() as s:
        assert len((await s.scalars(select(ItemEvent).where(ItemEvent.kind == "urge"))).all()) == 2
    # The item's trail shows it.
    await office.send(f"/item {item.number}")
    assert "督查室催办" in office.last.text

    # A second tap the same day (李强, from his own card): refused in Chinese, nothing sent.
    before = mark(users)
    await c["李强"].send(f"/item {item.number}")
    await c["李强"].tap("催办")
    assert "今天已催办过" in c["李强"].last_answer and c["李强"].answers[-1]["show_alert"]
    assert new(c["联络员0"], before) == new(c["联络员1"], before) == []

    # Tuesday 09:00: the round reminds 县水利局 (未签收); a tap afterwards leaves it out and says why.
    await tick(h, at(date(2026, 3, 10), 9))
    h.clock.set(at(date(2026, 3, 10), 10))
    before = mark(users)
    await office.send(f"/item {item.number}")
    await office.tap("催办")
    assert "城关镇：联络员0" in office.last.text and "县水利局：今天的催办提醒已发送" in office.last.text
    assert len(new(c["联络员0"], before)) == 1 and new(c["联络员1"], before) == []


async def test_a_tap_after_hours_comes_with_the_next_morning_round(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 3, 9), 10))
    item = await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 12)))
    liaison = c["联络员0"]
    await liaison.send(f"/item {item.number}")
    await liaison.tap("签收")
    h.clock.set(at(date(2026, 3, 9), 20, 30))  # Monday evening
    before = mark([liaison])
    await c["王敏"].send(f"/item {item.number}")
    await c["王敏"].tap("催办")
    assert "非工作时间" in c["王敏"].last.text and "2026-03-10 08:30" in c["王敏"].last.text
    await tick(h, at(date(2026, 3, 10), 7))
    assert new(liaison, before) == []  # nobody is woken up
    # Tuesday 08:30: the round (2 working days left: 即将到期) and the 催办 are one message; the
    # round does not repeat the item the office chased.
    await tick(h, at(date(2026, 3, 10), 8, 30))
    (morning,) = new(liaison, before)
    assert "督查室催办" in morning and "即将到期" not in morning


async def test_weekly_feedback_reminder_and_penalty_use_the_same_week(harness):
    h = harness
    c = await make_county(h, ["城关镇", "县水利局"])
    h.clock.set(at(date(2026, 3, 10), 10))
    item = await approve(h, c, lead="城关镇", assists=["县水利局"], weekly_feedback=True,
                         deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    await tick(h, at(date(2026, 3, 16), 9))  # the week 03-16…03-22 opens; both units reminded
    lead, assist = c["联络员0"], c["联络员1"]
    assert "本周（2026-03-16至2026-03-22）本单位尚未反馈" in lead.newest("每周反馈提醒").text
    # Both report on Friday through the reminder's button.
    h.clock.set(at(date(2026, 3, 20), 16))
    for liaison, text in ((lead, "东段已完成70%。"), (assist, "堤防段已勘查完毕。")):
        await tap_on(liaison, f"反馈进展 督字〔2026〕{item.number}号", liaison.newest("每周反馈提醒"))
        await liaison.send(text)
        await liaison.tap("完成")
    # Monday: the Friday reports count for their week (no −2); the new week's reminder goes to both.
    before = mark([lead, assist])
    await tick(h, at(date(2026, 3, 23), 9))
    async with h.db.session() as s:
        assert (await s.scalars(select(ScoreEvent))).all() == []
    for liaison in (lead, assist):
        assert any("本周（2026-03-23至2026-03-29）本单位尚未反馈" in t for t in new(liaison, before))
    # Only 城关镇 reports this week: 县水利局 was reminded this week and is docked for it, once.
    h.clock.set(at(date(2026, 3, 25), 10))
    await tap_on(lead, f"反馈进展 督字〔2026〕{item.number}号", lead.newest("本周（2026-03-23"))
    await lead.send("西段开工。")
    await lead.tap("完成")
    await tick(h, at(date(2026, 3, 30), 9))
    async with h.db.session() as s:
        (penalty,) = (await s.scalars(select(ScoreEvent))).all()
    assert penalty.points == -2 and "2026-03-23至2026-03-29" in penalty.reason
    assert penalty.unit_id == c.units["县水利局"].id
