"""The Jinja environment: every message and document text comes from ``templates/``.

Autoescaping is on for every ``*.html.j2`` template, because messages go out in Telegram's HTML
parse mode: a liaison's text must never become markup. ``*.txt.j2`` is for the terminal.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.kernel.clock import OFFICE_TZ

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def _local(value: datetime | date, fmt: str) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(OFFICE_TZ)
    return value.strftime(fmt)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # Telegram messages (*.html.j2) are escaped; plain-text CLI output (*.txt.j2) is not.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=False),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the code: no stat() of the file on every message
    )
    env.filters["datetime"] = lambda v: _local(v, "%Y-%m-%d %H:%M")
    env.filters["date"] = lambda v: _local(v, "%Y-%m-%d")
    return env


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context).strip()
