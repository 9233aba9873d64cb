"""In headless Chromium: a question leaves one message, a chart sits in its answer, and
mentions, channels, links and emoji codes render as Slack renders them.

With ``COSTBOT_SCREENSHOTS=docs`` the tests also refresh the README's screenshots
(``docs/demo-workspace.png``, ``docs/digest.png``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_workspace import browser, sandbox  # noqa: F401 (the fixtures)

pytestmark = pytest.mark.e2e

SCREENSHOTS = os.environ.get("COSTBOT_SCREENSHOTS", "")


@pytest.fixture
def page(sandbox, browser) -> Iterator[object]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(sandbox.workspace_url + "/")
    yield page
    page.close()


def enter(page, user: str, channel: str) -> None:
    page.select_option("select#whoami", user)
    page.click(f'a[data-channel-id="{channel}"]')


def ask(page, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")


def shoot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def test_a_question_leaves_one_message_and_no_working_note(page):
    enter(page, "U0DEMOBOB", "C0DEMOFRAUD")
    bot_messages = page.locator(".message.from-bot")
    before = bot_messages.count()

    ask(page, "/cost team fraud-detection")
    answer = page.locator(".message.from-bot", has_text="fraud-detection · month to date")
    answer.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.message')]"
        ".some((m) => m.innerText.includes('Working on'))",
        timeout=15_000,
    )

    assert bot_messages.count() == before + 1  # the answer alone: no note left behind
    question = page.locator(".message", has_text="/cost team fraud-detection")
    assert question.count() == 1 and "Only visible to you" not in answer.inner_text()
    assert question.bounding_box()["y"] < answer.bounding_box()["y"]  # the answer below
    assert re.search(r"Asked by @bob\b", answer.inner_text())  # a real mention, by name
    assert answer.locator(".mention", has_text="@bob").count() == 1
    shoot(page, "demo-workspace.png")


def test_the_trend_chart_is_inside_its_answer_below_what_it_shows(page):
    enter(page, "U0DEMODEV", "C0DEMONLP")
    bot_messages = page.locator(".message.from-bot")
    before = bot_messages.count()
    ask(page, "/cost trend nlp")

    answer = page.locator(".message.from-bot", has_text="nlp · daily trend")
    answer.wait_for(timeout=30_000)
    chart = answer.locator("img")
    chart.wait_for(timeout=15_000)
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0") or chart.evaluate(
        "img => new Promise((ok) => img.onload = () => ok(img.naturalWidth > 0))"
    )
    text_box = answer.locator(".blocks").bounding_box()
    assert text_box["y"] < chart.bounding_box()["y"]  # the chart under what it shows
    assert re.search(r"Asked by @dev\b", answer.inner_text())  # who asked, by name
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.message')]"
        ".some((m) => m.innerText.includes('Working on'))",
        timeout=15_000,
    )
    assert bot_messages.count() == before + 1  # one message: the answer with its chart


def test_mentions_channels_links_and_emoji_codes_render_as_in_slack(sandbox, page):
    sandbox.standin.post_as_bot(
        "C0DEMOFINOPS",
        ":wastebasket: <@U0DEMOCARA> dismissed it in <#C0DEMORECS>; "
        "see <https://example.com/runbook|the runbook>. :leftwards_arrow_with_hook: :zzz:",
    )
    enter(page, "U0DEMOERIN", "C0DEMOFINOPS")

    line = page.locator(".message", has_text="dismissed it in")
    line.wait_for(timeout=10_000)
    text = line.locator(".msg-text").inner_text()
    assert text.startswith("🗑️ @cara dismissed it in #recommendations-costs; see the runbook.")
    assert "↩️" in text and "💤" in text
    assert not re.search(r"<@|<#|:[a-z_]+:", text), text
    assert line.locator("a", has_text="the runbook").get_attribute("href") == (
        "https://example.com/runbook"
    )


def test_the_digest_as_a_newcomer_sees_it(page):
    enter(page, "U0DEMOALICE", "C0DEMOFRAUD")
    page.click("#post-digests")
    title = re.compile(r"fraud-detection · (daily|weekly) digest")
    digest = page.locator(".message", has_text=title)
    digest.first.wait_for(timeout=60_000)
    assert "Month to date" in digest.first.inner_text()
    # The button's own answer ("Posting today's digest…") takes its note's place, too.
    page.locator(".message", has_text="Posting today's digest").wait_for(timeout=30_000)
    assert page.locator(".message", has_text="Working on").count() == 0
    page.locator("#toast").wait_for(state="hidden", timeout=10_000)
    digest.first.evaluate("m => m.scrollIntoView({block: 'start'})")
    shoot(page, "digest.png")
