"""A CallbackContext that knows our services and who is asking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.domain.acting import person_actor, system_actor
from bot.domain.directory import ensure_admin
from bot.runtime.inbox import InboxQueue
from bot.runtime.senders import AHEAD, Senders
from bot.runtime.services import Services

if TYPE_CHECKING:
    from store.audit import Actor
    from store.models import Person

_UNSET = object()


class DialogSlot:
    """The open dialog's answers so far: which dialog (``name``) and what it has collected."""

    def __init__(self, name: str, answers: dict[str, Any]) -> None:
        self.name = name
        self.answers = answers

    def __eq__(self, other: object) -> bool:  # the persistence compares what it read with what it wrote
        return isinstance(other, DialogSlot) and (self.name, self.answers) == (other.name, other.answers)

    __hash__ = None  # type: ignore[assignment]


class ChatData(dict):
    """``context.chat_data``: what the bot keeps about one chat between updates.

    The answers of the dialog open in this chat live in ONE slot (``handlers.dialogs`` lets at most
    one dialog be open): ``open`` starts a dialog's answers (dropping any other's), ``answers(name)``
    reads them while that dialog is open, ``close(name)`` ends them. Besides: the outcomes recently
    shown on tapped keyboards (``handlers.keyboards``) and the latest album (``handlers.replies``).
    Kept as dict items of plain classes, so a persistence can pickle and copy it like a dict.
    """

    def open(self, name: str, **answers: Any) -> dict[str, Any]:
        self["dialog"] = DialogSlot(name, answers)
        return answers

    def answers(self, name: str) -> dict[str, Any] | None:
        slot = self.get("dialog")
        return slot.answers if isinstance(slot, DialogSlot) and slot.name == name else None

    def close(self, name: str) -> dict[str, Any] | None:
        answers = self.answers(name)
        if answers is not None:
            del self["dialog"]
        return answers

    @property
    def open_dialog(self) -> str | None:
        slot = self.get("dialog")
        return slot.name if isinstance(slot, DialogSlot) else None


class Ctx(CallbackContext[ExtBot, dict, ChatData, dict]):
    """One per update, shared by every handler group that sees it: the person is looked up once."""

    def __init__(self, application: Application, chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self._person: Any = _UNSET

    @property
    def services(self) -> Services:
        return self.bot_data["services"]

    @property
    def senders(self) -> Senders:
        return self.bot_data["senders"]

    async def person(self, update: Update) -> Person | None:
        """The active person bound to this Telegram account (office admins are created on sight)."""
        if self._person is _UNSET:
            user = update.effective_user
            self._person = None
            if user is not None:
                svc = self.services
                if user.id in svc.settings.office.admins:
                    async with svc.db.session(system_actor("config:admins"), "person.admin_from_config") as s:
                        self._person = await ensure_admin(s, user.id, user.full_name, svc.clock.now())
                else:  # read along with the senders of the updates waiting behind this one
                    queue = self.application.update_queue
                    waiting = (lambda: queue.senders_waiting(AHEAD)) if isinstance(queue, InboxQueue) else tuple
                    self._person = await self.senders.person(user.id, waiting)
        return self._person

    async def known_person(self, update: Update) -> Person:
        """The person behind an update the gate let through: everything but ``/start`` has one."""
        person = await self.person(update)
        if person is None:
            raise RuntimeError("an update reached a handler without a bound person; the gate lets no stranger through")
        return person

    def forget_person(self) -> None:
        """After a change of binding within this update (``/start <code>``)."""
        self._person = _UNSET


def actor(person: Person) -> Actor:
    return person_actor(person)
