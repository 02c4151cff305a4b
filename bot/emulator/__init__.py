"""A Telegram Bot API emulator for end-to-end tests, benchmarks and a browser sandbox.

It runs the real, unmodified python-telegram-bot Application with no internet. It imports
nothing from the rest of the project on purpose: it must not share the bot's assumptions.

    emu = Emulator()                      # core.py: state + Bot API methods + user side
    EmulatorRequest(emu)                  # ptb_request.py: in-process PTB transport
    EmulatorServer(emu)                   # http.py: the same over HTTP (tornado)
    alice = emu.person("张三")            # driver.py: conversation-style tests

The PTB transport is not imported here so that the core needs no `telegram` package.
"""

from .core import DEFAULT_TOKEN, ApiError, CallRecord, Emulator, Event, Reply, Stats
from .driver import BotMessage, Group, Person
from .faults import FAULT_KINDS, Fault
from .files import UploadedFile
from .limits import FakeClock, FloodLimits
from .spec import BotApiSpec, SpecViolation, default_spec_path

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "CallRecord",
    "Emulator",
    "Event",
    "Reply",
    "Stats",
    "BotMessage",
    "Group",
    "Person",
    "FAULT_KINDS",
    "Fault",
    "UploadedFile",
    "FakeClock",
    "FloodLimits",
    "BotApiSpec",
    "SpecViolation",
    "default_spec_path",
]
