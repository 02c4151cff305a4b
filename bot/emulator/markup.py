"""Telegram-style text handling: the HTML parse mode, UTF-16 offsets, auto-detected entities.

Telegram measures entity offsets and lengths in UTF-16 code units, and its HTML parser is
strict (unknown tags, unescaped "<" and unbalanced tags are errors). Emulating that strictness
is the point: a bot that forgets to escape user input must fail here as it would in production.
Error texts follow tdlib's `parse_html` wording; the caller prefixes "can't parse entities: ".
"""

from __future__ import annotations

import re

__all__ = ["EntityParseError", "parse_html", "utf16_len", "detect_entities"]


class EntityParseError(ValueError):
    pass


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Tag name -> entity type; None means "needs attributes to decide".
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_SUPPORTED = set(_SIMPLE_TAGS) | {"a", "span", "tg-emoji", "blockquote", "tg-time"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTR_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,10});")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(match: re.Match[str]) -> str | None:
    name = match.group(1)
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    else:
        return _NAMED_ENTITIES.get(name)
    return chr(code) if 0 < code <= 0x10FFFF else None


def _tag_name(source: str, pos: int) -> str:
    """The (lower-cased, possibly empty) tag name at ``pos``: the pattern matches anywhere."""
    match = _TAG_NAME.match(source, pos)
    return match.group(0).lower() if match else ""


def parse_html(source: str) -> tuple[str, list[dict]]:
    """Return (plain text, entities) for Telegram's HTML parse mode or raise EntityParseError."""
    out: list[str] = []
    pos16 = 0  # UTF-16 length of `out` so far
    stack: list[tuple[str, int, dict[str, str]]] = []  # (tag, start offset, attributes)
    entities: list[dict] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            match = _ENTITY.match(source, i)
            decoded = _decode_entity(match) if match else None
            if match is None or decoded is None:  # unknown entities stay as literal text, as in Telegram
                out.append("&")
                pos16 += 1
                i += 1
            else:
                out.append(decoded)
                pos16 += utf16_len(decoded)
                i = match.end()
            continue
        if ch != "<":
            j = i
            while j < n and source[j] not in "<&":
                j += 1
            chunk = source[i:j]
            out.append(chunk)
            pos16 += utf16_len(chunk)
            i = j
            continue
        begin = i
        if source.startswith("</", i):
            name = _tag_name(source, i + 2)
            j = i + 2 + len(name)
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, begin)}")
            tag, start, tag_attrs = stack.pop()
            if name != tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            entity = _make_entity(tag, tag_attrs, start, pos16 - start, stack)
            if entity is not None:
                entities.append(entity)
            i = j + 1
            continue
        name = _tag_name(source, i + 1)
        if name not in _SUPPORTED:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}')
        i += 1 + len(name)
        attrs: dict[str, str] = {}
        while True:
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
            if source[i] == ">":
                i += 1
                break
            attr = _ATTR_NAME.match(source, i)
            if attr is None:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {_byte_offset(source, begin)}'
                )
            key = attr.group(0).lower()
            i = attr.end()
            value = ""
            if i < n and source[i] == "=":
                i += 1
                if i < n and source[i] in "'\"":
                    quote = source[i]
                    end = source.find(quote, i + 1)
                    if end < 0:
                        raise EntityParseError(
                            f'Unclosed end of attribute value in the tag "{name}" at byte offset '
                            f"{_byte_offset(source, begin)}"
                        )
                    raw = source[i + 1 : end]
                    i = end + 1
                else:
                    j = i
                    while j < n and not source[j].isspace() and source[j] != ">":
                        j += 1
                    raw = source[i:j]
                    i = j
                value = _ENTITY.sub(lambda m: _decode_entity(m) or m.group(0), raw)
            attrs[key] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        stack.append((name, pos16, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities = [e for e in entities if e["length"] > 0]
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _make_entity(
    tag: str, attrs: dict[str, str], offset: int, length: int, outer: list[tuple[str, int, dict[str, str]]]
) -> dict | None:
    entity: dict = {"type": "", "offset": offset, "length": length}
    if tag in _SIMPLE_TAGS:
        entity["type"] = _SIMPLE_TAGS[tag]
        # <pre><code class="language-x"> gives the pre entity a language instead of a code entity
        if tag == "code" and outer and outer[-1][0] == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-"):
                outer[-1][2]["_language"] = language[len("language-") :]
                return None
        if tag == "pre" and attrs.get("_language"):
            entity["language"] = attrs["_language"]
    elif tag == "span":
        entity["type"] = "spoiler"
    elif tag == "a":
        href = attrs.get("href")
        if not href:
            return None
        entity["type"] = "text_link"
        entity["url"] = href
    elif tag == "tg-emoji":
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif tag == "tg-time":
        entity["type"] = "date_time"
        entity["unix_time"] = int(attrs.get("unix", "0") or 0)
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    return entity


_AUTO = re.compile(r"(?<![^\s(])(/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?|@[A-Za-z0-9_]{4,32})(?![\w@/])")


def detect_entities(text: str) -> list[dict]:
    """bot_command and mention entities, as Telegram adds them to messages that users send."""
    found = []
    for match in _AUTO.finditer(text):
        token = match.group(1)
        found.append(
            {
                "type": "bot_command" if token.startswith("/") else "mention",
                "offset": utf16_len(text[: match.start(1)]),
                "length": utf16_len(token),
            }
        )
    return found
