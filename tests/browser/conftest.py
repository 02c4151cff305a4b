"""Browser tests: the sandbox page (bot/demo/web.py + static/) in Debian's headless Chromium,
driven by Playwright for Python. Playwright's own browser downloads are never used.

Each test starts its own sandbox (emulator, unmodified bot over HTTP, demo county, page) on a
free port in a tmp dir, at a fixed sandbox time. One Chromium serves the whole directory, so the
tests share one event loop (``pytestmark = pytest.mark.asyncio(loop_scope="session")``).

Without Chromium or Playwright the tests are skipped with the reason; in CI (CI=true) they fail.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from bot.demo.runner import start_sandbox
from tests.browser.pages import SandboxPage
from tests.browser.trail import PAGE_SCRIPT, Trail, recording

CHROMIUM = Path(os.environ.get("DUBAN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() == "true"
# A Tuesday, 09:00 in the county: deterministic dates, times and screenshots.
START = datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _unavailable() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (.venv/bin/pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: run .ci/install-browser (installs Debian's chromium)"
    return None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    problem = _unavailable()
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests must run in CI: {problem}", pytrace=False)
        pytest.skip(problem)
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=10_000)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    """A failed browser test prints its trail (tests/browser/trail.py) below Playwright's message."""
    outcome = yield
    report = outcome.get_result()
    trail = getattr(item, "trail", None)
    if report.failed and trail is not None:
        report.sections.append(("sandbox trail: Bot API calls (emu), bot log, live events on the page",
                                trail.text()))


@pytest_asyncio.fixture(loop_scope="session")
async def sandbox(request, tmp_path):
    # The page itself is tested on the bare county; the seeded items have a test of their own.
    sb = await start_sandbox(0, tmp_path / "demo", start_at=START, demo_items=False)
    request.node.trail = Trail()
    async with recording(sb.emu, request.node.trail):
        yield sb
    await sb.stop()


async def _open_page(browser, sandbox, trail: Trail, viewport: dict, **options):  # noqa: ANN001, ANN202
    context = await browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                        **options)
    await context.add_init_script(script=PAGE_SCRIPT)
    page = await context.new_page()
    page.on("console", trail.on_console)
    page.on("pageerror", lambda error: trail.add("page", f"script error: {error}"))
    return context, SandboxPage(page, sandbox)


@pytest_asyncio.fixture(loop_scope="session")
async def page(request, browser, sandbox):
    """The page at desktop width; after the test: no request left the machine, no script error."""
    context, sp = await _open_page(browser, sandbox, request.node.trail, DESKTOP)
    yield sp
    await context.close()
    sp.check_clean()


@pytest_asyncio.fixture(loop_scope="session")
async def phone_page(request, browser, sandbox):
    """The page on a phone-width window (390 px)."""
    context, sp = await _open_page(browser, sandbox, request.node.trail, PHONE, device_scale_factor=2,
                                   is_mobile=True, has_touch=True)
    yield sp
    await context.close()
    sp.check_clean()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
