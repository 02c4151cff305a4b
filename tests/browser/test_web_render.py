"""How the page shows the bot's messages: Telegram's HTML subset kept, everything else escaped."""

from __future__ import annotations

import pytest

from bot.demo.web import _buttons, sanitize_telegram_html, text_to_html

BOT = "duban_demo_bot"


# ------------------------------------------------------------------ the bot's HTML, made safe
@pytest.mark.parametrize(("source", "expected"), [
    ("<b>粗</b><strong>s</strong><i>斜</i><em>e</em><u>下</u><ins>n</ins><s>删</s><del>d</del>",
     "<b>粗</b><b>s</b><i>斜</i><i>e</i><u>下</u><u>n</u><s>删</s><s>d</s>"),
    ("<code>x &lt; y</code><pre><code class=\"language-py\">a&amp;b</code></pre>",
     "<code>x &lt; y</code><pre><code>a&amp;b</code></pre>"),
    ("<blockquote expandable>引</blockquote><tg-spoiler>秘</tg-spoiler><span class=\"tg-spoiler\">密</span>",
     '<blockquote>引</blockquote><span class="tg-spoiler">秘</span><span class="tg-spoiler">密</span>'),
    ('<a href="https://example.org/?a=1&amp;b=2">链接</a>',
     '<a href="https://example.org/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">链接</a>'),
    ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
])
def test_telegram_tags_are_kept(source, expected):
    assert sanitize_telegram_html(source, BOT) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ('<b onclick="alert(1)">x</b>', "<b>x</b>"),
    ('<a href="javascript:alert(1)">x</a>', '<span class="link">x</span>'),
    ('<a href="  JaVaScRiPt:alert(1)" onmouseover="x">x</a>', '<span class="link">x</span>'),
    ('<span style="color:red">x</span>', "&lt;span style=&quot;color:red&quot;&gt;x&lt;/span&gt;"),
    ("<br/>&lt;b&gt;<!-- c -->", "&lt;br/&gt;&lt;b&gt;&lt;!-- c --&gt;"),
    ("<b>未闭合<i>也是", "<b>未闭合<i>也是</i></b>"),
    ("</i>多余的结束</b>", "&lt;/i&gt;多余的结束&lt;/b&gt;"),
    ('<a href="https://x.org/" title="&quot;><script>">t</a>',
     '<a href="https://x.org/" target="_blank" rel="noopener noreferrer">t</a>'),
])
def test_everything_else_is_escaped(source, expected):
    assert sanitize_telegram_html(source, BOT) == expected


def test_commands_and_the_bots_own_links_become_tappable():
    out = sanitize_telegram_html(
        "发送 /help 查看。https://t.me/duban_demo_bot?start=AbC-1_x 别的 https://t.me/x_bot?start=z "
        "5/10 /usr/bin <code>/help</code>", BOT)
    assert '<a href="#" class="cmd" data-cmd="/help">/help</a> 查看' in out
    assert 'data-start="AbC-1_x">https://t.me/duban_demo_bot?start=AbC-1_x</a>' in out
    assert "https://t.me/x_bot?start=z 5/10 /usr/bin <code>/help</code>" in out


def test_plain_text_is_escaped():
    assert text_to_html("<b>我</b> & /help", BOT) == "&lt;b&gt;我&lt;/b&gt; &amp; /help"


def test_buttons_keep_only_safe_links():
    rows = _buttons({"inline_keyboard": [[
        {"text": "签收", "callback_data": "ack:1"},
        {"text": "说明", "url": "https://example.org/"},
        {"text": "坏", "url": "javascript:alert(1)"},
        {"text": "复制", "copy_text": {"text": "DB-2026-001"}},
    ]]})
    assert [b["kind"] for b in rows[0]] == ["callback", "url", "unsupported", "copy"]
    assert rows[0][0]["data"] == "ack:1" and rows[0][3]["copy"] == "DB-2026-001"
