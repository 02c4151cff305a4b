"""What a person may see: ``/items`` (open items with traffic lights, filters, pages edited in
place), ``/item N`` and the 查看 buttons (``i:v``): one item in detail, its timeline and the
actions open to this person now. Visibility is decided by ``bot.domain.views``; a confidential
item shows only its number and "请到督查室查阅" (its buttons stay: they carry no content).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.domain.dossier import dossier
from bot.domain.errors import DomainError
from bot.domain.views import ItemFilters, item_detail, open_items_for
from bot.kernel.render import render
from handlers.common import reply
from handlers.context import Ctx
from handlers.env import env_of
from handlers.keyboards import markup_of, view_button
from handlers.taps import parse_tap, refuse_tap

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.views")

PAGE_SIZE = 8
TIMELINE_ENTRIES = 8
MAX_MESSAGE = 4000  # Telegram's limit is 4096 characters

# code → (button label, filters)
FILTERS: dict[str, tuple[str, ItemFilters]] = {
    "all": ("全部", ItemFilters()),
    "red": ("🔴红灯", ItemFilters(light="red")),
    "yel": ("🟡黄灯", ItemFilters(light="yellow")),
    "urg": ("紧急", ItemFilters(importance="urgent")),
    "imp": ("重要", ItemFilters(importance="important")),
    "drf": ("草稿", ItemFilters(states=frozenset({"draft"}))),
    "pnd": ("待审批", ItemFilters(states=frozenset({"pending"}))),
    "rpt": ("待审核", ItemFilters(states=frozenset({"reported"}))),
    "lrv": ("待审阅", ItemFilters(states=frozenset({"leader_review"}))),
    "cls": ("已办结", ItemFilters(states=frozenset({"closed"}), include_closed=True)),
    "arc": ("已归档", ItemFilters(states=frozenset({"archived"}), include_closed=True)),
}
# Closed and archived items (issue 12): everyone, by ``/items 已办结`` or ``/items 已归档``; their
# lists show these two filters as a second row (the open list's rows stay as they were).
DONE_FILTERS = ("cls", "arc")
FILTER_WORDS = {"已办结": "cls", "办结": "cls", "已归档": "arc", "归档": "arc", "全部": "all"}
_LIST_DATA = re.compile(r"ls:([a-z]{3}):([1-9][0-9]{0,3})")


def filters_for(person: Person) -> list[str]:
    codes = ["all", "red", "yel", "urg", "imp"]
    if person.has_role("office"):
        codes += ["drf", "pnd", "rpt"]
    elif person.has_role("office_head"):
        codes += ["pnd"]
    if person.has_role("leader"):
        codes += ["lrv"]
    return codes


async def _list(context: Ctx, person: Person, code: str, page: int) -> tuple[str, InlineKeyboardMarkup]:
    env = await env_of(context)
    label, flt = FILTERS[code]
    async with env.services.db.reading() as s:
        result = await open_items_for(s, person, flt, page, PAGE_SIZE, calendar=env.calendar, now=env.now)
        if result.page > result.pages:
            result = await open_items_for(s, person, flt, result.pages, PAGE_SIZE, calendar=env.calendar, now=env.now)
    text = render("chat/items_list.html.j2", p=result, filter_label=label, code=code)
    rows: list[list[InlineKeyboardButton]] = [list(row) for row in _filter_rows(tuple(filters_for(person)), code)]
    buttons = [view_button(f"{s.light.emoji if s.light else '⚪'} {s.label}", s.id) for s in result.items]
    rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    nav = []
    if result.page > 1:
        nav.append(_page_button("上一页", code, result.page - 1))
    if result.page < result.pages:
        nav.append(_page_button("下一页", code, result.page + 1))
    if nav:
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows)


@functools.lru_cache(maxsize=1024)
def _page_button(label: str, code: str, page: int) -> InlineKeyboardButton:
    # Made once, as the filter buttons are: every page turned made its two again.
    return InlineKeyboardButton(label, callback_data=f"ls:{code}:{page}")


@functools.lru_cache(maxsize=128)
def _filter_rows(codes: tuple[str, ...], code: str) -> tuple[tuple[InlineKeyboardButton, ...], ...]:
    """A list page's filter buttons, the current one marked: the same for everyone with the same
    roles on the same filter, and PTB's buttons cannot change once made, so each set is made once
    (a page turned otherwise rebuilt five to ten of them)."""

    def row(of: tuple[str, ...]) -> tuple[InlineKeyboardButton, ...]:
        return tuple(
            InlineKeyboardButton(f"·{FILTERS[c][0]}·" if c == code else FILTERS[c][0], callback_data=f"ls:{c}:1")
            for c in of
        )

    rows = [row(codes[i : i + 5]) for i in range(0, len(codes), 5)]
    if code in DONE_FILTERS:
        rows.append(row(DONE_FILTERS))
    return tuple(rows)


async def items_command(update: Update, context: Ctx) -> None:
    person = await context.known_person(update)
    word = " ".join(context.args or []).strip()
    if word and word not in FILTER_WORDS:
        await reply(update, "chat/usage.html.j2", command="items")
        return
    text, markup = await _list(context, person, FILTER_WORDS.get(word, "all"), 1)
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


async def list_page(update: Update, context: Ctx) -> None:
    query = update.callback_query
    person = await context.known_person(update)
    m = _LIST_DATA.fullmatch(query.data or "")
    if m is None or m.group(1) not in (*filters_for(person), *DONE_FILTERS):
        log.warning(
            "event=action_refused what=%r user=%s person=%s kind=bad_list_button",
            (query.data or "")[:80],
            update.effective_user.id,
            person.id,
        )
        await query.answer("按钮已失效，请重新发送 /items", show_alert=True)
        return
    text, markup = await _list(context, person, m.group(1), int(m.group(2)))
    await query.answer()
    if isinstance(query.message, Message):
        try:
            await query.edit_message_text(text, reply_markup=markup, disable_web_page_preview=True)
            return
        except BadRequest as exc:  # "message is not modified": the same page tapped again
            if "not modified" in str(exc).lower():
                return
            log.info("event=list_not_edited user=%s error=%s", update.effective_user.id, exc)
    # The tapped message is gone, too old or not the bot's to edit: the page comes as a new message.
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


async def _detail(context: Ctx, person: Person, ref: str | int) -> tuple[str, InlineKeyboardMarkup | None]:
    env = await env_of(context)
    async with env.services.db.reading() as s:
        d = await item_detail(s, person, ref, calendar=env.calendar, now=env.now)
        entries = [] if d.summary.confidential else list((await dossier(s, d.summary.id, person)).entries)
    shown = TIMELINE_ENTRIES
    while True:
        text = render(
            "chat/item_detail.html.j2",
            d=d,
            entries=entries[-shown:] if shown else [],
            more=len(entries) - shown if shown else len(entries),
        )
        if len(text) <= MAX_MESSAGE or shown == 0:
            break
        shown = max(0, shown - 3)
    return text[:MAX_MESSAGE], markup_of(d.buttons)


async def item_command(update: Update, context: Ctx) -> None:
    person = await context.known_person(update)
    ref = " ".join(context.args or []).strip()
    if not ref:
        await reply(update, "chat/usage.html.j2", command="item")
        return
    try:
        text, markup = await _detail(context, person, ref[:50])
    except DomainError as exc:
        log.info(
            "event=action_refused what=/item user=%s person=%s reason=%s",
            update.effective_user.id,
            person.id,
            exc.message,
        )
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


async def view_button_tapped(update: Update, context: Ctx) -> None:
    query = update.callback_query
    person = await context.known_person(update)
    action = await parse_tap(update, person)
    if action is None:
        return
    try:
        text, markup = await _detail(context, person, action.target_id)
    except DomainError as exc:
        await refuse_tap(update, context, person, None, exc)
        return
    await query.answer()
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("items", items_command, filters=private))
    app.add_handler(CommandHandler("item", item_command, filters=private))
    app.add_handler(CallbackQueryHandler(view_button_tapped, pattern=r"^i:v:"))
    app.add_handler(CallbackQueryHandler(list_page, pattern=r"^ls:"))
