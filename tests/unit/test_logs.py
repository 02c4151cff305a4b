"""The token never reaches a log line: not in messages, not in tracebacks, not in stacks."""

from __future__ import annotations

import io
import logging

import pytest
from telegram.error import InvalidToken

from bot.kernel.logs import RedactingFormatter, protect_secrets, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "webhook-secret-not-token-shaped"


@pytest.fixture
def captured():
    """A handler of our own (not our formatter), so what it prints is what any handler would."""
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    protect_secrets(TOKEN, SECRET)
    yield logger, stream
    logger.removeHandler(handler)
    logging.setLogRecordFactory(factory)


def test_a_traceback_of_invalid_token_is_redacted_for_every_handler(captured):
    logger, stream = captured
    try:
        raise InvalidToken(f"The token `{TOKEN}` was rejected by the server.")
    except InvalidToken:
        logger.exception("start failed with %s", SECRET)
    text = stream.getvalue()
    assert "InvalidToken: The token `<token>` was rejected" in text and "start failed with <token>" in text
    assert TOKEN not in text and SECRET not in text


def test_a_stack_is_redacted(captured):
    logger, stream = captured
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"
    logger.warning("calling %s", url, stack_info=True)
    assert TOKEN not in stream.getvalue() and "bot<token>/getMe" in stream.getvalue()


def test_the_formatter_redacts_what_it_was_given_unredacted():
    """A record made before the secrets were known (or by another factory) is still caught."""
    try:
        raise InvalidToken(f"The token `{TOKEN}` was rejected by the server.")
    except InvalidToken as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", (TOKEN,), (type(exc), exc, exc.__traceback__))
    text = RedactingFormatter("%(message)s").format(record)
    assert TOKEN not in text and text.count("<token>") == 2


def test_anything_shaped_like_a_token_is_redacted_even_if_unknown():
    assert redact("bot987654321:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/x") == "bot<token>/x"
