"""Button callback data: the one vocabulary shared by the notices (domain) and the chat UI (handlers).

Every button carries ``"<scope>:<verb>:<id>"`` — ASCII, at most 64 bytes (Telegram's limit), e.g.
``a:ack:17`` (acknowledge assignment 17) or ``i:ok:3`` (approve item 3). ``parse_action`` accepts
exactly the declared codes with a positive decimal id and refuses everything else with
``MalformedAction``. A payload only says what the person *asked* for: every service re-checks in
the database who the person is and whether they may act on that record.

The codes and what each button does are declared once, in ``bot.domain.buttons`` (an
``ActionSpec`` per button: its transition, who may, what it asks, what it calls, its templates).
That module imports the services, and the services import this one for ``button``; so the
registry ``ACTIONS`` is read from there on first use, never at import time.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.domain.attachments import AttachmentIn
from bot.domain.errors import DomainError
from bot.outbox.queue import Button

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.domain.score import Rules
    from bot.domain.workdays import WorkCalendar
    from bot.domain.workflow import Transition
    from bot.kernel.config import Settings
    from store.models import Person

MAX_DATA_BYTES = 64
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
PLACEHOLDER = "（预检）"  # the text a dry run passes where the person's reason will go
ASKS = ("text", "optional", "collect", "date_text", "unit", "unit_text")  # what a button may ask before it acts
EDITS = ("row", "button", "all", "none")  # what of the tapped keyboard the outcome replaces


class MalformedAction(DomainError):
    """A callback payload that is not ours, is truncated or was tampered with."""


# --------------------------------------------------------------------------------------------
# What a declaration's service call receives
# --------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What the person gave before the service is called (empty for a button that acts at once)."""

    text: str | None = None
    files: list[AttachmentIn] = field(default_factory=list)
    day: date | None = None
    unit_id: int | None = None


class Filing(Protocol):
    """Files the printable documents an action produces (``bot.documents.word``, given by the caller:
    the domain writes no files)."""

    async def notice(self, session: AsyncSession, item_id: int) -> None: ...

    async def dossier(self, session: AsyncSession, item_id: int, person: Person, now: datetime) -> None: ...


class ActionEnv(Protocol):
    """What a service call needs besides the person, the record and the answer."""

    @property
    def calendar(self) -> WorkCalendar: ...

    @property
    def now(self) -> datetime: ...

    @property
    def filing(self) -> Filing: ...

    @property
    def score_rules(self) -> Rules: ...

    @property
    def settings(self) -> Settings: ...


Run = Callable[["AsyncSession", "Person", int, Answer, ActionEnv], Awaitable[Any]]
Probe = Callable[["AsyncSession", "Person", int, ActionEnv], Awaitable[Any]]
# What a prompt shows besides its text, read when the button is tapped (after the dry run).
PromptContext = Callable[["AsyncSession", int], Awaitable[dict]]
Outcome = str | Callable[[Any], str]


