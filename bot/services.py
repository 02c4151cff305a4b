"""What every handler and job needs, built once at start-up and stored in ``bot_data``."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Settings
from bot.sender import Sender
from store.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    sender: Sender
