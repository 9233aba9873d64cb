"""The Spot Instance Advisor feed: its shape, the shipped snapshot, and refreshing it safely."""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib import resources

import pytest

from engines.spot.advisor_feed import (
    FEED_URL,
    SNAPSHOT_FILE,
    AdvisorFeedError,
    FeedFile,
    load_feed,
    load_snapshot,
    parse_feed,
    refresh_feed,
)

NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
RANGES = [
    {"index": 0, "label": "<5%", "dots": 0, "max": 5},
    {"index": 1, "label": "5-10%", "dots": 1, "max": 11},
    {"index": 2, "label": "10-15%", "dots": 2, "max": 16},
    {"index": 3, "label": "15-20%", "dots": 3, "max": 22},
    {"index": 4, "label": ">20%", "dots": 4, "max": 100},
]
FEED = {
    "global_rate": "<10%",
    "instance_types": {"m5.large": {"emr": True, "cores": 2, "ram_gb": 8.0}},
    "ranges": RANGES,
    "spot_advisor": {
        "us-east-1": {"Linux": {"m5.large": {"s": 70, "r": 0}, "g5.xlarge": {"s": 64, "r": 2}}},
        "eu-west-1": {"Linux": {"g5.xlarge": {"s": 55, "r": 4}}, "Windows": {}},
    },
}


def test_the_bucket_and_saving_of_a_type_in_a_region():
    feed = parse_feed(FEED, origin="test")
    found = feed.interruption("g5.xlarge", "eu-west-1")
    assert (found.bucket, found.bucket_index, found.saving_percent) == (">20%", 4, 55)
    assert feed.interruption("g5.xlarge", "us-east-1").bucket == "10-15%"
    assert feed.interruption("p5.48xlarge", "us-east-1") is None
    assert feed.regions_offering("g5.xlarge") == ["eu-west-1", "us-east-1"]


def test_the_shipped_snapshot_is_in_the_feed_format_and_says_what_it_is():
    feed = load_snapshot()
    raw = json.loads(resources.files("engines").joinpath("data", SNAPSHOT_FILE).read_text())
    assert "not a download" in raw["_note"].lower()
    assert FEED_URL in raw["_source"]
    assert feed.as_of == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert [r["label"] for r in raw["ranges"]] == ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
    demo_types = {"g5.xlarge", "g5.2xlarge", "g5.12xlarge", "p3.2xlarge", "p3.8xlarge",
                  "m5.4xlarge", "c5.4xlarge", "c5.2xlarge", "g4dn.xlarge"}  # fmt: skip
    assert demo_types <= set(raw["spot_advisor"]["us-east-1"]["Linux"])
    assert {"us-east-1", "us-west-2", "eu-west-1"} <= set(feed.regions)


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ([], "expected a JSON object"),
        ({"ranges": RANGES, "instance_types": {}}, "no 'spot_advisor'"),
        ({**FEED, "ranges": "five"}, "'ranges' is not a non-empty list"),
        (
            {**FEED, "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"s": "70", "r": 0}}}}},
            "spot_advisor.us-east-1.Linux.m5.large",
        ),
        (
            {**FEED, "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"s": 70, "r": 9}}}}},
            "'r' (0..4)",
        ),
    ],
)
def test_a_feed_of_the_wrong_shape_is_refused_with_what_is_wrong(broken, says):
    with pytest.raises(AdvisorFeedError) as error:
        parse_feed(broken, origin="feed.json")
    assert says in str(error.value)


def test_a_corrupt_local_copy_is_an_error_not_silently_the_snapshot(tmp_path):
    path = tmp_path / "spot-advisor-data.json"
    path.write_text("{not json")
    with pytest.raises(AdvisorFeedError, match="not valid JSON"):
        load_feed(path)


def test_without_a_local_copy_the_snapshot_answers(tmp_path):
    feed = load_feed(tmp_path / "missing.json")
    assert feed.origin == "the shipped snapshot"


def test_refresh_replaces_the_copy_with_the_downloaded_feed_and_dates_it(tmp_path):
    path = tmp_path / "spot-advisor-data.json"
    asked = []

    def fetch(url: str, timeout: float) -> bytes:
        asked.append((url, timeout))
        return json.dumps(FEED).encode()

    result = refresh_feed(path, fetch=fetch, now=NOW)
    assert asked == [(FEED_URL, 20.0)]
    assert (result.regions, result.instance_types) == (2, 2)
    feed = load_feed(path)
    assert feed.origin == str(path)
    assert feed.as_of == NOW
    assert feed.interruption("m5.large", "us-east-1").bucket == "<5%"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (OSError("Name or service not known"), "Could not download"),
        (b"<html>captive portal</html>", "did not answer with JSON"),
        (json.dumps({"ranges": RANGES}).encode(), "no 'spot_advisor'"),
    ],
)
def test_a_failed_refresh_leaves_the_data_in_use_untouched(tmp_path, answer, says):
    path = tmp_path / "spot-advisor-data.json"
    path.write_text(json.dumps({**FEED, "_downloaded_at": "2026-11-01T00:00:00+00:00"}))
    before = path.read_bytes()

    def fetch(url: str, timeout: float) -> bytes:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(AdvisorFeedError) as error:
        refresh_feed(path, fetch=fetch, now=NOW)
    assert says in str(error.value)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_the_feed_file_is_read_again_only_when_it_changes(tmp_path):
    path = tmp_path / "spot-advisor-data.json"
    feed_file = FeedFile(path)
    assert feed_file().origin == "the shipped snapshot"
    path.write_text(json.dumps(FEED))
    first = feed_file()
    assert first.origin == str(path)
    assert feed_file() is first
    changed = {**FEED, "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"s": 40, "r": 3}}}}}
    path.write_text(json.dumps(changed))
    os.utime(path, (first_mtime := path.stat().st_mtime + 5, first_mtime))
    assert feed_file().interruption("m5.large", "us-east-1").bucket == "15-20%"