@dataclass(frozen=True)
class ActionSpec:
    """One button, declared once (``bot.domain.buttons``).

    ``run`` calls the service; ``step`` names the workflow transition it makes (``ITEM_FLOW`` /
    ``ASSIGNMENT_FLOW`` in ``bot.domain.workflow``), which says who may make it and from which
    states; ``who`` is given only for an action without a transition. ``asks`` is None for a
    button that acts at once, else what the chat asks first; such a button has its prompt and
    its confirmation in ``templates/<template>``. ``toast`` answers a tap that acted at once;
    ``outcome`` labels the "✅ …" button that replaces the used one (``edit``: the button, its row,
    all of the keyboard, or none). ``probe`` is the dry run at the tap (default: ``run`` with a
    placeholder text); ``summary`` adds to the confirmation's context from the service's result.
    ``handled_by`` names the handler module of a button that has its own handler (no ``run``).
    ``confirm``: a button that acts at once also answers in the chat with its template's
    confirmation (``step="done"``, with ``summary``), for an outcome too long for a toast.
    ``prompt_context`` adds to the prompt's context (e.g. the assisting units' parts at the lead
    unit's 办结报告, issue 12).
    """

    code: str  # "<scope>:<verb>"
    target: str  # which record the id names: item | assignment | milestone | extension | ...
    label: str  # the Chinese button text
    run: Run | None = None
    step: str | None = None
    who: str | None = None
    asks: str | None = None
    toast: str = ""
    outcome: Outcome = ""
    edit: str = "row"
    probe: Probe | None = None
    summary: Callable[[Any], dict] | None = None
    handled_by: str | None = None
    confirm: bool = False
    prompt_context: PromptContext | None = None

    @property
    def template(self) -> str:
        """Its prompt and confirmation (``step`` = prompt | reason | done): ``actions/a_ext.html.j2``."""
        return f"actions/{self.code.replace(':', '_')}.html.j2"

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """The transition ``step`` names, on the item and/or the assignment."""
        from bot.domain.workflow import ASSIGNMENT_FLOW, ITEM_FLOW

        if self.step is None:
            return ()
        return tuple(flow[self.step] for flow in (ITEM_FLOW, ASSIGNMENT_FLOW) if self.step in flow)

    @property
    def who_may(self) -> str:
        """The role that may press it (the service checks it in the database)."""
        return self.who or self.transitions[0].who

    def outcome_label(self, result: Any) -> str:
        return self.outcome(result) if callable(self.outcome) else self.outcome


def __getattr__(name: str) -> Any:
    if name == "ACTIONS":  # the declarations import the services, which import this module
        from bot.domain.buttons import ACTIONS

        return ACTIONS
    raise AttributeError(name)


def spec_of(code: str) -> ActionSpec | None:
    from bot.domain.buttons import ACTIONS

    return ACTIONS.get(code)


# --------------------------------------------------------------------------------------------
# Callback data
# --------------------------------------------------------------------------------------------

_DATA = re.compile(r"([a-z]{1,3}):([a-z]{1,4}):([1-9][0-9]{0,9})")


@dataclass(frozen=True)
class Action:
    spec: ActionSpec
    target_id: int

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def data(self) -> str:
        return f"{self.spec.code}:{self.target_id}"


def action_data(code: str, target_id: int) -> str:
    """The callback data for ``code`` on record ``target_id``."""
    if spec_of(code) is None:
        raise ValueError(f"unknown action code {code!r}")
    if isinstance(target_id, bool) or not isinstance(target_id, int) or not 1 <= target_id <= MAX_ID:
        raise ValueError(f"bad target id {target_id!r}")
    data = f"{code}:{target_id}"
    assert len(data.encode()) <= MAX_DATA_BYTES
    return data


def parse_id(text: str | None) -> int | None:
    """A record id as a payload or a dialog button carries it (``"17"``); None unless it is plain
    ASCII digits naming a positive id the database can hold (a forged ``9999999999`` would make
    PostgreSQL's integer columns fail instead of simply finding nothing)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def button(code: str, target_id: int, label: str | None = None) -> Button:
    spec = spec_of(code)
    if spec is None:
        raise ValueError(f"unknown action code {code!r}")
    return Button(label or spec.label, action_data(code, target_id))


def parse_action(data: str | bytes | None) -> Action:
    """The action a button asks for; ``MalformedAction`` for anything that is not exactly ours."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            data = None
    if not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_DATA_BYTES:
        raise MalformedAction("按钮已失效，请重新打开事项后再操作")
    m = _DATA.fullmatch(data)
    if m is None:
        raise MalformedAction("按钮已失效，请重新打开事项后再操作")
    spec = spec_of(f"{m.group(1)}:{m.group(2)}")
    target_id = int(m.group(3))
    if spec is None or target_id > MAX_ID:
        raise MalformedAction("按钮已失效，请重新打开事项后再操作")
    return Action(spec, target_id)
