"""HTTP transport: the emulator served by tornado, so an unmodified bot can reach it by URL.

    server = EmulatorServer(emu)
    await server.start()
    app = (ApplicationBuilder().token(emu.token)
           .base_url(server.base_url).base_file_url(server.base_file_url).build())

Routes: `/bot{token}/{method}` (GET or POST; query string, application/json,
x-www-form-urlencoded or multipart/form-data) and `/file/bot{token}/{file_path}`. More tornado
handlers (a browser sandbox, say) can be mounted with `extra_handlers=` or `add_handlers()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from .core import Emulator
from .files import MAX_UPLOAD, UploadedFile

__all__ = ["EmulatorServer"]

log = logging.getLogger(__name__)


def _error_body(code: int, description: str) -> bytes:
    return json.dumps({"ok": False, "error_code": code, "description": description}).encode()


class _Base(tornado.web.RequestHandler):
    def initialize(self, server: EmulatorServer) -> None:
        self.server = server
        self.emu = server.emu

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # JSON like Telegram
        self.set_header("Content-Type", "application/json")
        self.finish(_error_body(status_code, self._reason))


class _ApiHandler(_Base):
    async def get(self, token: str, method: str) -> None:
        await self._handle(token, method)

    async def post(self, token: str, method: str) -> None:
        await self._handle(token, method)

    async def _handle(self, token: str, method: str) -> None:
        params: dict[str, Any] = {k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()}
        files: dict[str, UploadedFile] = {}
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            try:
                body = json.loads(self.request.body or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(400, _error_body(400, "Bad Request: can't parse JSON object"))
                return
            params.update(body)
        else:  # tornado has parsed urlencoded and multipart bodies already
            params.update({k: v[-1].decode("utf-8", "replace") for k, v in self.request.body_arguments.items()})
            for name, parts in self.request.files.items():
                part = parts[-1]
                files[name] = UploadedFile(part.filename, part.body, part.content_type or "application/octet-stream")
        reply = await self.emu.request(method, params, files, token=token)
        if reply.timed_out:
            # Stay silent so the client's read timeout fires, as with a real lost answer.
            await self.server.hang(reply.hang)
        self._send(reply.status, reply.payload())

    def _send(self, status: int, payload: bytes) -> None:
        # tornado types the connection as its Optional HTTPConnection interface; ours is an
        # HTTP1Connection, which has the stream.
        if self.request.connection.stream.closed():  # type: ignore[union-attr]
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            self.finish(payload)


class _FileHandler(_Base):
    async def get(self, token: str, file_path: str) -> None:
        data = self.emu.download(file_path) if token == self.emu.token else None
        if data is None:
            self.set_status(404)
            self.set_header("Content-Type", "application/json")
            self.finish(_error_body(404, "Not Found"))
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(data)


class _NotFound(_Base):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(_error_body(404, "Not Found"))


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # 4xx/429 answers are the emulator working as intended, not server trouble: debug level.
    log.debug(
        "%d %s %.2fms",
        handler.get_status(),
        handler._request_summary(),  # noqa: SLF001 — tornado's own access-log line
        1000.0 * handler.request.request_time(),
    )


class EmulatorServer:
    def __init__(
        self, emu: Emulator, host: str = "127.0.0.1", port: int = 0, extra_handlers: list | None = None
    ) -> None:
        self.emu = emu
        self.host = host
        self.port = port
        self.extra_handlers = list(extra_handlers or [])
        self.app: tornado.web.Application | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._stopping = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For PTB's ApplicationBuilder().base_url(...)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        args = {"server": self}
        handlers = [
            (r"/bot([^/]+)/([A-Za-z0-9_]+)/?", _ApiHandler, args),
            (r"/file/bot([^/]+)/(.+)", _FileHandler, args),
            *self.extra_handlers,
        ]
        self.app = tornado.web.Application(
            handlers, default_handler_class=_NotFound, default_handler_args=args, log_function=_log_request
        )
        sockets = tornado.netutil.bind_sockets(self.port, self.host)
        self._server = tornado.httpserver.HTTPServer(self.app, max_body_size=MAX_UPLOAD + 1024 * 1024)
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    def add_handlers(self, handlers: list) -> None:
        """Mount more tornado handlers on the running server."""
        assert self.app is not None, "start() first"
        self.app.add_handlers(r".*", handlers)

    async def hang(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for: see _wait_change in core.py
                await self._stopping.wait()

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
