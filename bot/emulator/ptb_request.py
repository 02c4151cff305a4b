"""In-process transport: a python-telegram-bot request class that talks to the emulator directly.

    app = (ApplicationBuilder().token(emu.token)
           .request(EmulatorRequest(emu)).get_updates_request(EmulatorRequest(emu)).build())

PTB builds URLs as `{base_url}{token}/{method}` (POST) and `{base_file_url}{token}/{file_path}`
(GET, downloads). Parameters are taken as `RequestData.json_parameters`, i.e. exactly the form
fields the default HTTPXRequest would send, so the emulator sees the same strings either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput  # the type PTB gives these parameters

import json
from urllib.parse import unquote

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from .core import Emulator
from .files import UploadedFile

__all__ = ["EmulatorRequest"]

_NOT_FOUND = json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}).encode()


class EmulatorRequest(BaseRequest):
    def __init__(self, emulator: Emulator, read_timeout: float | None = 5.0) -> None:
        self.emulator = emulator
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        token = self.emulator.token
        if method == "GET":  # BaseRequest.retrieve: a file download
            # File.download_* percent-encodes the path (the ':' of the token included)
            head, sep, file_path = unquote(url).partition(f"{token}/")
            data = self.emulator.download(file_path) if sep and "/file/" in head else None
            return (200, data) if data is not None else (404, _NOT_FOUND)
        prefix, endpoint = url.rsplit("/", 1)
        # The token is the path segment before the method ("bot<token>") unless a custom
        # base_url put it elsewhere; a wrong one gets Telegram's 401.
        sent_token = token if token in prefix else prefix.rsplit("/", 1)[-1].removeprefix("bot")
        params = dict(request_data.json_parameters) if request_data else {}
        files = {}
        if request_data and request_data.contains_files:
            for name, (filename, content, mime) in request_data.multipart_data.items():
                body = content if isinstance(content, bytes) else content.read()
                files[name] = UploadedFile(filename, body, mime)
        reply = await self.emulator.request(endpoint, params, files, token=sent_token)
        if reply.timed_out:
            # What PTB raises when httpx times out; whether the call took effect was decided
            # by the fault (delivered or lost), as with a real network.
            raise TimedOut()
        return reply.status, reply.payload()
