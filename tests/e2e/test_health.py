"""GET /healthz (issue 14): the role, the database and Telegram, for a monitor or a person with curl;
a bad DUBAN_HEALTH_PORT is one Chinese line; one SQLite process per file."""

from __future__ import annotations

import httpx
import pytest
from telegram.ext import ExtBot

from bot.emulator.ptb_request import EmulatorRequest
from bot.runtime import single
from bot.runtime.health import Health, HealthServer, port_from_env
from store.db import Database


@pytest.fixture
async def bot(emu):
    b = ExtBot(emu.token, request=EmulatorRequest(emu))
    await b.initialize()
    yield b
    await b.shutdown()


async def get(server: HealthServer) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{server.port}/healthz")


async def test_healthz_reports_the_role_the_database_and_telegram(db, bot):
    role = ["standby"]
    server = HealthServer(Health(db, bot, lambda: role[0], "polling"), port=0)
    await server.start()
    try:
        answer = await get(server)
        assert answer.status_code == 200
        assert answer.json() == {"role": "standby", "mode": "polling", "database": True, "telegram": True}
        role[0] = "leader"
        assert (await get(server)).json()["role"] == "leader"
    finally:
        await server.stop()


async def test_healthz_is_503_when_the_database_does_not_answer(bot):
    gone = Database("postgresql://duban:x@127.0.0.1:1/duban")  # nothing listens on port 1
    server = HealthServer(Health(gone, bot, lambda: "leader", "webhook"), port=0)
    await server.start()
    try:
        answer = await get(server)
    finally:
        await server.stop()
        await gone.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"role": "leader", "mode": "webhook", "database": False, "telegram": True}


def test_the_health_port_comes_from_the_environment():
    assert port_from_env({}) == (None, "127.0.0.1")
    assert port_from_env({"DUBAN_HEALTH_PORT": "8081", "DUBAN_HEALTH_LISTEN": "0.0.0.0"}) == (8081, "0.0.0.0")
    with pytest.raises(ValueError, match="环境变量 DUBAN_HEALTH_PORT 应为 1–65535 之间的端口号，实际为 'http'"):
        port_from_env({"DUBAN_HEALTH_PORT": "http"})


def test_the_standby_retry_interval_comes_from_the_environment(monkeypatch):
    from bot.runtime.runner import RETRY_ENV, _retry_seconds

    monkeypatch.delenv(RETRY_ENV, raising=False)
    assert _retry_seconds() == 2.0
    monkeypatch.setenv(RETRY_ENV, "0.5")
    assert _retry_seconds() == 0.5
    monkeypatch.setenv(RETRY_ENV, "30")  # a take-over must stay within 10 s
    with pytest.raises(ValueError, match="环境变量 DUBAN_LEADER_RETRY_SECONDS 应为 0.1–10 之间的秒数，实际为 '30'"):
        _retry_seconds()


def test_one_process_per_sqlite_file(tmp_path):
    path = str(tmp_path / "duban.sqlite3")
    first = single.hold(path)
    try:
        with pytest.raises(single.AlreadyRunning, match="已由另一个机器人进程使用"):
            single.hold(path)  # flock is per open file: a second open in one process is refused too
    finally:
        single.release(first)
    single.release(single.hold(path))  # free again once the first is gone
