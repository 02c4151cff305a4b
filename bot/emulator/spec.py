"""Checks Bot API calls (and, optionally, the emulator's own answers) against the official spec.

The spec is the machine-readable Bot API description kept outside the project (see
shared/telegram-bot-api/SOURCE.md): `methods[name].fields` and `types[name].fields/subtypes`.
It is read at run time and never copied into the project.

Form-encoded and multipart requests carry every parameter as a string, objects as JSON text
(this is what python-telegram-bot sends), so top-level values are decoded by their declared
types before checking. Nested values are checked strictly as JSON.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import UploadedFile

__all__ = ["BotApiSpec", "SpecViolation", "default_spec_path", "load_default_spec"]

log = logging.getLogger(__name__)

_PRIMITIVES = {"Integer", "Float", "Boolean", "String", "InputFile"}
_INT = re.compile(r"-?\d+\Z")
_FLOAT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
# Discriminators of union members: 'Scope type, must be chat', 'status ... always "creator"'.
_CONST = re.compile(r'(?:must be|always)\s+["\u201c]?([a-z_]+)["\u201d]?\.?\s*\Z')
_warned_missing = False
_PRIMITIVE_CHECKS = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
    "InputFile": lambda v: isinstance(v, UploadedFile),
}


def _consts_of(type_spec: dict) -> dict[str, str]:
    """The fields a union member is told apart by, with their fixed values."""
    found = {}
    for f in type_spec.get("fields", []):
        match = _CONST.search(f["description"]) if f["types"] == ["String"] else None
        if match and f["name"] in ("type", "status", "source"):
            found[f["name"]] = match.group(1)
    return found


def default_spec_path() -> Path:
    """$DUBAN_BOTAPI_SPEC, else <project root>/../shared/telegram-bot-api/api-10.0.json."""
    env = os.environ.get("DUBAN_BOTAPI_SPEC")
    if env:
        return Path(env)
    project_root = Path(__file__).resolve().parents[2]
    return project_root.parent / "shared" / "telegram-bot-api" / "api-10.0.json"


def load_default_spec() -> BotApiSpec | None:
    """The spec at default_spec_path(), or None with one loud warning per process."""
    global _warned_missing
    path = default_spec_path()
    try:
        return BotApiSpec.from_file(path)
    except (OSError, ValueError, KeyError) as exc:
        if not _warned_missing:
            _warned_missing = True
            text = (
                f"Bot API spec not usable at {path} ({exc}); the Telegram emulator will NOT "
                f"check requests against the spec. Set DUBAN_BOTAPI_SPEC to fix this."
            )
            log.warning(text)
            print(f"WARNING: {text}", file=sys.stderr)
        return None


def _describe(value: Any) -> str:
    kind = {
        bool: "Boolean",
        int: "Integer",
        float: "Float",
        str: "String",
        list: "Array",
        dict: "Object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text[:60] + '...' if len(text) > 60 else text}"


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=2)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


@dataclass(frozen=True)
class SpecViolation:
    method: str
    params: dict
    problem: str

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v!r}"[:80] for k, v in self.params.items())
        return f"{self.method}({shown}): {self.problem}"


class BotApiSpec:
    def __init__(self, data: dict, source: str = "") -> None:
        self.version: str = data.get("version", "?")
        self.source = source
        self.methods: dict[str, dict] = data["methods"]
        self.types: dict[str, dict] = data["types"]
        self._by_lower = {name.lower(): name for name in self.methods}
        self._fields = {name: {f["name"]: f for f in m.get("fields", [])} for name, m in self.methods.items()}
        # Per type, built once: every request and every answer is checked against them.
        self._type_fields = {name: {f["name"]: f for f in t.get("fields", [])} for name, t in self.types.items()}
        self._type_consts = {name: _consts_of(t) for name, t in self.types.items()}

    @classmethod
    def from_file(cls, path: str | Path) -> BotApiSpec:
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh), source=str(path))

    def canonical(self, method: str) -> str | None:
        """Method names are case-insensitive in the Bot API."""
        return self._by_lower.get(method.lower())

    def fields(self, method: str) -> dict[str, dict]:
        return self._fields[method]

    # --- requests -------------------------------------------------------------------------
    def check_call(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Decode string parameters by their declared types; return (decoded, problems)."""
        fields = self._fields[method]
        decoded: dict[str, Any] = {}
        problems: list[str] = []
        for name, raw in params.items():
            spec = fields.get(name)
            if spec is None:
                problems.append(f"unknown parameter '{name}'{_hint(name, fields)}")
                decoded[name] = raw
                continue
            value = decoded[name] = self.decode(raw, spec["types"])
            problems += self.check_value(value, spec["types"], name)
        for name, spec in fields.items():
            if spec["required"] and name not in params:
                problems.append(f"missing required parameter '{name}' ({' or '.join(spec['types'])})")
        return decoded, problems

    def decode(self, value: Any, types: list[str]) -> Any:
        """A string as sent in a form field -> the typed value it stands for."""
        if not isinstance(value, str):
            return value
        if "Integer" in types and _INT.match(value):
            return int(value)
        if "Float" in types and _FLOAT.match(value):
            return float(value)
        if "Boolean" in types and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if any(t not in _PRIMITIVES for t in types) and value.lstrip()[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    # --- values ---------------------------------------------------------------------------
    def check_value(self, value: Any, types: list[str], path: str) -> list[str]:
        """Problems of `value` against a union of spec types; [] if it fits one of them."""
        candidates = []
        for type_name in types:
            problems = self._check(value, type_name, path)
            if not problems:
                return []
            if not self._shallow(value, type_name):
                candidates.append((-self._affinity(value, type_name), len(problems), problems))
        if candidates:  # right JSON kind, wrong content: explain the most likely intended type
            return min(candidates, key=lambda c: c[:2])[2]
        return [f"{path}: expected {' or '.join(types)}, got {_describe(value)}"]

    def _affinity(self, value: Any, type_name: str) -> int:
        """How many of the object's keys this type knows: a guess at what the caller meant."""
        while type_name.startswith("Array of "):
            if not (isinstance(value, list) and value):
                return 0
            value, type_name = value[0], type_name[len("Array of ") :]
        spec = self.types.get(type_name)
        if not isinstance(value, dict) or spec is None:
            return 0
        if spec.get("subtypes"):
            return max(self._affinity(value, t) for t in spec["subtypes"])
        return len(self._type_fields[type_name].keys() & value.keys()) + sum(
            2 for k, v in self._consts(type_name).items() if value.get(k) == v
        )

    def _shallow(self, value: Any, type_name: str) -> bool:
        """True if the value is not even the right JSON kind for this type."""
        if type_name.startswith("Array of "):
            return not isinstance(value, list)
        if type_name in _PRIMITIVES:
            return True
        return not isinstance(value, dict)

    def _check(self, value: Any, type_name: str, path: str) -> list[str]:
        if type_name.startswith("Array of "):
            inner = type_name[len("Array of ") :]
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {_describe(value)}"]
            problems: list[str] = []
            for i, item in enumerate(value):
                problems += self.check_value(item, [inner], f"{path}[{i}]")
            return problems
        ok = _PRIMITIVE_CHECKS.get(type_name)
        if ok is not None:
            return [] if ok(value) else [f"{path}: expected {type_name}, got {_describe(value)}"]
        spec = self.types.get(type_name)
        if spec is None:
            return [f"{path}: spec has no type {type_name}"]
        if not isinstance(value, dict):
            return [f"{path}: expected {type_name} object, got {_describe(value)}"]
        if spec.get("subtypes"):
            return self._check_union(value, type_name, spec["subtypes"], path)
        return self._check_object(value, type_name, spec, path)

    def _check_union(self, value: dict, type_name: str, subtypes: list[str], path: str) -> list[str]:
        matching = [t for t in subtypes if self._consts_match(value, t)]
        for subtype in matching:
            if not self._check(value, subtype, path):
                return []
        if matching:
            return self._check(value, matching[0], path)
        consts = {k: v for t in subtypes for k, v in self._consts(t).items()}
        wanted = sorted({v for t in subtypes for v in self._consts(t).values()})
        key = next(iter(consts), "type")
        return [
            f"{path}: {value.get(key)!r} is not a valid {key} for {type_name} (expected one of {', '.join(wanted)})"
        ]

    def _consts(self, type_name: str) -> dict[str, str]:
        return self._type_consts.get(type_name, {})

    def _consts_match(self, value: dict, type_name: str) -> bool:
        return all(value.get(k) == v for k, v in self._consts(type_name).items())

    def _check_object(self, value: dict, type_name: str, spec: dict, path: str) -> list[str]:
        fields = self._type_fields[type_name]
        problems: list[str] = []
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                problems.append(f"{path}.{key}: unknown field of {type_name}{_hint(key, fields)}")
                continue
            problems += self.check_value(item, field["types"], f"{path}.{key}")
        for key, field in fields.items():
            if field["required"] and key not in value:
                problems.append(f"{path}: {type_name} lacks required field '{key}'")
        for key, const in self._consts(type_name).items():
            if key in value and value[key] != const:
                problems.append(f"{path}.{key}: must be {const!r} for {type_name}")
        return problems

    # --- answers (self-check of the emulator) ---------------------------------------------
    def check_result(self, method: str, result: Any) -> list[str]:
        returns = self.methods[method].get("returns", [])
        # "True" results are declared as Boolean in the scraped spec.
        return self.check_value(result, returns, "result") if returns else []
