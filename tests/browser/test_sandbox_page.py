"""The sandbox page end to end: a browser, the page, the emulator and the unmodified bot.

The item lifecycle (register by clicking, acknowledge, escalation as the clock passes the
deadline) belongs here too once its handlers exist: open the office and a liaison with
``page.open_chat``, click through with ``send``/``tap``, move time with ``page.advance``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from telegram import BotCommand, BotCommandScopeChat

from tests.browser.conftest import START
from tests.browser.pages import Route, expect, lose_edits, png

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_page_is_self_contained_and_shows_people_side_by_side(page):
    await page.open()
    office = page.page.get_by_test_id("section-office")
    await expect(office.get_by_test_id("person-option")).to_have_count(3)
    await expect(page.page.get_by_test_id("section-leaders").get_by_test_id("person-option")).to_have_count(3)
    await expect(page.page.get_by_test_id("section-towns").get_by_test_id("person-option")).to_have_count(20)
    await expect(page.page.get_by_test_id("section-departments").get_by_test_id("person-option")).to_have_count(20)

    wang = await page.open_chat("王敏")
    liaison = await page.open_chat(unit="城关镇", role="联络员")
    await expect(wang.root).to_contain_text("督查室工作人员")
    await expect(liaison.root).to_contain_text("城关镇 · 联络员")
    await expect(wang.root).to_be_visible()
    await expect(liaison.root).to_be_visible()
    left, right = await wang.root.bounding_box(), await liaison.root.bounding_box()
    assert left["x"] + left["width"] <= right["x"], "the two chats should stand side by side"

    # The picker's search narrows the list down.
    await page.page.get_by_test_id("picker-search").fill("新马桥")
    await expect(page.page.get_by_test_id("person-option")).to_have_count(2)

    # Open panes survive a reload of the page.
    await page.page.reload()
    await expect(page.page.get_by_test_id("pane")).to_have_count(2)
    assert page.requests and all(u.startswith(page.origin) for u in page.requests if u.startswith("http"))


async def test_help_answer_and_command_menu(page):
    await page.open()
    wang = await page.open_chat("王敏")
    await wang.send("/help")
    answer = await wang.expect_bot_text("督办助手 · 可用命令")
    # The bot's HTML is shown as formatting, not as tags.
    await expect(answer.locator("b")).to_have_text("督办助手 · 可用命令")
    await expect(answer).not_to_contain_text("<b>")

    # The menu follows the roles (more commands arrive as features do): office staff can invite.
    assert {"/help", "/invite", "/cancel"} <= set(await wang.menu_commands())
    await wang.choose_command("/cancel")
    await wang.expect_bot_text("当前没有进行中的操作")

    # A command in the bot's text can be tapped, as in Telegram.
    await answer.locator("a.cmd", has_text="/invite").click()
    await wang.expect_bot_text("请选择被邀请人的角色")


async def test_invite_dialog_with_buttons_and_the_link_opened_by_the_newcomer(page):
    await page.open()
    wang = await page.open_chat("王敏")
    await wang.send("/invite")
    question = await wang.expect_bot_text("请选择被邀请人的角色")
    await expect(question.get_by_test_id("inline-button")).to_have_count(5)
    await wang.tap("县领导")
    # The bot edits the question: the choice stays, the buttons go.
    await expect(question).to_contain_text("角色：县领导")
    await expect(question.get_by_test_id("inline-button")).to_have_count(0)
    await wang.expect_bot_text("请输入被邀请人的姓名")
    await wang.send("周新")
    created = await wang.expect_bot_text("生成县领导邀请链接")
    link = created.get_by_test_id("deep-link")
    await expect(link).to_contain_text("https://t.me/duban_demo_bot?start=")

    # The newcomer opens the link on their own phone: a new account sends /start <code>.
    await link.click()
    await expect(page.page.get_by_test_id("modal-input")).to_have_value("周新")
    await page.page.get_by_test_id("modal-ok").click()
    newcomer = page.pane("周新")
    await newcomer.expect_bot_text("周新，您好！欢迎使用督办助手")
    newcomer_menu = set(await newcomer.menu_commands())
    assert {"/help", "/cancel"} <= newcomer_menu and "/invite" not in newcomer_menu
    # Now bound, 周新 is listed among the leaders.
    await expect(page.page.get_by_test_id("section-leaders").locator('[data-name="周新"]')).to_be_visible()


async def test_an_edit_made_while_the_chat_reloads_is_not_undone_by_the_older_snapshot(page, sandbox):
    """A pane reloads its chat when the bot changes that chat's menu. The snapshot can be taken
    before an edit whose live event reaches the page first: the edit must stay shown."""
    await page.open()
    wang = await page.open_chat("王敏")
    await wang.send("/invite")
    question = await wang.expect_bot_text("请选择被邀请人的角色")
    await expect(question.get_by_test_id("inline-button")).to_have_count(5)

    chat_id = sandbox.people["王敏"].id
    snapshot_taken, release = asyncio.Event(), asyncio.Event()

    async def hold_the_snapshot(route: Route) -> None:
        response = await route.fetch()  # taken now: the question still has its buttons
        snapshot_taken.set()
        await release.wait()
        await route.fulfill(response=response)

    await page.page.route(f"**/api/chats/{chat_id}", hold_the_snapshot)
    await sandbox.app.bot.set_my_commands([BotCommand("help", "帮助")], scope=BotCommandScopeChat(chat_id))
    await asyncio.wait_for(snapshot_taken.wait(), 10)
    await wang.tap("县领导")  # the bot edits the question while the snapshot is on its way
    await expect(question).to_contain_text("角色：县领导")
    release.set()
    await expect(wang.root.get_by_test_id("messages")).not_to_have_attribute("aria-busy", "true")
    await page.page.unroute(f"**/api/chats/{chat_id}")
    await expect(question).to_contain_text("角色：县领导")
    await expect(question.get_by_test_id("inline-button")).to_have_count(0)


async def test_a_live_event_the_page_missed_is_made_good_by_the_next_one(page, sandbox, monkeypatch):
    """Live events are numbered. One that never reaches the page (here it fails on the server) shows
    as a skipped number at the next, and the page reloads its chats rather than show them stale."""
    await page.open()
    wang = await page.open_chat("王敏")
    await wang.send("/invite")
    question = await wang.expect_bot_text("请选择被邀请人的角色")
    lose_edits(sandbox, monkeypatch)
    await wang.tap("县领导")  # the bot edits the question (lost), then asks for the name (shown)
    await wang.expect_bot_text("请输入被邀请人的姓名")
    await expect(question).to_contain_text("角色：县领导")
    await expect(question.get_by_test_id("inline-button")).to_have_count(0)


async def test_a_chat_opened_just_before_a_reload_is_open_again_after_it(page, sandbox):
    """The page remembers an open chat as it opens, not once its messages have loaded."""
    await page.open()
    await page.open_chat("王敏")
    name = await page.person_option(unit="城关镇", role="联络员").get_attribute("data-name")
    url = f"**/api/chats/{sandbox.people[name].id}"
    asked = asyncio.Event()

    async def never_answered(route: Route) -> None:
        asked.set()  # the reload below ends the request

    await page.page.route(url, never_answered)
    await page.open_chat(name, loaded=False)
    await asyncio.wait_for(asked.wait(), 10)
    await page.page.unroute(url)
    await page.page.reload()
    await expect(page.page.get_by_test_id("pane")).to_have_count(2)
    await expect(page.pane(name).root.get_by_test_id("messages")).not_to_have_attribute("aria-busy", "true")


async def test_liaison_sends_a_photo_and_a_document(page):
    await page.open()
    liaison = await page.open_chat(unit="城关镇", role="联络员")
    photo = await liaison.send_photo(png(64, 48), "现场照片.png")
    assert await photo.evaluate("img => img.complete && img.naturalWidth") == 64
    # Outside a dialog the bot says how to use it; the photo reached the bot as a photo.
    await liaison.expect_bot_text("请通过命令或按钮操作")
    name = liaison.name
    stored = [m for m in page.sandbox.emu.chats[page.sandbox.people[name].id].messages.values()
              if "photo" in m]
    assert len(stored) == 1

    report = "城关镇 2026 年第一季度进展情况：已完成。".encode()
    document = await liaison.send_document(report, "进展情况.txt", "text/plain")
    href = await document.get_attribute("href")
    response = await page.page.request.get(page.origin + href)
    assert response.ok and await response.body() == report
    assert "attachment" in response.headers["content-disposition"]


async def test_clock_moves_by_hours_days_and_to_the_next_working_day(page, sandbox):
    calls: list[datetime] = []

    async def after_clock_change() -> None:
        calls.append(sandbox.clock.now())

    sandbox.after_clock_change = after_clock_change
    await page.open()
    await expect(page.clock_time).to_have_text("2026年3月10日 星期二 09:00")
    await expect(page.page.get_by_test_id("clock-day")).to_have_text("工作日")

    await page.advance("+1小时")
    await expect(page.clock_time).to_have_text("2026年3月10日 星期二 10:00")
    await page.advance("+1天")
    await expect(page.clock_time).to_have_text("2026年3月11日 星期三 10:00")
    await page.advance("下一个工作日")
    await expect(page.clock_time).to_have_text("2026年3月12日 星期四 09:00")
    # Friday → the weekend is skipped.
    await page.advance("下一个工作日")
    await page.advance("下一个工作日")
    await expect(page.clock_time).to_have_text("2026年3月16日 星期一 09:00")

    assert len(calls) == 5 and calls[-1].astimezone(START.tzinfo).strftime("%m-%d %H:%M") == "03-16 09:00"
    # The bot's notion of now moved: what it sends is dated by the sandbox clock.
    wang = await page.open_chat("王敏")
    await wang.send("/help")
    await wang.expect_bot_text("可用命令")
    await expect(wang.root.locator(".day-sep").last).to_have_text("2026年3月16日 星期一")


async def test_reset_restores_the_demo_county_and_open_pages_recover(page, sandbox):
    await page.open()
    wang = await page.open_chat("王敏")
    await wang.send("/invite 县领导 周新")
    await wang.expect_bot_text("生成县领导邀请链接")
    await page.advance("+1天")
    old_db = sandbox.db

    await page.reset()
    assert sandbox.db is not old_db
    await expect(wang.messages).to_have_count(0)
    await expect(wang.root.get_by_test_id("start-button")).to_be_visible()
    await expect(page.clock_time).to_have_text("2026年3月10日 星期二 09:00")
    # The chat works as before, against the fresh county.
    await wang.root.get_by_test_id("start-button").click()
    await wang.expect_bot_text("王敏，您好！您已是督查室工作人员")


async def test_desktop_screenshot(page, screenshot_dir):
    """The README's picture: the office and a liaison side by side (no random codes in it, so
    the file only changes when the page does)."""
    await page.open()
    wang = await page.open_chat("王敏")
    liaison = await page.open_chat(unit="城关镇", role="联络员")
    await wang.send("/help")
    await wang.expect_bot_text("可用命令")
    await wang.send("/invite")
    await wang.expect_bot_text("请选择被邀请人的角色")
    await liaison.send("/start")
    await liaison.expect_bot_text("您已是城关镇的联络员")
    await liaison.send_photo(png(360, 220), "现场照片.png")
    await liaison.expect_bot_text("请通过命令或按钮操作")
    await page.screenshot(str(screenshot_dir / "sandbox-desktop.png"))


async def test_phone_width_shows_one_chat_at_a_time(phone_page, screenshot_dir):
    page = phone_page
    await page.open()
    # With nothing open yet, the picker comes up by itself.
    await expect(page.page.get_by_test_id("picker")).to_be_visible()
    wang = await page.open_chat("王敏")
    await expect(page.page.get_by_test_id("picker")).to_be_hidden()
    liaison = await page.open_chat(unit="城关镇", role="联络员")
    await expect(wang.root).to_be_hidden()
    tabs = page.page.get_by_test_id("pane-tab")
    await expect(tabs).to_have_count(2)

    await page.page.get_by_test_id("pane-tab").filter(has_text="王敏").click()
    await expect(wang.root).to_be_visible()
    await expect(liaison.root).to_be_hidden()
    await wang.send("/invite")
    await wang.tap("联络员")
    await wang.expect_bot_text("请输入所属单位名称")
    await wang.send("城关")
    await wang.expect_bot_text("请选择单位")
    width = await page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is wider than the phone: {width}px"
    await page.screenshot(str(screenshot_dir / "sandbox-phone.png"))
