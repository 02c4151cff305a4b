"""The workflow buttons' declarations (bot.domain.buttons), the chat's dialog slot and the one
reading of typed dates: what a new button or dialog relies on."""

import copy
import pickle
from datetime import date, datetime

import pytest

from bot.domain import buttons
from bot.domain.actions import ACTIONS, ASKS, ActionSpec, Answer, spec_of
from bot.domain.attachments import AttachmentIn
from bot.domain.dates import parse_date, parse_full_date, parse_iso_date, parse_when
from bot.domain.errors import DomainError
from bot.domain.roles import ROLE_NAMES
from bot.domain.workflow import ASSIGNMENT_FLOW, ITEM_FLOW
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from handlers.context import ChatData, DialogSlot

ASKING = [s for s in ACTIONS.values() if s.asks is not None]


def test_every_button_says_who_may_press_it_and_what_it_does():
    for spec in ACTIONS.values():
        assert (spec.run is None) != (spec.handled_by is None), spec.code
        if spec.handled_by is None:
            assert spec.who_may in ROLE_NAMES, spec.code
        if spec.step is not None:
            assert spec.step in ITEM_FLOW or spec.step in ASSIGNMENT_FLOW, spec.code
            assert spec.who_may == spec.transitions[0].who, spec.code
    assert ACTIONS["a:ack"].who_may == "liaison" and ACTIONS["i:ok"].who_may == "office_head"
    assert ACTIONS["x:no"].who_may == "office" and ACTIONS["x:no"].transitions == ()
    assert {s.asks for s in ASKING} == set(ASKS)


@pytest.mark.parametrize("spec", ASKING, ids=lambda s: s.code)
def test_every_asking_button_has_its_prompt_and_confirmation(spec):
    prompt = render("chat/ask_prompt.html.j2", action_template=spec.template, step="prompt",
                    label="督字〔2026〕3号", replaced=False, example="2026-04-30")
    assert prompt.startswith("<b>督字〔2026〕3号</b>\n") and len(prompt) > len("<b>督字〔2026〕3号</b>\n") + 4
    file = AttachmentIn(file_name="照片-1.jpg", size=1, mime_type="image/jpeg", telegram_file_id="f",
                        telegram_file_unique_id="u", sha256="0" * 64, local_path="/x")
    done = render(spec.template, step="done", label="督字〔2026〕3号", milestones=[], unit="城关镇",
                  answer=Answer(text="理由", files=[file], day=date(2026, 4, 30), unit_id=1))
    assert "督字〔2026〕3号" in done and "{{" not in done and "prompt" not in done


def test_the_extension_asks_the_date_then_the_reason():
    reason = render("chat/ask_prompt.html.j2", action_template=ACTIONS["a:ext"].template, step="reason",
                    label="督字〔2026〕3号", replaced=False, day=date(2026, 4, 30))
    assert reason == "<b>督字〔2026〕3号</b>\n新的办结日期：<b>2026-04-30</b>\n请说明<b>延期理由</b>："


def test_a_declaration_that_cannot_work_fails_at_import():
    async def run(s, me, i, a, env):
        return None

    good = ActionSpec("z:ok", "item", "好", run=run, step="item.approve")
    buttons._check((good,))
    for bad, why in [
        (ActionSpec("z:no", "item", "坏", run=run, step="item.nope"), "no transition"),
        (ActionSpec("z:no", "item", "坏", run=run), "say who may press it"),
        (ActionSpec("z:no", "item", "坏", run=run, who="office", asks="photo"), "asks 'photo'"),
        (ActionSpec("z:no", "item", "坏", run=run, who="office", edit="half"), "edit 'half'"),
        (ActionSpec("z:no", "item", "坏", who="office"), "a run or a handler module"),
    ]:
        with pytest.raises(AssertionError, match=why):
            buttons._check((bad,))
    with pytest.raises(AssertionError, match="declared twice"):
        buttons._check((good, good))


def test_the_registry_is_the_declarations():
    assert ACTIONS is buttons.ACTIONS and spec_of("a:ack") is buttons.ACTIONS["a:ack"] and spec_of("a:zzz") is None
    assert ACTIONS["a:pln"].template == "actions/a_pln.html.j2"


def test_a_plan_splits_its_milestones_by_the_one_date_reading():
    text, steps = buttons.split_plan("总体方案\n2026-04-01 完成设计\n5月10日：开工\n  \n说明", date(2026, 3, 10))
    assert text == "总体方案\n说明"
    assert [(m.due, m.title) for m in steps] == [(date(2026, 4, 1), "完成设计"), (date(2026, 5, 10), "开工")]


# --------------------------------------------------------------------------------------------
# The chat's one dialog slot
# --------------------------------------------------------------------------------------------


def test_one_dialog_slot_per_chat():
    data = ChatData()
    answers = data.open("new", title="修路")
    answers["lead"] = (1, "城关镇")
    assert data.answers("new") == {"title": "修路", "lead": (1, "城关镇")} and data.open_dialog == "new"
    assert data.answers("rec") is None and data.close("rec") is None and data.open_dialog == "new"
    data.open("ask", code="a:prg")  # a new dialog replaces the slot
    assert data.answers("new") is None and data.answers("ask") == {"code": "a:prg"}
    assert data.close("ask") == {"code": "a:prg"} and data.open_dialog is None and "dialog" not in data


def test_the_chat_data_pickles_and_copies_like_a_dict():
    data = ChatData()
    data.open("rec", form="call", when=datetime(2026, 3, 10, 9, 0, tzinfo=OFFICE_TZ))
    data["outcomes"] = [(17, "a:ack:3")]
    again = pickle.loads(pickle.dumps(data))
    assert type(again) is ChatData and again == data and again.answers("rec")["form"] == "call"
    assert copy.deepcopy(data) == data and isinstance(again["dialog"], DialogSlot)
    target = ChatData()
    target.update(copy.deepcopy(dict(again)))  # how a persistence refreshes a chat's data
    assert target.answers("rec") == data.answers("rec")


# --------------------------------------------------------------------------------------------
# Dates as people type them (one reading for the chat, the exports and the command line)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-04-30", date(2026, 4, 30)), ("2026/4/30", date(2026, 4, 30)), ("2026年4月30日", date(2026, 4, 30)),
    ("4月30日", date(2026, 4, 30)), ("4-30", date(2026, 4, 30)), ("3月1号", date(2027, 3, 1)),
])
def test_a_day_typed_in_the_chat(text, expected):
    assert parse_date(text, date(2026, 3, 10)) == expected


def test_bad_days_are_explained():
    with pytest.raises(DomainError, match="格式不对"):
        parse_date("下周五", date(2026, 3, 10))
    with pytest.raises(DomainError, match="不存在"):
        parse_date("2026-02-30", date(2026, 3, 10))
    with pytest.raises(DomainError, match="开始日期「2026-13-01」格式不对"):
        parse_full_date("2026-13-01", "开始日期")
    assert parse_full_date("2026年1月1日") == date(2026, 1, 1)
    assert parse_iso_date("2026-09-28") == date(2026, 9, 28)
    with pytest.raises(DomainError, match="格式不正确"):
        parse_iso_date("2026/09/28")
    with pytest.raises(DomainError, match="不存在"):
        parse_iso_date("2026-02-30")
    now = datetime(2026, 3, 10, 9, 0, tzinfo=OFFICE_TZ)
    assert parse_when("3月9日 14:30", now) == datetime(2026, 3, 9, 14, 30, tzinfo=OFFICE_TZ)
