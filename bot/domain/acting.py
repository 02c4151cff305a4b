"""Who a change is recorded under in the audit trail: a person, the system, or a stranger's account.

The chat opens its sessions with one of these (``Database.session(actor)``); it never builds the
store's ``Actor`` itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.audit import Actor

if TYPE_CHECKING:
    from store.models import Person


def person_actor(person: Person) -> Actor:
    return Actor(person.id, person.name)


def system_actor(source: str) -> Actor:
    """A change the bot makes on its own, e.g. ``config:admins``."""
    return Actor.system(source)


def account_actor(telegram_id: int) -> Actor:
    """A Telegram account not bound to a person yet (redeeming an invitation)."""
    return Actor(None, f"telegram:{telegram_id}")
