"""分工 per unit (issue 12 point 6): reading a unit's new deadline and reason; a draft unit's own
deadline as asked."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.changes import split_dated
from bot.domain.errors import DomainError
from bot.domain.items import unit_deadline_spec
from bot.domain.workflow import DeadlineSpec
from store.workflow import Assignment

TODAY = date(2026, 3, 10)


def test_a_units_new_deadline_comes_first_then_the_reason():
    assert split_dated("2026-03-16 理由：交通疏导须先于施工完成", TODAY) == (date(2026, 3, 16), "交通疏导须先于施工完成")
    assert split_dated("2026-03-16，先行完成", TODAY) == (date(2026, 3, 16), "先行完成")


@pytest.mark.parametrize("text", ["", "理由：没有日期", "下个月 理由：太含糊"])
def test_without_a_date_first_it_is_refused_in_chinese(text):
    with pytest.raises(DomainError, match="请先写新的办结日期"):
        split_dated(text, TODAY)


def test_a_draft_share_keeps_its_own_deadline_as_asked_until_approval():
    a = Assignment(state="draft", due_days=3, due_date=None)
    assert unit_deadline_spec(a) == DeadlineSpec(days=3)
    assert unit_deadline_spec(Assignment(state="draft", due_days=None, due_date=None)) is None
    # Once approved, due_date is the deadline in force, not a wish.
    assert unit_deadline_spec(Assignment(state="assigned", due_days=3, due_date=date(2026, 3, 13))) is None
