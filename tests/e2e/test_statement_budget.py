"""What one update costs the database: issue 11's budget (/help ≤1 statement, a tap ≤3, /items ≤4),
counted with a SQLAlchemy event on the bot's engine while the Application handles the update.

The durable inbox (issue 9) adds its own bookkeeping per update, counted apart: it is the price of
not losing an update in a crash, not the handlers' work. The outbox sender runs outside updates."""

from __future__ import annotations

import contextlib
import contextvars

from sqlalchemy import event

_in_update = contextvars.ContextVar("in_update", default=False)


@contextlib.contextmanager
def statements(h):
    """The statements run while the Application processes updates: (handlers', inbox's)."""
    handlers: list[str] = []
    inbox: list[str] = []
    app = h.app
    original = app.process_update

    async def process_update(update):  # noqa: ANN001
        token = _in_update.set(True)
        try:
            await original(update)
        finally:
            _in_update.reset(token)

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if _in_update.get():
            (inbox if " inbox" in statement.split("WHERE")[0] else handlers).append(statement)

    app.process_update = process_update
    for engine in h.db.sync_engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield handlers, inbox
    finally:
        for engine in h.db.sync_engines:
            event.remove(engine, "before_cursor_execute", count)
        app.process_update = original


async def test_help_a_page_tap_and_items_stay_within_their_statement_budget(demo_county, demo_item):
    c = demo_county
    for n in range(12):
        await demo_item(f"城关镇事项{n}")
    liaison = c.liaison("城关镇")
    await liaison.send("/items")  # the calendar is loaded once, not per update
    await liaison.send("/help")  # so is the command menu set (issue 9: remembered, not re-sent)

    with statements(c.h) as (help_, inbox):
        await liaison.send("/help")
    assert "/items" in liaison.last.text
    assert len(help_) <= 1, "\n".join(s[:90] for s in help_)
    assert len(inbox) <= 2, inbox

    with statements(c.h) as (items, _):
        await liaison.send("/items")
    assert "城关镇事项" in liaison.last.text and "下一页" in liaison.last.buttons
    assert len(items) <= 4, items

    with statements(c.h) as (tap, _):
        await liaison.tap("下一页")
    assert "上一页" in liaison.last.buttons
    assert len(tap) <= 3, tap
