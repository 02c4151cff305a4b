"""One structured line per update and per message sent, and the token never in the logs."""

import logging

from bot.kernel.logs import RedactTokens
from tests.e2e.conftest import ADMIN_ID


async def test_each_update_and_each_send_is_one_line_without_the_token(harness, caplog):
    caplog.set_level(logging.INFO)
    admin = harness.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/help")
    updates = [r.getMessage() for r in caplog.records if r.name == "duban.update"]
    sends = [r.getMessage() for r in caplog.records if r.name == "duban.send"]
    assert len(updates) == 1
    assert updates[0].startswith("event=update ") and f"user={ADMIN_ID}" in updates[0]
    assert "command=/help" in updates[0] and "outcome=ok" in updates[0]
    assert any(s.startswith("event=api method=sendMessage") and f"chat={ADMIN_ID}" in s for s in sends)
    token = harness.emu.token
    assert all(token not in r.getMessage() for r in caplog.records)


def test_redaction_removes_tokens_wherever_they_appear():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                               "POST https://api.telegram.org/bot%s/sendMessage %s", 
                               ("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "secret-x"), None)
    RedactTokens("secret-x").filter(record)
    assert record.getMessage() == "POST https://api.telegram.org/bot<token>/sendMessage <token>"
