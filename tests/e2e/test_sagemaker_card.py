"""The issue's done-when, in the demo workspace in headless Chromium: Bob asks for
right-sizing, the idle SageMaker endpoint has its own card, Alice clicks **Delete** on it and
the endpoint is gone from the sandbox's AWS; Bob's page shows the decision and Revert without
a reload; Alice reverts and the endpoint is back, from its kept config.

With ``COSTBOT_SCREENSHOTS=docs`` it refreshes docs/sagemaker-card.png (the README shows it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes.models import State
from tests.e2e.test_rightsize_card import (
    ALICE,
    BOB,
    CARD_TITLE,
    DOCS,
    buttons,
    change_of,
    open_as,
)
from tests.e2e.test_workspace import browser  # noqa: F401  (the shared Chromium fixture)
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

IDLE = "fraud-legacy-scorer"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("sagemaker-e2e"), run_scheduler=False)
    with DemoSandbox(options) as running:
        yield running


def endpoints(sandbox: DemoSandbox) -> set[str]:
    listed = sandbox.world.client("sagemaker").list_endpoints()["Endpoints"]
    return {endpoint["EndpointName"] for endpoint in listed}


# The page's box around one change on a card: from the divider above it to its buttons.
ONE_CHANGE_BOX = """buttons => {
    let top = buttons;
    while (top.previousElementSibling && !top.previousElementSibling.matches("hr")) {
        top = top.previousElementSibling;
    }
    top.scrollIntoView();
    const a = top.getBoundingClientRect(), b = buttons.getBoundingClientRect();
    const left = Math.min(a.left, b.left) - 8;
    return {x: left, y: a.top - 8, width: Math.max(a.right, b.right) - left + 8,
            height: b.bottom - a.top + 16};
}"""


def screenshot_of_change(page, card, change_id: int, path: Path) -> None:
    box = card.locator(f'[data-block="rightsize:{change_id}"]').evaluate(ONE_CHANGE_BOX)
    page.screenshot(path=str(path), clip=box)


def test_the_idle_endpoint_is_deleted_from_its_card_and_revert_brings_it_back(
    sandbox,
    browser,
    tmp_path,
):
    shots = DOCS if os.environ.get("COSTBOT_SCREENSHOTS") == "docs" else tmp_path
    assert IDLE in endpoints(sandbox)
    bob = open_as(browser, sandbox, BOB)
    bob.fill("#composer", "/cost rightsize fraud-detection")
    bob.press("#composer", "Enter")
    card = bob.locator(".message", has_text=CARD_TITLE).last
    card.wait_for(timeout=60_000)
    card.locator("button", has_text="Delete").first.wait_for(timeout=10_000)
    assert "endpoint fraud-legacy-scorer" in card.inner_text()
    change_id = change_of(sandbox, IDLE)
    screenshot_of_change(bob, card, change_id, shots / "sagemaker-card.png")

    alice = open_as(browser, sandbox, ALICE)
    alice_card = alice.locator(".message", has_text=CARD_TITLE).last
    alice_card.wait_for(timeout=20_000)
    buttons(alice_card, change_id, "Delete").click()

    store = sandbox.costbot.store
    assert wait_until(lambda: store.get_change(change_id).state is State.DONE, timeout=60)
    assert IDLE not in endpoints(sandbox)
    revert = buttons(card, change_id, "Revert")  # Bob's page, not reloaded
    revert.wait_for(timeout=60_000)
    assert buttons(card, change_id, "Delete").count() == 0

    buttons(alice_card, change_id, "Revert").click()
    assert wait_until(lambda: store.get_change(change_id).state is State.REVERTED, timeout=60)
    assert IDLE in endpoints(sandbox)
    described = sandbox.world.client("sagemaker").describe_endpoint(EndpointName=IDLE)
    assert described["EndpointConfigName"] == store.get_change(change_id).endpoint_config
    assert wait_until(lambda: buttons(card, change_id, "Revert").count() == 0)
