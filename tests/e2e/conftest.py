"""Browser tests: Debian's Chromium driven by Playwright, against a real `cielo serve`.

Screenshots of every page go to test-output/screenshots/<test name>/."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.db import IN_CI
from tests.support.live import LiveServer

CHROMIUM = os.environ.get("CIELO_TEST_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# Flags for a sandboxed machine without a display or outside network (see the machine notes).
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while
    it is open, and the other tests' asyncio.run() must not find one."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium", pytrace=False)
        pytest.skip("Chromium not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# A phone (390 CSS px, touch, the page's own viewport) and a desktop; a test asks for one with
# @pytest.mark.parametrize("page", ["phone", "desktop"], indirect=True); desktop otherwise.
SCREENS = {"phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
           "desktop": {"viewport": {"width": 1280, "height": 800}}}
# A phone's browser as it announces itself: Chrome on Android (a sign-in records the device).
ANDROID_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/124.0.0.0 Mobile Safari/537.36")


@pytest.fixture
def page(browser, request):
    yield from _page(browser.new_context(locale="pt-BR", **SCREENS[getattr(request, "param", "desktop")]), request)


@pytest.fixture
def phone_page(browser, request):
    """A page in an Android phone's browser: a phone's screen and User-Agent."""
    yield from _page(browser.new_context(locale="pt-BR", user_agent=ANDROID_USER_AGENT, **SCREENS["phone"]), request)


def _page(context, request):
    page = context.new_page()
    folder = OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    shots = {"n": 0}

    def snap(label: str, other=None) -> None:
        """A full-page screenshot of this page (or of ``other``, another tab of the test)."""
        shots["n"] += 1
        (other or page).screenshot(path=str(folder / f"{shots['n']:02d}-{label}.png"), full_page=True)

    page.snap = snap  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("e2e"), None).start()
    yield server
    server.stop()
