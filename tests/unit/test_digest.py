"""The daily digest: what a leader and the office read each working morning, split under 4096, with a chart."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from test_urging import SETTINGS, at
from test_workflow_support import CAL, make_world, outbox, register, to

from bot import digest_chart
from bot.config import StorageSettings
from bot.domain import assignments as asg
from bot.domain import review
from bot.domain.digest import (
    Digest,
    Line,
    UnitGroup,
    build_digest,
    digest_sweep,
    render_digest,
    split_message,
    utf16_len,
)
from bot.domain.workflow import DeadlineSpec
from store.models import Person
from store.urging import Reminder


def settings_in(tmp_path: Path):
    return dataclasses.replace(SETTINGS, storage=StorageSettings(files_dir=str(tmp_path / "files")))


async def county(db, clock):
    """Items in the states a digest talks about, as of Tue 03-24 08:00."""
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


async def test_the_morning_digest_for_leaders_and_the_office(db, clock, tmp_path):
    settings = settings_in(tmp_path)
    w, (one, two, three, four, five) = await county(db, clock)
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        result = await digest_sweep(s, CAL, at(date(2026, 3, 24), 8), settings)
    msgs = await outbox(db, seen)
    texts = {p: [m for m in to(msgs, getattr(w, p)) if m.kind == "text"] for p in ("leader", "leader2", "office", "head")}
    photos = [m for m in msgs if m.kind == "photo"]

    (lt,) = texts["leader"]
    assert "每日督办摘要" in lt.text and "2026-03-24" in lt.text
    assert "超期3个工作日以上，请您督促" in lt.text and "城区主干道破损路面修复" in lt.text
    assert "待您审阅的办理结果" in lt.text and "农贸市场改造" in lt.text
    assert "已办结（1）" in lt.text and "背街小巷照明" in lt.text
    assert "新立项（1）" in lt.text and "老旧小区加装电梯" in lt.text
    assert "涉密" not in lt.text  # item 2 is leader2's, not theirs
    (l2,) = texts["leader2"]
    assert "督字〔2026〕2号" in l2.text and "涉密的事项名称" not in l2.text and "3个工作日内到期（1）" in l2.text

    (ot,) = texts["office"]
    assert "全县" in ot.text and "超期事项（按单位" in ot.text and "城关镇" in ot.text
    assert "待审核的办结报告（1）" in ot.text and "县交通运输局" in ot.text
    assert "涉密的事项名称" not in ot.text and "督字〔2026〕2号" in ot.text
    assert "待您审批的立项" not in ot.text
    (ht,) = texts["head"]
    assert "待您审批的立项（1）" in ht.text and "待审批的事项" in ht.text

    # A chart per leader, one shared by the office; all PNG files that exist.
    assert {m.person_id for m in photos} >= {w.leader.id, w.leader2.id, w.office.id, w.office2.id, w.head.id}
    office_photos = {m.file_path for m in photos if m.person_id in (w.office.id, w.office2.id, w.head.id)}
    assert len(office_photos) == 1
    for m in photos:
        assert Path(m.file_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "状态图" in m.text
    # Buttons open the items (查看详情).
    assert any(b["data"] == f"i:v:{one.id}" for row in lt.buttons for b in row)

    # The leader rung of the ladder is recorded.
    async with db.session() as s:
        rungs = (await s.scalars(select(Reminder).where(Reminder.level == "overdue_leader"))).all()
    assert {(r.person_id, r.round_date) for r in rungs} == {(w.leader.id, date(2026, 3, 24))}
    assert len(rungs) == 3 and all(r.outbox_id == lt.id for r in rungs)  # the item's three units

    # Idempotent; and a weekend or an evening sends nothing.
    async with db.session() as s:
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 24), 9), settings)).messages == 0
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 28), 8), settings)).messages == 0
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 25), 19), settings)).messages == 0
    assert result.messages == len(msgs)
    assert {two.id, three.id, four.id, five.id} == {2, 3, 4, 5}


async def test_nothing_worth_saying_sends_nothing_but_on_demand_answers(db, clock, tmp_path):
    settings = settings_in(tmp_path)
    w = await make_world(db, clock.now())
    await register(db, w, at(date(2026, 3, 5)), approve=True, deadline=DeadlineSpec.on_date(date(2026, 6, 30)))
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        assert (await digest_sweep(s, CAL, at(date(2026, 3, 11), 8), settings)).messages == 0
    assert await outbox(db, seen) == []
    async with db.session() as s:
        d = await build_digest(s, await s.get(Person, w.leader.id), CAL, at(date(2026, 3, 11), 8), settings)
        assert d.empty and d.open_counts == {"green": 3, "yellow": 0, "red": 0}
        (text,) = render_digest(d)
        assert "今日没有需要特别关注的事项" in text
        assert await build_digest(s, await s.get(Person, w.lead_liaison.id), CAL, at(date(2026, 3, 11), 8),
                                  settings) is None


def _big_digest() -> Digest:
    lines = [Line(i, f"督字〔2026〕{i}号", "很长很长的督查事项名称" * 4, "城关镇", "主办", "2026-03-01",
                  f"已超期{i}个工作日") for i in range(1, 400)]
    d = Digest(1, "王督查", "office", date(2026, 3, 24), at(date(2026, 3, 23), 8), {"green": 1, "yellow": 2, "red": 399})
    d.overdue = [UnitGroup(f"单位{i}", 30, lines[i * 6:(i + 1) * 6]) for i in range(15)]
    d.overdue_count = 399
    d.due_soon = lines[:20]
    d.due_soon_count = 60
    d.new_items = lines[:20]
    d.completed = lines[:20]
    return d


def test_a_long_digest_is_split_between_sections_under_4096():
    parts = render_digest(_big_digest())
    assert len(parts) > 1
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert parts[-1].endswith("，完）") and parts[0].startswith("📋")
    # Each part closes what it opens (cuts fall between lines).
    assert all(p.count("<b>") == p.count("</b>") for p in parts)


def test_split_message_prefers_section_boundaries():
    a, b = "甲" * 3000, "乙" * 3000
    assert split_message(f"{a}\n\n{b}") == [a, b]
    lines = "\n".join(["行" * 100] * 100)
    parts = split_message(lines)
    assert all(utf16_len(p) <= 4096 for p in parts) and "\n".join(parts) == lines
    assert split_message("🔴" * 2100) == ["🔴" * 2048, "🔴" * 52] or all(utf16_len(p) <= 4096 for p in split_message("🔴" * 2100))


CHART = digest_chart.ChartData("全县督办事项状态（2026-03-24）", (
    digest_chart.UnitBar("城关镇", 3, 1, 2), digest_chart.UnitBar("县交通运输局", 1, 0, 0)))
CHART_TEXT = CHART.title + "".join(b.unit for b in CHART.bars) + "".join(digest_chart.LABELS.values()) + "在办事项（按承办单位）"


@pytest.fixture
def fonts(monkeypatch):
    """matplotlib's font list as a cache written before any CJK font was installed; restored after."""
    from matplotlib import font_manager

    digest_chart.cjk_font.cache_clear()
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name])
    yield font_manager
    monkeypatch.undo()
    digest_chart.cjk_font.cache_clear()
    digest_chart.cjk_font()  # re-register the bundled font (addfont also drops matplotlib's lookup cache)


