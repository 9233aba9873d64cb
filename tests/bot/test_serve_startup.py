"""`costbot serve` that cannot start says why in one sentence, exits 2, and shows no traceback
(the traceback is logged at DEBUG only)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from bot.cli import main
from bot.demo.slack_standin import SlackStandIn
from tests.conftest import DEMO_TEAMS

TOKEN = "xoxb-startup-0000-costbot"
SECRET = "startup-signing-secret-0123456789"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(signing_secret=SECRET, bot_token=TOKEN)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def environment(monkeypatch, tmp_path, small_export, slack):
    """A configuration that starts; each test breaks one thing."""
    for name, value in {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "COSTBOT_TEAMS": str(DEMO_TEAMS),
        "COSTBOT_COST_SOURCE": f"focus:{small_export.path}",
        "COSTBOT_DB": str(tmp_path / "costbot.db"),
        "COSTBOT_SCHEDULER": "false",
        "PORT": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


def refused_start(capsys) -> str:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_a_token_slack_refuses(environment, capsys, caplog):
    environment.setenv("SLACK_BOT_TOKEN", "xoxb-revoked-0000")
    caplog.set_level(logging.DEBUG, logger="costbot")

    err = refused_start(capsys)

    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in err
    assert "xoxb-revoked-0000" not in err
    [debug] = [r for r in caplog.records if r.getMessage() == "start-up failed"]
    assert debug.exc_info is not None  # the traceback, for whoever turns DEBUG on


def test_an_app_token_slack_refuses_in_socket_mode(environment, capsys):
    environment.setenv("SLACK_APP_TOKEN", "xapp-1-A0DEMOCOST-revoked")

    err = refused_start(capsys)

    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in err
    assert "connections:write" in err
    assert "xapp-1-A0DEMOCOST-revoked" not in err


def test_a_slack_that_cannot_be_reached(environment, capsys):
    url = closed_port_url()
    environment.setenv("SLACK_API_URL", url)

    err = refused_start(capsys)

    assert f"Slack is unreachable at {url}" in err and "Connection refused" in err


def test_a_teams_file_that_cannot_be_read(environment, capsys, tmp_path):
    environment.setenv("COSTBOT_TEAMS", str(tmp_path))  # a directory

    err = refused_start(capsys)

    assert f"COSTBOT_TEAMS: cannot read {tmp_path}" in err


def test_a_database_that_cannot_be_opened(environment, capsys, tmp_path):
    not_a_folder = tmp_path / "costbot"
    not_a_folder.write_text("")
    environment.setenv("COSTBOT_DB", str(not_a_folder / "costbot.db"))

    err = refused_start(capsys)

    assert f"COSTBOT_DB: cannot open the database {not_a_folder / 'costbot.db'}" in err
