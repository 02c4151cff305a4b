"""What a service call from the chat runs with: the services, today's calendar, the time, the
document filing; and the dry run that checks a tap before anyone is asked to type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.documents.word import on_item_approved, on_item_archived
from bot.domain.errors import DomainError
from bot.domain.workdays import WorkCalendar
from bot.runtime.services import Services
from handlers.context import Ctx

if TYPE_CHECKING:
    from bot.domain.score import Rules
    from bot.kernel.config import Settings
    from store.models import Person


@dataclass(frozen=True)
class DocumentFiling:
    """``bot.domain.actions.Filing``: the printable documents, written where the settings say."""

    services: Services

    async def notice(self, session: AsyncSession, item_id: int) -> None:
        office = self.services.settings
        await on_item_approved(session, item_id, files_dir=office.storage.files_dir, office_name=office.office.name)

    async def dossier(self, session: AsyncSession, item_id: int, person: Person, now: datetime) -> None:
        office = self.services.settings
        await on_item_archived(
            session, item_id, person=person, files_dir=office.storage.files_dir, office_name=office.office.name, now=now
        )


@dataclass(frozen=True)
class Env:
    """What a service call needs besides the person and the record (``bot.domain.actions.ActionEnv``)."""

    services: Services
    calendar: WorkCalendar
    now: datetime

    @property
    def filing(self) -> DocumentFiling:
        return DocumentFiling(self.services)

    @property
    def score_rules(self) -> Rules:
        return self.services.score_rules

    @property
    def settings(self) -> Settings:
        return self.services.settings


async def env_of(context: Ctx) -> Env:
    svc = context.services
    return Env(svc, await svc.calendar(), svc.clock.now())


class _DryRun(Exception):
    pass


async def dry_run(context: Ctx, call: Callable[[AsyncSession], Awaitable[Any]]) -> DomainError | None:
    """Run ``call`` in a transaction that is always rolled back; the refusal it raised, if any."""
    try:
        async with context.services.db.session() as s:
            await call(s)
            raise _DryRun
    except _DryRun:
        return None
    except DomainError as exc:
        return exc