def draw_and_catch(path: Path) -> list[str]:
    """Draw the chart; the glyph warnings matplotlib raised while doing so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        digest_chart.draw_status_chart(CHART, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_chart_draws_chinese_with_the_font_the_project_installs(fonts, tmp_path):
    # A fresh machine: no system CJK font, and a matplotlib font cache that predates the package.
    assert digest_chart.bundled_font_file() is not None, "noto-cjk-sans-otc is a dependency (pyproject.toml)"
    assert digest_chart.cjk_font() == "Noto Sans CJK SC"
    found = fonts.findfont(fonts.FontProperties(family="Noto Sans CJK SC"), fallback_to_default=False)
    assert Path(found).resolve() == digest_chart.bundled_font_file().resolve()
    face = fonts.get_font(found)
    assert [c for c in CHART_TEXT if face.get_char_index(ord(c)) == 0] == []
    assert draw_and_catch(tmp_path / "chart.png") == []


def test_a_system_cjk_font_the_cache_does_not_know_is_registered(fonts, monkeypatch, tmp_path):
    system_font = tmp_path / "NotoSansCJK-Regular.ttc"  # as Debian's fonts-noto-cjk names it
    system_font.symlink_to(digest_chart.bundled_font_file())
    monkeypatch.setattr(digest_chart, "bundled_font_file", lambda: None)
    monkeypatch.setattr(fonts, "findSystemFonts", lambda *a, **k: [str(tmp_path / "DejaVuSans.ttf"), str(system_font)])
    assert digest_chart.cjk_font() == "Noto Sans CJK SC"
    assert draw_and_catch(tmp_path / "chart.png") == []


def test_with_no_cjk_font_at_all_the_chart_is_drawn_and_one_warning_says_how_to_fix_it(fonts, monkeypatch,
                                                                                        tmp_path, caplog):
    monkeypatch.setattr(digest_chart, "bundled_font_file", lambda: None)
    monkeypatch.setattr(fonts, "findSystemFonts", lambda *a, **k: [])
    with caplog.at_level(logging.WARNING, logger="duban.digest_chart"):
        assert digest_chart.cjk_font() is None
        assert draw_and_catch(tmp_path / "fallback.png") == []  # boxes, but not one warning per glyph
        digest_chart.draw_status_chart(CHART, tmp_path / "again.png")
    (record,) = [r for r in caplog.records if "chart_font_missing" in r.getMessage()]
    assert ".venv/bin/pip install noto-cjk-sans-otc" in record.getMessage()


def test_many_units_collapse_into_others():
    bars = tuple(digest_chart.UnitBar(f"单位{i}", i, 0, i % 3) for i in range(1, 40))
    top = digest_chart._top(bars)
    assert len(top) == digest_chart.MAX_UNITS and top[-1].unit.startswith("其他")
    assert sum(b.total for b in top) == sum(b.total for b in bars)


def test_old_chart_files_are_pruned(tmp_path):
    from bot.domain.digest import prune_charts

    settings = settings_in(tmp_path)
    root = tmp_path / "files" / "digest"
    for day in ("2026-01-01", "2026-03-01", "2026-03-24", "not-a-date"):
        (root / day).mkdir(parents=True)
        (root / day / "office.png").write_bytes(b"x")
    assert prune_charts(settings, date(2026, 3, 24)) == 1
    assert sorted(p.name for p in root.iterdir()) == ["2026-03-01", "2026-03-24", "not-a-date"]
