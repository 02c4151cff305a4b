"""Emulator-local fixtures: an emulator with a fake clock, and PTB bots over both transports."""

from __future__ import annotations

import contextlib
import socket

import pytest
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder

from bot.emulator import Emulator, FakeClock
from bot.emulator.http import EmulatorServer
from bot.emulator.ptb_request import EmulatorRequest


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu_options() -> dict:
    """Override in a test module to configure the emulator (limits are off unless asked for)."""
    return {}


@pytest.fixture
async def emu(clock, emu_options):
    emulator = Emulator(**{"clock": clock, "self_check": True, "limits": None, **emu_options})
    yield emulator
    await emulator.aclose()
    # Tests that provoke violations on purpose clear them after checking.
    assert [str(v) for v in emulator.violations] == []


class Transport:
    """How a PTB bot reaches the emulator: in-process request objects or a real HTTP server."""

    def __init__(self, kind: str, emu: Emulator, server: EmulatorServer | None = None) -> None:
        self.kind, self.emu, self.server = kind, emu, server

    def bot_kwargs(self, **request_kwargs) -> dict:
        if self.kind == "inprocess":
            return {"request": EmulatorRequest(self.emu),
                    "get_updates_request": EmulatorRequest(self.emu)}
        kwargs = {"base_url": self.server.base_url, "base_file_url": self.server.base_file_url}
        if request_kwargs:
            from telegram.request import HTTPXRequest
            kwargs["request"] = HTTPXRequest(**request_kwargs)
        return kwargs

    def make_bot(self, token: str | None = None, **request_kwargs) -> Bot:
        return Bot(token or self.emu.token, **self.bot_kwargs(**request_kwargs))

    def builder(self) -> ApplicationBuilder:
        builder = ApplicationBuilder().token(self.emu.token)
        if self.kind == "inprocess":
            return builder.request(EmulatorRequest(self.emu)).get_updates_request(
                EmulatorRequest(self.emu))
        return builder.base_url(self.server.base_url).base_file_url(self.server.base_file_url)


@pytest.fixture(params=["inprocess", "http"])
async def transport(request, emu):
    if request.param == "inprocess":
        yield Transport("inprocess", emu)
        return
    server = EmulatorServer(emu)
    await server.start()
    yield Transport("http", emu, server)
    await emu.aclose()  # wake long polls before the server closes its connections
    await server.stop()


@pytest.fixture
async def bot(transport):
    async with transport.make_bot() as ptb_bot:
        yield ptb_bot


@contextlib.asynccontextmanager
async def _polling(app: Application, emu: Emulator):
    """Run a PTB Application with long polling; settle() waits for its handlers."""
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=2)
    emu.settle_hook = app.update_queue.join
    try:
        yield app
    finally:
        emu.settle_hook = None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
def polling():
    """`async with polling(app, emu): ...`"""
    return _polling


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
