"""/people: people who come and go. The office deactivates a departed liaison (refused at once),
changes roles and units, hands a unit's liaison role to a colleague (who gets the unit's open
items in one message), re-invites; every change is confirmed, audited and announced."""

from __future__ import annotations

from sqlalchemy import select

from store.models import AuditEntry, OutboxMessage, Person


async def test_office_deactivates_a_liaison_who_is_refused_at_once(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    office, liaison = c.people["王敏"], c.liaison("城关镇")
    await liaison.send("/items")
    assert "道路修复" in liaison.last.text

    await office.send(f"/people {liaison.name}")
    card = office.last
    assert f"👤 {liaison.name}" in card.text and "单位：城关镇" in card.text and "角色：联络员" in card.text
    assert card.button_rows == [["停用（离岗）", "更改角色"], ["更改单位", "移交联络员"], ["重新邀请"]]
    await office.tap("停用（离岗）", card)
    assert "确认停用" in card.text and card.button_rows == [["确认停用", "取消"]]
    await office.tap("确认停用", card)
    assert "✅ 已停用，并已通知本人" in card.text and "（已停用）" in card.text
    assert "城关镇现在没有联络员" in card.text
    assert card.button_rows == [["重新邀请"]]
    assert "督查室已停用您在督办助手的账号" in liaison.last.text and "不能再查看或办理事项" in liaison.last.text

    await liaison.send("/items")
    assert "仅供受邀人员使用" in liaison.last.text
    notice = next(m for m in liaison.inbox if "签收" in m.buttons)
    await liaison.tap("签收", notice)
    assert "请先通过督查室的邀请链接绑定账号" in liaison.last_answer
    async with h.db.session() as s:
        row = await s.get(Person, c.row(liaison.name).id)
        assert row.active is False and row.telegram_id is None
        audit = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "person.deactivate"))).all()
        assert any(a.entity == "people" and a.after.get("active") is False for a in audit)
        assert audit[0].actor_id == c.row("王敏").id

    await office.forge_tap(f"pp:offy:{c.row(liaison.name).id}", card)  # an old confirmation tapped again
    assert "已经停用，无需重复操作" in office.last_answer
