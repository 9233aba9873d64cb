"""Two people in the demo workspace, in headless Chromium: Bob asks for right-sizing, Alice
approves on the card, and Bob's page shows the card changed (who, when, Revert) without a
reload; Alice reverts it. The demo's AWS is a sandbox, so the change and the revert are real.

With ``COSTBOT_SCREENSHOTS=docs`` it refreshes docs/rightsize-card-before.png and
docs/rightsize-card-after.png (the README shows them); otherwise they go to a temporary
directory, so a test run leaves the working tree clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes.models import State
from tests.e2e.test_workspace import browser  # noqa: F401  (the shared Chromium fixture)
from tests.handlers.test_rightsize_flow import change_for
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"
ALICE, BOB, FRAUD = "U0DEMOALICE", "U0DEMOBOB", "C0DEMOFRAUD"
CARD_TITLE = "fraud-detection · right-sizing"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("cards-e2e"), run_scheduler=False)
    with DemoSandbox(options) as running:
        yield running


def open_as(browser, sandbox: DemoSandbox, user: str):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # Revert asks "Revert this change?"
    page.goto(f"{sandbox.workspace_url}/?as={user}")
    page.select_option("select#whoami", user)
    page.click(f'a[data-channel-id="{FRAUD}"]')
    return page


def change_of(sandbox: DemoSandbox, resource: str) -> int:
    """The change id behind the buttons for ``resource`` in the latest right-sizing card."""
    cards = [m for m in sandbox.standin.messages(FRAUD) if CARD_TITLE in str(m["blocks"])]
    return int(change_for(cards[-1], resource))


def buttons(card, change_id: int, label: str):
    """One change's buttons with ``label`` (the card holds several changes, SageMaker's too)."""
    return card.locator(f'button[data-block-id="rightsize:{change_id}"]', has_text=label)


def test_a_decision_changes_the_card_for_a_second_person_and_revert_works(
    sandbox,
    browser,
    tmp_path,
):
    shots = DOCS if os.environ.get("COSTBOT_SCREENSHOTS") == "docs" else tmp_path
    bob = open_as(browser, sandbox, BOB)
    notice = bob.locator("#sandbox-notice")
    notice.wait_for(state="visible", timeout=20_000)
    assert "moto" in notice.inner_text()  # the page says its AWS is a sandbox

    bob.fill("#composer", "/cost rightsize fraud-detection")
    bob.press("#composer", "Enter")
    card = bob.locator(".message", has_text=CARD_TITLE).last
    card.wait_for(timeout=60_000)
    card.locator("button", has_text="Approve").first.wait_for(timeout=10_000)
    change_id = change_of(sandbox, "fraud-etl-prod")  # the EC2 resize
    stop_id = change_of(sandbox, "fraud-sandbox-api")
    approve = buttons(card, change_id, "Approve")
    assert approve.count() == 1 and approve.get_attribute("data-value") == str(change_id)
    assert card.locator("button", has_text="Revert").count() == 0
    card.screenshot(path=str(shots / "rightsize-card-before.png"))

    alice = open_as(browser, sandbox, ALICE)
    alice_card = alice.locator(".message", has_text=CARD_TITLE).last
    alice_card.wait_for(timeout=20_000)
    buttons(alice_card, change_id, "Approve").click()

    # Bob's page, not reloaded: the card says who approved and when, and offers Revert.
    revert = card.locator("button", has_text="Revert")
    revert.wait_for(timeout=60_000)
    text = card.inner_text()
    assert "is now m5.xlarge" in text and "UTC" in text, text
    assert "<@U0DEMO" not in text and "&lt;" not in text  # mentions are real, not literal
    assert card.locator(".mention", has_text="Alice").count() >= 1
    assert buttons(card, change_id, "Approve").count() == 0
    assert buttons(card, stop_id, "Stop").count() == 1  # the other changes' stay
    card.screenshot(path=str(shots / "rightsize-card-after.png"))
    store = sandbox.costbot.store
    assert store.get_change(change_id).state is State.DONE

    # Alice reverts on her page; Bob's card shows it, and the Revert button is gone.
    alice_card.locator("button", has_text="Revert").click()
    bob.locator(".message", has_text="reverted").last.wait_for(timeout=60_000)
    assert wait_until(lambda: card.locator("button", has_text="Revert").count() == 0)
    assert wait_until(lambda: store.get_change(change_id).state is State.REVERTED)
    change = store.get_change(change_id)
    found = sandbox.world.client("ec2").describe_instances(InstanceIds=[change.instance_id])
    assert found["Reservations"][0]["Instances"][0]["InstanceType"] == change.from_type
