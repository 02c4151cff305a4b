"""What the Emulator's two mixins (methods.py, users.py) use of it, declared for the type checker.

`core.Emulator` sets every attribute in its __init__ and defines every method; this class only
names them (annotations without values create nothing at run time), so each mixin is checked
against the state it shares instead of being an untyped bag.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .files import FileStore
    from .state import ChatState, Stats


class EmulatorHost:
    bot_user: dict[str, Any]
    group_privacy: bool
    think_time: float
    clock: Callable[[], float]

    users: dict[int, dict]
    chats: dict[int, ChatState]
    started: set[int]
    blocked: set[int]
    files: FileStore
    commands: dict[tuple, list[dict]]
    callback_queries: dict[str, dict]
    callback_answers: dict[str, dict]
    profile: dict[str, dict]
    stats: Stats

    webhook: dict | None
    _webhook_task: asyncio.Task | None
    _pending: list[dict]
    _allowed: list[str] | None
    _poll_generation: int
    _closed: bool
    _user_ids: itertools.count[int]
    _group_ids: itertools.count[int]
    _query_ids: itertools.count[int]
    _media_groups: itertools.count[int]

    if TYPE_CHECKING:  # defined by core.Emulator

        @property
        def bot_id(self) -> int: ...

        def _bump(self) -> None: ...

        async def _wait_change(self, timeout: float | None) -> None: ...

        def _emit(self, kind: str, chat_id: int | None, data: dict) -> None: ...

        def _now(self) -> int: ...

        def _chat_id(self, value: Any) -> int | None: ...

        def _store(
            self,
            chat: ChatState,
            sender: dict,
            content: dict,
            *,
            reply_to: dict | None = None,
            markup: dict | None = None,
        ) -> dict: ...

        async def _webhook_loop(self) -> None: ...

        def _enqueue(self, kind: str, payload: dict) -> dict | None: ...
