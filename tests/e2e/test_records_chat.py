"""电话督查, 实地督查 (明查, 暗访, 预告) and 通报 through the chat, as the office and the units live them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.domain.dossier import dossier
from store.models import OutboxMessage
from store.records import Bulletin, SupervisionRecord
from store.score import ScoreEvent
from store.workflow import Attachment, Item

PHOTO = b"\xff\xd8\xff\xe0 fake jpeg: the broken road"


async def rows(db, model, *where):
    async with db.session() as s:
        return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


async def timeline(c, item_id, who="王敏"):
    async with c.h.db.session() as s:
        d = await dossier(s, item_id, c.rows[who])
    return [(e.label, e.unit, e.text) for e in d.entries]


async def test_a_phone_record_is_confirmed_by_the_unit(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item(assists=("县交通运输局",))
    wang, liaison = c.people["王敏"], c.liaison("城关镇")

    await wang.send("/call 1")
    assert "督字〔2026〕1号" in wang.last.text and wang.last.buttons == ["城关镇（主办）", "县交通运输局（协办）", "取消"]
    await wang.tap("城关镇（主办）")
    assert "请输入通话对象" in wang.last.text
    await wang.send("张伟 副镇长")
    await wang.send("明天 9:00")
    assert "看不懂" in wang.last.text
    await wang.send("昨天 15:30")
    assert "请输入通话内容" in wang.last.text
    await wang.send("询问东环路修复进度，对方称东段已完工，西段正在施工。")
    await wang.send("3月20日前全部完工并报送照片")
    assert "已记录电话督查" in wang.last.text and "1位联络员" in wang.last.text

    note = liaison.last
    assert "电话督查记录" in note.text and "张伟 副镇长" in note.text and "2026-03-09 15:30" in note.text
    assert "3月20日前全部完工" in note.text and note.buttons == ["确认", "有异议"]
    await liaison.tap("确认")
    assert liaison.last_answer == "已确认" and note.buttons == ["✅ 已确认"]

    (record,) = await rows(c.h.db, SupervisionRecord)
    assert (record.form, record.confirmation, record.confirmed_by_id) == ("phone", "confirmed", c.row(liaison).id)
    assert (record.contact, record.promise) == ("张伟 副镇长", "3月20日前全部完工并报送照片")

    # A second tap, and someone else's forged tap, change nothing.
    await liaison.forge_tap(f"c:ok:{record.id}")
    assert "已确认，无需重复" in liaison.last_answer
    other = c.liaison("县交通运输局")
    await other.forge_tap(f"c:ok:{record.id}")
    assert other.last_answer == "无权查看"  # not even whose record it is
    entries = await timeline(c, item_id)
    assert ("电话督查", "城关镇", "询问东环路修复进度，对方称东段已完工，西段正在施工。") in entries
    assert [e[0] for e in entries].index("确认电话督查记录") > [e[0] for e in entries].index("电话督查")


async def test_a_disagreement_goes_back_to_the_office(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item()
    wang, liaison = c.people["王敏"], c.liaison("城关镇")
    await wang.send("/call")
    assert "请输入事项编号" in wang.last.text
    await wang.send("99")
    assert "没有找到督字〔2026〕99号" in wang.last.text
    await wang.send("1")  # one unit only: no question
    assert "单位：城关镇" in wang.inbox[-2].text and "请输入通话对象" in wang.last.text
    await wang.send("张伟")
    await wang.tap("现在")
    await wang.send("催办路面修复。")
    await wang.tap("无")
    assert "已记录电话督查" in wang.last.text

    await liaison.tap("有异议")
    assert "请说明异议内容" in liaison.last.text
    await liaison.send("我方已说明西段3月15日完工，记录有误。")
    assert "已将您的异议转交督查室" in liaison.last.text
    assert liaison.inbox[-3].buttons == ["⚠️ 已提出异议"]
    alert = wang.newest("电话督查记录有异议")
    assert "我方已说明西段3月15日完工，记录有误。" in alert.text and "催办路面修复" in alert.text
    assert not any("有异议" in (m.text or "") for m in c.people["李强"].inbox)  # the recorder, not every office

    (record,) = await rows(c.h.db, SupervisionRecord)
    assert (record.confirmation, record.dispute) == ("disputed", "我方已说明西段3月15日完工，记录有误。")
    await liaison.forge_tap(f"c:ok:{record.id}")
    assert "已对这份电话督查记录提出异议" in liaison.last_answer
    assert ("对电话督查记录有异议", "城关镇", "我方已说明西段3月15日完工，记录有误。") in await timeline(c, item_id)


async def test_a_confidential_items_phone_record_carries_no_content(demo_county, demo_item):
    c = demo_county
    await demo_item("涉密测试事项", confidential=True)
    wang, liaison = c.people["王敏"], c.liaison("城关镇")
    await wang.send("/call 1")
    assert "涉密事项" in wang.inbox[-2].text and "涉密测试事项" not in wang.inbox[-2].text
    await wang.send("张伟")
    await wang.tap("现在")
    await wang.send("核实涉密内容的办理情况。")
    await wang.tap("无")
    assert "请通知该单位到督查室核对确认" in wang.last.text
    note = liaison.last
    assert "涉密" in note.text and "督字〔2026〕1号" in note.text and note.buttons == []
    assert "核实涉密内容" not in note.text and "涉密测试事项" not in note.text
    (record,) = await rows(c.h.db, SupervisionRecord)
    assert record.confirmation == "none"


async def test_visits_announced_and_unannounced(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item(assists=("县交通运输局",))
    wang, liaison, other = c.people["王敏"], c.liaison("城关镇"), c.liaison("县交通运输局")

    # 预告 (an announced visit): the liaisons are told beforehand.
    await wang.send("/visit 1")
    await wang.tap("城关镇（主办）")
    assert "暗访：不事先通知" in wang.last.text
    await wang.tap("预告明查（通知单位）")
    await wang.send("3月12日上午检查东环路施工现场")
    assert "已将实地督查预告发给城关镇1位联络员" in wang.last.text
    assert "实地督查预告" in liaison.last.text and "3月12日上午检查东环路施工现场" in liaison.last.text

    # 明查 with two photos: the record goes to the unit.
    await wang.send("/visit 1")
    await wang.tap("城关镇（主办）")
    await wang.tap("明查")
    await wang.tap("现在")
    await wang.send("东段路面平整，西段仍有三处坑槽未修补。")
    assert "请发送现场照片" in wang.last.text
    await wang.send("这是文字")
    assert wang.last.text == "请按提示输入文字或点选按钮，或发送 /cancel 取消。"
    await wang.send_photo(PHOTO)
    await wang.send_photo(PHOTO + b"2")
    assert "已收到2个附件" in wang.last.text
    await wang.tap("完成")
    assert "已记录实地督查：督字〔2026〕1号，城关镇，现场照片2张" in wang.last.text
    note = liaison.last
    assert "实地督查记录" in note.text and "三处坑槽" in note.text and "现场照片：2张" in note.text

    # 暗访 of the assisting unit: nobody in the unit hears of it, before or after.
    seen = len(other.inbox)
    await wang.send("/visit 1")
    await wang.tap("县交通运输局（协办）")
    await wang.tap("暗访")
    await wang.send("昨天 10:00")
    await wang.send("施工现场无人作业，未设置安全警示。")
    await wang.send_photo(PHOTO + b"3")
    await wang.tap("完成")
    assert "已记录实地督查（暗访）" in wang.last.text and "不发给单位" in wang.last.text
    assert len(other.inbox) == seen
    async with c.h.db.session() as s:
        unread = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.person_id.in_([c.row(other).id, c.row(c.head("县交通运输局")).id]),
            OutboxMessage.text.contains("无人作业")))
    assert unread == 0

    visits = await rows(c.h.db, SupervisionRecord)
    assert [(v.form, v.unannounced, v.unit.name) for v in visits] == [("onsite", False, "城关镇"),
                                                                      ("onsite", True, "县交通运输局")]
    photos = await rows(c.h.db, Attachment, Attachment.owner_kind == "supervision")
    assert [(p.owner_id, p.size) for p in photos] == [(visits[0].id, len(PHOTO)), (visits[0].id, len(PHOTO) + 1),
                                                      (visits[1].id, len(PHOTO) + 1)]
    assert all(Path(p.local_path).read_bytes()[:4] == PHOTO[:4] for p in photos)

    # The office sees both on the timeline; the unit's view leaves the 暗访 out, with its photo.
    office_view = await timeline(c, item_id)
    assert ("实地督查", "城关镇", "东段路面平整，西段仍有三处坑槽未修补。") in office_view
    assert ("实地督查（暗访）", "县交通运输局", "施工现场无人作业，未设置安全警示。") in office_view
    async with c.h.db.session() as s:
        unit_view = await dossier(s, item_id, c.row(other))
    assert "实地督查（暗访）" not in [e.label for e in unit_view.entries]
    assert len(unit_view.attachments) == 2 and all(a.owner_label == "实地督查" for a in unit_view.attachments)


async def test_bulletins_go_to_every_liaison_and_count(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item(assists=("县交通运输局",))
    wang = c.people["王敏"]
    await wang.send("/bulletin 1")
    await wang.tap("县交通运输局（协办）")
    await wang.tap("通报批评")
    assert wang.last.buttons[:4] == ["第八条（一） 重要工作部署落实不到位被通报批评", "第八条（二） 民生工程、重点项目进度落后被通报批评",
                                     "第八条（三） 重要会议决定事项未落实到位被通报批评", "第八条（六） 其他督办事项无正当理由未落实到位"]
    await wang.tap("第八条（六） 其他督办事项无正当理由未落实到位")
    await wang.send("协办任务未按时完成，且未说明理由。")
    preview = wang.last
    assert "（预览，尚未发布）" in preview.text and "关于对县交通运输局通报批评的通报" in preview.text
    assert "城区主干道破损路面修复" in preview.text and "扣5分" in preview.text and preview.buttons == ["发布", "取消"]
    assert await rows(c.h.db, Bulletin) == []
    await wang.tap("发布")
    assert "通报已发布（2026年第1期），已发送21人" in wang.last.text and "−5分" in wang.last.text

    liaisons = [p for p in c.people.values() if "liaison" in c.row(p).roles]
    assert len(liaisons) == 20
    for person in [*liaisons, c.head("县交通运输局")]:
        m = person.newest("督查通报")
        assert "2026年第1期" in m.text and "协办任务未按时完成" in m.text
    assert not any("督查通报" in (m.text or "") for m in c.head("城关镇").inbox)

    (b,) = await rows(c.h.db, Bulletin)
    (event,) = await rows(c.h.db, ScoreEvent)
    assert (b.kind, b.rule, b.unit.name, b.score_event_id) == ("criticism", "criticism.other", "县交通运输局", event.id)
    assert (event.points, event.rule, event.item_id, event.unit_id) == (-5, "criticism.other", item_id, b.unit_id)
    assert ("通报批评", "县交通运输局", "协办任务未按时完成，且未说明理由。") in await timeline(c, item_id)

    # A commendation on a confidential item names only its number.
    await demo_item("涉密专项整治", confidential=True)
    await wang.send("/bulletin 2")
    await wang.tap("通报表扬")
    await wang.send("提前完成，成效明显。")
    assert "加5分" in wang.last.text and "涉密专项整治" not in wang.last.text
    await wang.tap("发布")
    m = c.liaison("新马桥镇").newest("2026年第2期")
    assert "督字〔2026〕2号" in m.text and "涉密" in m.text
    assert "涉密专项整治" not in m.text and "提前完成" not in m.text
    events = await rows(c.h.db, ScoreEvent)
    assert [(e.rule, e.points) for e in events] == [("criticism.other", -5), ("commendation", 5)]


async def test_only_the_office_records_and_mistakes_change_nothing(demo_county, demo_item):
    c = demo_county
    await demo_item()
    liaison, wang = c.liaison("城关镇"), c.people["王敏"]
    for command in ("/call 1", "/visit 1", "/bulletin 1"):
        await liaison.send(command)
        assert "没有权限" in liaison.last.text
    await c.people["陈志远"].send("/bulletin 1")
    assert "没有权限" in c.people["陈志远"].last.text

    await demo_item("待审批事项", approve=False)
    await wang.send("/call 登记号2")  # a draft's 登记号 is found (issue 12), but it is not yet assigned
    assert wang.last.text == "⚠️ 登记号2尚未审批交办，不能记录电话督查\n请重新输入，或发送 /cancel 取消。"
    await wang.send("/cancel")
    assert "已取消" in wang.last.text

    await wang.send("/bulletin 1")
    await wang.tap("通报表扬")
    await wang.send("很好。")
    await wang.tap("取消")
    assert "已取消" in wang.last.text
    await wang.send("/visit 1")
    await wang.tap("明查")
    await wang.send("/cancel")
    assert await rows(c.h.db, Bulletin) == [] and await rows(c.h.db, SupervisionRecord) == []
    assert await rows(c.h.db, ScoreEvent) == []


async def test_a_refusal_mid_dialog_asks_again_or_ends_it(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item()
    wang = c.people["王敏"]
    await wang.send("/bulletin 1")
    await wang.tap("通报表扬")
    await wang.send("好" * 2001)
    assert "通报内容太长" in wang.last.text and "请重新输入" in wang.last.text
    await wang.send("成效明显。")
    assert wang.last.buttons == ["发布", "取消"]
    await wang.tap("取消")

    # The item is archived while the office types: the dialog ends, nothing is recorded.
    await wang.send("/call 1")
    await wang.send("张伟")
    await wang.tap("现在")
    await wang.send("催办。")
    async with c.h.db.session() as s:
        (await s.get(Item, item_id)).state = "archived"
    await wang.tap("无")
    assert "已归档，不能再记录电话督查" in wang.last.text and "请重新输入" not in wang.last.text
    await wang.send("还在吗")
    assert "已归档" not in wang.last.text and await rows(c.h.db, SupervisionRecord) == []
