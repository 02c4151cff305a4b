"""Files kept by the emulator: uploads from the bot and from users, addressed by file_id/file_path."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass, field
from itertools import count
from typing import Any

__all__ = ["UploadedFile", "StoredFile", "FileStore", "MAX_DOWNLOAD", "MAX_UPLOAD"]

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram does
MAX_UPLOAD = 50 * 1024 * 1024  # multipart uploads bigger than this get 413

# Two sizes per photo: Telegram sends several; the bytes are the same here, the dimensions differ.
_PHOTO_SIZES = ((320, 240), (1280, 960))


@dataclass
class UploadedFile:
    """One multipart part as it arrived from the bot (name, bytes, MIME type)."""

    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document"
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    extra: dict = field(default_factory=dict)  # width/height for photo sizes

    def file_json(self) -> dict:
        """The File object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class FileStore:
    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._seq = count(1)
        self._photo_sets: dict[str, list[StoredFile]] = {}  # any size's file_id -> all sizes

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)

    def _store(self, kind: str, data: bytes, ext: str, **kw: Any) -> StoredFile:
        n = next(self._seq)
        digest = hashlib.sha1(data).hexdigest()[:10]
        # Prefixes mimic Telegram's (AgAC photos, BQAC documents) so ids look realistic in logs.
        prefix = "AgAC" if kind == "photo" else "BQAC"
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id=f"{prefix}{n:06d}{digest}EMU",
            file_unique_id=f"AQAD{n:06d}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{n}{ext}",
            **kw,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def add_photo(self, data: bytes) -> list[dict]:
        """Store a photo; return its PhotoSize array (smallest first, as Telegram orders it)."""
        sizes = [self._store("photo", data, ".jpg", extra={"width": w, "height": h}) for w, h in _PHOTO_SIZES]
        for stored in sizes:
            self._photo_sets[stored.file_id] = sizes
        return [self.photo_size(stored) for stored in sizes]

    def add_document(self, data: bytes, file_name: str | None, mime_type: str | None) -> dict:
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        mime = mime_type or (mimetypes.guess_type(file_name or "")[0]) or "application/octet-stream"
        stored = self._store("document", data, ext, file_name=file_name, mime_type=mime)
        return self.document(stored)

    @staticmethod
    def photo_size(stored: StoredFile) -> dict:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            **stored.extra,
        }

    @staticmethod
    def document(stored: StoredFile) -> dict:
        doc: dict[str, str | int] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        doc["file_size"] = len(stored.data)
        return doc

    def photo_sizes_of(self, stored: StoredFile) -> list[dict]:
        """Re-sending a photo by file_id: Telegram answers with the full set of sizes again."""
        sizes = self._photo_sets.get(stored.file_id)
        return [self.photo_size(s) for s in sizes] if sizes else self.add_photo(stored.data)
