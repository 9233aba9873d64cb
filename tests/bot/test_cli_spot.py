"""`costbot spot refresh-advisor`: replaces the advisor data where the feed is reachable and
says clearly when it is not."""

from __future__ import annotations

import json

import pytest

from bot import cli
from engines.spot.advisor_feed import load_feed

FEED = {
    "global_rate": "<10%",
    "instance_types": {"g5.xlarge": {"emr": True, "cores": 4, "ram_gb": 16.0}},
    "ranges": [{"index": i, "label": label, "dots": i, "max": m}
               for i, (label, m) in enumerate((("<5%", 5), ("5-10%", 11), ("10-15%", 16),
                                               ("15-20%", 22), (">20%", 100)))],
    "spot_advisor": {"us-east-1": {"Linux": {"g5.xlarge": {"s": 61, "r": 3}}}},
}  # fmt: skip


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "costbot.db"))
    monkeypatch.delenv("COSTBOT_SPOT_ADVISOR_FILE", raising=False)
    return tmp_path


def test_refresh_saves_the_feed_next_to_the_database(workdir, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_download", lambda url, timeout: json.dumps(FEED).encode())
    assert cli.main(["spot", "refresh-advisor"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    path = workdir / "spot-advisor-data.json"
    assert f"1 regions, 1 instance types, saved to {path}" in out
    assert load_feed(path).interruption("g5.xlarge", "us-east-1").bucket == "15-20%"


def test_without_internet_it_says_so_and_what_stays_in_use(workdir, monkeypatch, capsys):
    def offline(url, timeout):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(cli, "_download", offline)
    assert cli.main(["spot", "refresh-advisor"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "Could not download the Spot Instance Advisor feed" in err
    assert "Name or service not known" in err
    assert "Still in use: the shipped snapshot of 2026-11-20." in err
    assert not (workdir / "spot-advisor-data.json").exists()
