"""`costbot demo --socket-mode`: the same workspace in the browser, the bot on a WebSocket.

The command is run as a person runs it; the page cannot tell how the bot is connected.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_workspace import browser  # noqa: F401  (fixture)
from tests.faults.test_sigkill_mid_change import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[str]:
    """``costbot demo --socket-mode`` running; its workspace URL."""
    workdir = tmp_path_factory.mktemp("demo")
    log = workdir / "demo.log"
    costbot = Path(sys.executable).with_name("costbot")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(costbot),
                "demo",
                "--socket-mode",
                "--no-browser",
                "--port",
                str(free_port()),
                "--workdir",
                str(workdir),
            ],  # fmt: skip
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ},  # fmt: skip
        )
    try:
        found = wait_until(
            lambda: (
                process.poll() is None
                and re.search(r"costbot demo workspace: (\S+)/\n", log.read_text())
            ),
            timeout=90,
        )
        assert "connected over Socket Mode" in log.read_text()
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def test_the_workspace_answers_the_same_with_the_bot_on_a_socket(demo, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(demo + "/")
    page.select_option("select#whoami", "U0DEMOBOB")
    page.click('a[data-channel-id="C0DEMOFRAUD"]')
    page.fill("#composer", "/cost team fraud-detection")
    page.press("#composer", "Enter")

    answer = page.locator(".message", has_text="fraud-detection · month to date")
    answer.wait_for(timeout=30_000)
    text = answer.inner_text()
    assert re.search(r"\$\d{1,3}(,\d{3})*\.\d{2} billed cost \(unblended\)", text), text
    page.close()
