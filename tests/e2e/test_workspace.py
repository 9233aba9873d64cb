"""A person in the demo workspace, in headless Chromium, asks for a team's cost."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    with DemoSandbox(DemoOptions(workdir=tmp_path_factory.mktemp("demo"))) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_typing_cost_team_shows_the_answer_with_a_dollar_figure(sandbox, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(sandbox.workspace_url + "/")
    page.select_option("select#whoami", "U0DEMOBOB")
    page.click('a[data-channel-id="C0DEMOFRAUD"]')
    page.fill("#composer", "/cost team fraud-detection")
    page.press("#composer", "Enter")

    answer = page.locator(".message", has_text="fraud-detection · month to date")
    answer.wait_for(timeout=15_000)
    text = answer.inner_text()
    assert re.search(r"\$\d{1,3}(,\d{3})*\.\d{2} billed cost \(unblended\)", text), text
    assert "By service" in text
    page.screenshot(path=str(tmp_path / "workspace.png"))


def test_a_typo_gets_a_suggestion_only_the_asker_sees(sandbox, browser):
    page = browser.new_page()
    page.goto(sandbox.workspace_url + "/")
    page.select_option("select#whoami", "U0DEMOALICE")
    page.click('a[data-channel-id="C0DEMONLP"]')
    page.fill("#composer", "/cost team fraud-detectoin")
    page.press("#composer", "Enter")
    reply = page.locator(".message", has_text="did you mean 'fraud-detection'?")
    reply.wait_for(timeout=10_000)
    assert "Only visible to you" in reply.inner_text()

    page.select_option("select#whoami", "U0DEMODEV")
    page.wait_for_timeout(300)
    assert page.locator(".message", has_text="fraud-detectoin").count() == 0


def test_the_post_todays_digests_button_shows_a_newcomer_the_digest(sandbox, browser):
    # Posting digests by hand is for approvers: Erin is told so; Alice (the demo's first
    # user, whom a newcomer is) posts them.
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(sandbox.workspace_url + "/")
    page.select_option("select#whoami", "U0DEMOERIN")
    page.click('a[data-channel-id="C0DEMOFRAUD"]')
    page.click("#post-digests")
    page.locator(".message", has_text="you approve for no team").wait_for(timeout=30_000)
    page.select_option("select#whoami", "U0DEMOALICE")
    page.click('a[data-channel-id="C0DEMOFRAUD"]')
    page.click("#post-digests")

    title = re.compile(r"fraud-detection · (daily|weekly) digest")  # weekly on Mondays
    digest = page.locator(".message", has_text=title)
    digest.wait_for(timeout=30_000)
    text = digest.first.inner_text()
    assert "Month to date" in text and "Top movers" in text
    assert re.search(r"of \$25,000\.00", text), text
