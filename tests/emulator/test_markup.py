"""Telegram's HTML parse mode, UTF-16 offsets and auto-detected command entities."""

import pytest

from bot.emulator.markup import EntityParseError, detect_entities, parse_html, utf16_len


def test_plain_text_and_escapes():
    text, entities = parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#20013;&#x6587; &nbsp;")
    assert text == 'a <b> & "c" 中文 &nbsp;'  # unknown named entities stay literal
    assert entities == []


def test_entities_use_utf16_offsets():
    text, entities = parse_html("😀<b>督办</b> <i>x</i>")
    assert text == "😀督办 x"
    assert entities == [
        {"type": "bold", "offset": 2, "length": 2},
        {"type": "italic", "offset": 5, "length": 1},
    ]
    assert utf16_len("😀督") == 3


def test_nested_links_pre_and_spoiler():
    source = ('<b>粗<i>斜</i></b><a href="https://e.example/?a=1&amp;b=2">链接</a>'
              '<pre><code class="language-python">x=1</code></pre>'
              '<span class="tg-spoiler">秘</span><blockquote expandable>引</blockquote>')
    text, entities = parse_html(source)
    assert text == "粗斜链接x=1秘引"
    by_type = {e["type"]: e for e in entities}
    assert by_type["bold"] == {"type": "bold", "offset": 0, "length": 2}
    assert by_type["italic"]["offset"] == 1
    assert by_type["text_link"]["url"] == "https://e.example/?a=1&b=2"
    assert by_type["pre"] == {"type": "pre", "offset": 4, "length": 3, "language": "python"}
    assert "code" not in by_type
    assert by_type["spoiler"]["offset"] == 7
    assert by_type["expandable_blockquote"]["offset"] == 8


@pytest.mark.parametrize("source, error", [
    ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ("<br>", 'Unsupported start tag "br" at byte offset 0'),
    ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("<b", "Unclosed start tag at byte offset 0"),
    ("中<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
])
def test_malformed_html_is_rejected_like_telegram(source, error):
    with pytest.raises(EntityParseError) as info:
        parse_html(source)
    assert str(info.value) == error


def test_detect_commands_and_mentions():
    assert detect_entities("/start abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert detect_entities("/start@duban_bot x") == [
        {"type": "bot_command", "offset": 0, "length": 16}]
    assert detect_entities("请 @duban_bot 看看 /help") == [
        {"type": "mention", "offset": 2, "length": 10},
        {"type": "bot_command", "offset": 16, "length": 5},
    ]
    assert detect_entities("a/b 1/2 http://x/y") == []
