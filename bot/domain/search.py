"""/find: items a person may see whose title, number (督字〔2026〕3号, 3, 2026-3), registration
number (登记号12) or unit name contains what they typed, paged like /items.

Visibility is ``bot.domain.views``' (the same SQL as /items, closed and archived items included),
so /find never shows what /item would refuse. A confidential item is never matched by its title,
even for the office: its title is not shown in the messenger, and a hit on it would say what it is
about (§9(五)); its number and units still find it for those who may see it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from bot.domain.views import (
    LIST_OPTIONS,
    MAX_PAGE_SIZE,
    ItemFilters,
    ItemPage,
    _id_in,
    _list_conditions,
    summarize,
    viewer,
)
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import drop_controls, local_date, parse_item_ref
from store.models import Person, Unit
from store.workflow import Assignment, Item

MAX_KEYWORD = 16  # the keyword rides in the paging buttons' callback data (64 bytes)
_REGISTRATION = re.compile(r"登记号\s*([0-9]{1,9})")
_LOOKS_LIKE_NUMBER = re.compile(r"(?:督字)?\s*[〔\[（(【]?\s*\d{1,4}.*")


def clean_keyword(text: str | None) -> str:
    """The keyword as searched: controls dropped, spaces collapsed; a Chinese error when unusable."""
    keyword = " ".join(drop_controls(text or "").split())
    if not keyword:
        raise DomainError("请在 /find 后写上关键词，例如 /find 道路 、/find 3 或 /find 城关镇")
    if len(keyword) > MAX_KEYWORD:
        raise DomainError(f"关键词太长（最多{MAX_KEYWORD}个字），请换个简短的关键词")
    return keyword


def _number_condition(keyword: str, this_year: int):  # noqa: ANN202
    """Items the keyword names by number (None when it does not look like one)."""
    m = _REGISTRATION.fullmatch(keyword)
    if m:
        return Item.id == int(m.group(1))
    if not _LOOKS_LIKE_NUMBER.fullmatch(keyword):
        return None
    try:
        year, number = parse_item_ref(keyword, this_year)
    except DomainError:
        return None
    return and_(Item.year == year, Item.number == number)


def _match(keyword: str, this_year: int):  # noqa: ANN202
    words = keyword.split()
    # Every word must match somewhere: "城关镇 道路" finds the town's road items.
    per_word = []
    for word in words:
        unit_hit = exists().where(
            Assignment.item_id == Item.id,
            Assignment.state != "draft",
            Assignment.unit_id.in_(select(Unit.id).where(Unit.name.contains(word, autoescape=True))),
        )
        options = [and_(Item.confidential.is_(False), Item.title.contains(word, autoescape=True)), unit_hit]
        by_number = _number_condition(word, this_year)
        if by_number is not None:
            options.append(by_number)
        per_word.append(or_(*options))
    whole = _number_condition(keyword, this_year) if len(words) > 1 else None
    return or_(and_(*per_word), whole) if whole is not None else and_(*per_word)


async def find_items(
    session: AsyncSession,
    person: Person,
    keyword: str,
    page: int = 1,
    page_size: int = 8,
    *,
    calendar: WorkCalendar,
    now: datetime,
) -> ItemPage:
    """The page of items ``person`` may see that match ``keyword``, newest first."""
    keyword = clean_keyword(keyword)
    me = await viewer(session, person, "view.find")
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    where = _list_conditions(me, ItemFilters(include_closed=True), _id_in(session))
    if where is None:
        return ItemPage((), 0, page, page_size)
    where = [*where, _match(keyword, local_date(now).year)]

    async def page_of(n: int) -> list[Item]:
        return list(
            (
                await session.scalars(
                    select(Item)
                    .where(*where)
                    .options(*LIST_OPTIONS)
                    .order_by(Item.year.is_(None).desc(), Item.year.desc(), Item.number.desc(), Item.id.desc())
                    .limit(page_size)
                    .offset((n - 1) * page_size)
                )
            )
            .unique()
            .all()
        )

    items = await page_of(page)
    if page == 1 and len(items) < page_size:
        total = len(items)  # the usual search: a few hits, one statement
    else:
        total = await session.scalar(select(func.count()).select_from(Item).where(*where)) or 0
        pages = max(1, -(-total // page_size))
        if page > pages:  # a page past the end (the list shrank, or a forged button): the last one
            page = pages
            items = await page_of(page)
    return ItemPage(tuple(summarize(item, me, calendar, now) for item in items), total, page, page_size)
