"""The daily digest: what a leader and the office read each working morning — one message each (the
chart with the text as its caption, or the text with a 查看图表 button), never before work_start,
equal charts drawn once, every recipient built from one set of queries."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import event, select
from test_urging import SETTINGS, at
from test_workflow_support import CAL, make_world, outbox, register, to

from bot.documents import chart as digest_chart
from bot.kernel.config import DigestSettings, StorageSettings
from bot.domain import assignments as asg
from bot.domain import review
from bot.domain.digest import (
    CAPTION_LIMIT,
    CHART_BUTTON,
    TEXT_LIMIT,
    Digest,
    Line,
    UnitGroup,
    build_digest,
    compose,
    fitted,
    plain_len,
    render_digest,
)
from bot.domain.workflow import DeadlineSpec
from bot.documents.chart import chart_files
from bot.runtime.sweeps import run_digest as digest_sweep  # the sweep as the clock runs it: charts drawn
from store.models import Person
from store.urging import Reminder

PNG = b"\x89PNG\r\n\x1a\n"
MORNING = at(date(2026, 3, 24), 8, 30)  # Tuesday, work_start


def settings_in(tmp_path: Path, **digest):
    return dataclasses.replace(SETTINGS, storage=StorageSettings(files_dir=str(tmp_path / "files")),
                               digest=DigestSettings(**digest))


def buttons_of(m) -> list[str]:
    return [b["data"] for row in (m.buttons or []) for b in row]


async def county(db, clock):
    """Items in the states a digest talks about, as of Tue 03-24 08:30."""
    w = await make_world(db, clock.now())
    # 1: leader's, approved 03-10, due 03-19 → overdue 3 working days on 03-24 (escalated).
    one = await register(db, w, clock.now(), approve=True)
    # 2: leader2's, confidential, due 03-25 → due soon.
    two = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], leader_ids=[w.leader2.id],
                         title="涉密的事项名称", confidential=True, deadline=DeadlineSpec.on_date(date(2026, 3, 25)))
    # 3: leader's, reported and approved by the office: waits for the leader (审阅).
    three = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="农贸市场改造",
                           lead_unit_id=w.unit("water").id)
    a3 = three.assignments[0].id
    async with db.session() as s:
        r = await asg.submit_report(s, w.water_liaison, a3, text="已完成。", now=clock.now())
        await review.approve_report(s, w.office, r.id, now=clock.now())
    # 4: leader's, closed on Monday 03-23 10:00 (completed since the previous digest).
    four = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="背街小巷照明",
                          lead_unit_id=w.unit("other").id)
    async with db.session() as s:
        r = await asg.submit_report(s, w.other_liaison, four.assignments[0].id, text="路灯已全部安装。",
                                    now=clock.now())
        await review.approve_report(s, w.office, r.id, now=clock.now())
        await review.leader_agree(s, w.leader, four.id, now=at(date(2026, 3, 23), 10))
    # 5: approved on Monday 03-23 (new); its assisting unit's report waits for the office.
    five = await register(db, w, at(date(2026, 3, 23), 10), approve=True, title="老旧小区加装电梯",
                          assisting_unit_ids=[w.unit("a1").id])
    async with db.session() as s:
        a = next(x for x in five.assignments if x.role == "assist")
        await asg.submit_report(s, w.a1_liaison, a.id, text="协办部分已完成。", now=at(date(2026, 3, 23), 11))
    # 6: waits for the office head's approval.
    await register(db, w, clock.now(), submit=True, title="待审批的事项")
    return w, (one, two, three, four, five)


async def test_the_morning_digest_is_one_message_per_person_with_its_chart(db, clock, tmp_path):
    settings = settings_in(tmp_path)
    w, (one, two, three, four, five) = await county(db, clock)
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        result = await digest_sweep(s, CAL, MORNING, settings)
    msgs = await outbox(db, seen)
    got = {p: to(msgs, getattr(w, p)) for p in ("leader", "leader2", "office", "office2", "head")}
    assert all(len(m) == 1 for m in got.values()) and len(msgs) == 5 == result.messages
    (lt,), (l2,), (ot,), (o2,), (ht,) = got.values()

    assert "每日督办摘要" in lt.text and "2026-03-24" in lt.text
    assert "超期3个工作日以上，请您督促" in lt.text and "城区主干道破损路面修复" in lt.text
    assert "待您审阅的办理结果" in lt.text and "农贸市场改造" in lt.text
    assert "已办结（1）" in lt.text and "背街小巷照明" in lt.text
    assert "新立项（1）" in lt.text and "老旧小区加装电梯" in lt.text
    assert "涉密" not in lt.text  # item 2 is leader2's, not theirs
    assert "督字〔2026〕2号" in l2.text and "涉密的事项名称" not in l2.text and "3个工作日内到期（1）" in l2.text
    assert "全县" in ot.text and "超期事项（按单位" in ot.text and "城关镇" in ot.text
    assert "待审核的办结报告（1）" in ot.text and "县交通运输局" in ot.text
    assert "涉密的事项名称" not in ot.text and "督字〔2026〕2号" in ot.text
    assert "待您审批的立项" not in ot.text
    assert "待您审批的立项（1）" in ht.text and "待审批的事项" in ht.text

    # The chart is in the message: the photo itself when the text fits a caption, else a button.
    for m in msgs:
        if m.kind == "photo":
            assert plain_len(m.text) <= CAPTION_LIMIT and Path(m.file_path).read_bytes()[:8] == PNG
            assert CHART_BUTTON not in buttons_of(m)
        else:
            assert m.kind == "text" and plain_len(m.text) > CAPTION_LIMIT and CHART_BUTTON in buttons_of(m)
    assert l2.kind == "photo"  # a short digest: the chart with the text under it
    # One chart per leader, one shared by the office staff and head: three drawn.
    files = sorted((tmp_path / "files" / "digest" / "2026-03-24").iterdir())
    assert result.extra["charts"] == len(files) == 3 and all(f.read_bytes()[:8] == PNG for f in files)
    office_photos = {m.file_path for m in (ot, o2, ht) if m.kind == "photo"}
    assert len(office_photos) <= 1
    # Buttons open the items (查看详情).
    assert f"i:v:{one.id}" in buttons_of(lt)

    # The leader rung of the ladder is recorded, pointing at the one message.
    async with db.session() as s:
        rungs = (await s.scalars(select(Reminder).where(Reminder.level == "overdue_leader"))).all()
    assert {(r.person_id, r.round_date) for r in rungs} == {(w.leader.id, date(2026, 3, 24))}
    assert len(rungs) == 3 and all(r.outbox_id == lt.id for r in rungs)  # the item's three units

    # Idempotent; and a weekend or an evening sends nothing.
    async with db.session() as s:
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 24), 9), settings)).messages == 0
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 28), 8, 30), settings)).messages == 0
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 25), 19), settings)).messages == 0
    assert {two.id, three.id, four.id, five.id} == {2, 3, 4, 5}


async def test_the_digest_is_not_sent_before_work_start(db, clock, tmp_path):
    # Settings built in code may say 07:00 (the config file clamps it): still not before 08:30.
    settings = settings_in(tmp_path, time=time(7, 0))
    await county(db, clock)
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        for hh, mm in ((7, 0), (8, 0), (8, 29)):
            result = await digest_sweep(s, CAL, at(date(2026, 3, 24), hh, mm), settings)
            assert result.messages == 0 and result.extra["skipped"] == "outside digest hours"
    assert await outbox(db, seen) == []
    async with db.session() as s:
        assert (await digest_sweep(s, CAL, MORNING, settings)).messages == 5


async def test_leaders_with_the_same_picture_share_one_chart_file(db, clock, tmp_path):
    settings = settings_in(tmp_path)
    w = await make_world(db, clock.now())
    for title in ("甲事项", "乙事项"):  # both leaders answer for both items: the same chart
        await register(db, w, clock.now(), approve=True, title=title, leader_ids=[w.leader.id, w.leader2.id])
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        result = await digest_sweep(s, CAL, MORNING, settings)
    msgs = await outbox(db, seen)
    assert result.extra["charts"] == 2  # the leaders' one, the office's one
    async with db.session() as s:
        people = [await s.get(Person, getattr(w, p).id) for p in ("leader", "leader2", "office", "head")]
        digests = [await build_digest(s, p, CAL, MORNING, settings) for p in people]
    paths = await chart_files(settings, digests)
    assert paths[w.leader.id] == paths[w.leader2.id] != paths[w.office.id] == paths[w.head.id]
    photos = {m.person_id: m.file_path for m in msgs if m.kind == "photo"}
    assert photos[w.leader.id] == photos[w.leader2.id] == str(paths[w.leader.id])


async def test_one_set_of_queries_serves_every_recipient(db, clock, tmp_path):
    """Statements do not grow with the recipients, beyond the one message each is queued with."""
    settings = settings_in(tmp_path)
    w, _ = await county(db, clock)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as s:
            result = await digest_sweep(s, CAL, MORNING, settings)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    # The dedupe check's parameter is "?" on SQLite and "$1::VARCHAR" on PostgreSQL.
    per_message = [x for x in statements if x.startswith("INSERT INTO outbox") or "outbox.dedupe_key = " in x]
    shared = [x for x in statements if x not in per_message]
    assert result.messages == 5 and len(per_message) == 2 * result.messages  # each: its dedupe check, its insert
    # recipients (3), what was sent today (1), the snapshot (10, with 昨日进展), the leader rungs (1)
    assert len(shared) <= 15, "\n".join(x.replace("\n", " ")[:100] for x in shared)


async def test_nothing_worth_saying_sends_nothing_but_on_demand_answers(db, clock, tmp_path):
    settings = settings_in(tmp_path)
    w = await make_world(db, clock.now())
    await register(db, w, at(date(2026, 3, 5)), approve=True, deadline=DeadlineSpec.on_date(date(2026, 6, 30)))
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 11), 8, 30), settings)).messages == 0
    assert await outbox(db, seen) == []
    async with db.session() as s:
        d = await build_digest(s, await s.get(Person, w.leader.id), CAL, at(date(2026, 3, 11), 8), settings)
        assert d.empty and d.open_counts == {"green": 3, "yellow": 0, "red": 0}
        assert "今日没有需要特别关注的事项" in render_digest(d)
        assert await build_digest(s, await s.get(Person, w.lead_liaison.id), CAL, at(date(2026, 3, 11), 8),
                                  settings) is None


def _big_digest() -> Digest:
    lines = [Line(i, f"督字〔2026〕{i}号", "很长很长的督查事项名称" * 4, "城关镇", "主办", "2026-03-01",
                  f"已超期{i}个工作日") for i in range(1, 400)]
    d = Digest(1, "王督查", "office", date(2026, 3, 24), at(date(2026, 3, 23), 8), {"green": 1, "yellow": 60, "red": 399})
    d.overdue = [UnitGroup(f"单位{i}", 30, lines[i * 30:(i + 1) * 30]) for i in range(13)]
    d.overdue_count = 399
    d.due_soon, d.due_soon_count = lines[:60], 60
    d.new_items, d.new_count = lines[:40], 40
    d.completed, d.completed_count = lines[:40], 40
    return d


def test_a_long_digest_is_one_message_under_4096_with_its_counts_whole():
    shown, text = fitted(_big_digest())
    assert plain_len(text) <= TEXT_LIMIT and text.startswith("📋") and text.count("<b>") == text.count("</b>")
    assert "3个工作日内到期（60）" in text and "新立项（40）" in text and "已办结（40）" in text
    assert "超期事项（按单位，共399）" in text and "……另有" in text
    assert len(shown.due_soon) < 60  # shortened to fit
    # Too long for a caption: the text goes with a 查看图表 button instead of the photo.
    message = compose(shown, text, Path("/charts/x.png"))
    assert message.photo is None and message.buttons[0][0].data == CHART_BUTTON
    assert compose(shown, text, None).buttons[0][0].data != CHART_BUTTON  # no chart: no button


def test_a_short_digest_is_the_chart_with_the_text_as_its_caption():
    d = Digest(1, "赵县长", "leader", date(2026, 3, 24), at(date(2026, 3, 23), 8, 30), {"green": 2, "yellow": 1, "red": 0})
    d.due_soon, d.due_soon_count = [Line(7, "督字〔2026〕7号", "&<>标题", "城关镇", "主办", "2026-03-26", "剩余2个工作日")], 1
    shown, text = fitted(d)
    assert "&amp;&lt;&gt;标题" in text  # escaped: counted by Telegram as the 3 characters they stand for
    message = compose(shown, text, Path("/charts/x.png"))
    assert message.photo == Path("/charts/x.png") and message.text == text
    assert [b.data for row in message.buttons for b in row] == ["i:v:7"]


CHART = digest_chart.ChartData("全县督办事项状态（2026-03-24）", (
    digest_chart.UnitBar("城关镇", 3, 1, 2), digest_chart.UnitBar("县交通运输局", 1, 0, 0)))
CHART_TEXT = CHART.title + "".join(b.unit for b in CHART.bars) + "".join(digest_chart.LABELS.values()) + "在办事项（按承办单位）"


def tofu(face, text: str) -> list[str]:  # noqa: ANN001
    """The characters of ``text`` ``face`` has no glyph for: drawn as the same box as a code point
    no font has (a private-use one of plane 16)."""
    def drawn(ch: str) -> tuple:
        mask = face.getmask(ch)
        return mask.size, bytes(mask)

    missing = drawn("\U0010fffd")
    return [ch for ch in dict.fromkeys(text) if not ch.isspace() and drawn(ch) == missing]


@pytest.fixture
def fonts(monkeypatch):
    """A machine with no system font folders (none of its fonts is found); restored after."""
    digest_chart.cjk_face.cache_clear()
    monkeypatch.setattr(digest_chart, "FONT_DIRS", ())
    yield
    monkeypatch.undo()
    digest_chart.cjk_face.cache_clear()


def draw_with(path: Path) -> str:
    """Draw the chart; the family of the face it was drawn with."""
    digest_chart.draw_status_chart(CHART, path)
    assert path.read_bytes()[:8] == PNG
    return digest_chart._face(digest_chart.cjk_face(), 20).getname()[0]


def test_the_chart_draws_chinese_with_the_font_the_project_installs(fonts, tmp_path):
    # A fresh machine: no system CJK font, only the package's collection (Noto Sans CJK JP, KR, SC…).
    bundled = digest_chart.bundled_font_file()
    assert bundled is not None, "noto-cjk-sans-otc is a dependency (pyproject.toml)"
    source = digest_chart.cjk_face()
    assert source is not None and Path(source[0]).resolve() == bundled.resolve()
    face = digest_chart._face(source, 20)
    assert face.getname()[0] == "Noto Sans CJK SC"
    assert tofu(face, CHART_TEXT) == []
    assert draw_with(tmp_path / "chart.png") == "Noto Sans CJK SC"


def test_a_system_cjk_font_is_found_in_the_font_folders(fonts, monkeypatch, tmp_path, caplog):
    folder = tmp_path / "fonts" / "opentype" / "noto"
    folder.mkdir(parents=True)
    system_font = folder / "NotoSansCJK-Regular.ttc"  # as Debian's fonts-noto-cjk names it
    system_font.symlink_to(digest_chart.bundled_font_file())
    (folder / "NotoSansCJK-Broken.ttc").write_bytes(b"not a font")  # skipped, with a warning
    (folder / "readme.txt").write_text("字体说明")
    monkeypatch.setattr(digest_chart, "bundled_font_file", lambda: None)
    monkeypatch.setattr(digest_chart, "FONT_DIRS", (str(tmp_path / "fonts"),))
    with caplog.at_level(logging.WARNING, logger="duban.digest_chart"):
        assert digest_chart.cjk_face() == (str(system_font), 2)  # the collection's SC face
    assert [r for r in caplog.records if "chart_font_unreadable" in r.getMessage() and "Broken" in r.getMessage()]
    assert draw_with(tmp_path / "chart.png") == "Noto Sans CJK SC"


def test_with_no_cjk_font_at_all_the_chart_is_drawn_and_one_warning_says_how_to_fix_it(fonts, monkeypatch,
                                                                                        tmp_path, caplog):
    monkeypatch.setattr(digest_chart, "bundled_font_file", lambda: None)
    with caplog.at_level(logging.WARNING, logger="duban.digest_chart"):
        assert digest_chart.cjk_face() is None
        family = draw_with(tmp_path / "fallback.png")  # Pillow's own font: boxes for the Chinese, but a chart
        digest_chart.draw_status_chart(CHART, tmp_path / "again.png")
    assert family not in digest_chart.CJK_FAMILIES
    assert tofu(digest_chart._face(None, 20), "城关镇") == list("城关镇")
    (record,) = [r for r in caplog.records if "chart_font_missing" in r.getMessage()]
    assert ".venv/bin/pip install noto-cjk-sans-otc" in record.getMessage()


def test_many_units_collapse_into_others():
    bars = tuple(digest_chart.UnitBar(f"单位{i}", i, 0, i % 3) for i in range(1, 40))
    top = digest_chart._top(bars)
    assert len(top) == digest_chart.MAX_UNITS and top[-1].unit.startswith("其他")
    assert sum(b.total for b in top) == sum(b.total for b in bars)


def test_old_chart_files_are_pruned(tmp_path):
    from bot.documents.chart import prune_charts

    settings = settings_in(tmp_path)
    root = tmp_path / "files" / "digest"
    for day in ("2026-01-01", "2026-03-01", "2026-03-24", "not-a-date"):
        (root / day).mkdir(parents=True)
        (root / day / "office.png").write_bytes(b"x")
    assert prune_charts(settings, date(2026, 3, 24)) == 1
    assert sorted(p.name for p in root.iterdir()) == ["2026-03-01", "2026-03-24", "not-a-date"]


async def test_the_fonts_are_let_go_once_the_charts_are_drawn(tmp_path):
    """Charts come once a day: the CJK faces (~7 MB of FreeType tables) are not kept in between."""
    drawn = await digest_chart.draw_charts({tmp_path / "a.png": CHART, tmp_path / "b.png": CHART})
    assert drawn == {tmp_path / "a.png": True, tmp_path / "b.png": True}
    assert (tmp_path / "b.png").read_bytes()[:8] == PNG
    assert digest_chart._face.cache_info().currsize == 0
