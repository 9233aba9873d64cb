"""Spot prices: time-weighted averages per zone, savings, ages, candidates, and the EC2 calls.

The hand-computed market (``MARKET``), now = 2026-11-20 00:00 UTC:

* us-east-1a: $0.30 from Oct 1, $0.60 from Nov 10.
  30 days (Oct 21 - Nov 20): 20 d x 0.30 + 10 d x 0.60 = 12.00 -> 12 / 30 = **0.40**.
  90 days (Aug 22 - Nov 20): priced only from Oct 1 (50 days): 40 x 0.30 + 10 x 0.60 = 18
  -> 18 / 50 = **0.36**, covering 50 of 90 days.
* us-east-1b: $0.25 from Aug 1, a one-day spike to $1.15 on Nov 15, $0.25 again from Nov 16.
  30 days: 29 x 0.25 + 1 x 1.15 = 8.40 -> **0.28**; 90 days: 89 x 0.25 + 1.15 = 23.40 -> **0.26**.
  The mean of the change points in the last 30 days would be (0.25 + 1.15 + 0.25) / 3 = 0.55.

Savings against the g5.xlarge on-demand $1.006: in 1b (0.726 x 730) = **$529.98** a month,
in 1a (0.606 x 730) = **$442.38**.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from engines.rightsizing.models import Instance
from engines.spot.market import (
    SpotDataError,
    SpotPrice,
    age_text,
    fetch_placement_scores,
    fetch_spot_price_history,
    monthly_saving,
    spot_suitability,
    time_weighted_average,
    zone_prices,
)

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
RECORDED = Path(__file__).parents[2] / "data" / "spot"
HISTORY_FILE = RECORDED / "describe-spot-price-history-g5.xlarge-us-east-1.json"


def day(month: int, day_: int) -> dt.datetime:
    return dt.datetime(2026, month, day_, tzinfo=dt.UTC)


def price(zone: str, amount: str, at: dt.datetime) -> SpotPrice:
    return SpotPrice(f"us-east-1{zone}", "g5.xlarge", "Linux/UNIX", Decimal(amount), at)


MARKET = [
    price("a", "0.30", day(10, 1)),
    price("a", "0.60", day(11, 10)),
    price("b", "0.25", day(8, 1)),
    price("b", "1.15", day(11, 15)),
    price("b", "0.25", day(11, 16)),
]


def zones() -> dict[str, object]:
    return {zone.availability_zone[-1]: zone for zone in zone_prices(MARKET, now=NOW)}


def test_thirty_and_ninety_day_averages_are_weighted_by_how_long_each_price_held():
    a, b = zones()["a"], zones()["b"]
    assert a.average_30d.average == Decimal("0.40")
    assert b.average_30d.average == Decimal("0.28")
    assert b.average_90d.average == Decimal("0.26")
    assert a.average_90d.average == Decimal("0.36")


def test_a_spike_counts_for_the_time_it_lasted_not_for_its_change_points():
    b = zones()["b"]
    change_points = [r.price for r in MARKET if r.availability_zone.endswith("b")][1:]
    mean_of_points = (Decimal("0.25") + sum(change_points)) / 3
    assert mean_of_points == Decimal("0.55")
    assert b.average_30d.average == Decimal("0.28")  # not 0.55
    assert b.peak_90d == Decimal("1.15")
    assert b.current == Decimal("0.25") and b.changed_at == day(11, 16)


def test_a_zone_priced_for_only_part_of_the_window_says_how_much():
    a = zones()["a"]
    assert a.average_30d.complete
    assert not a.average_90d.complete
    assert a.average_90d.covered == dt.timedelta(days=50)


def test_savings_per_zone_and_per_month_are_exact_decimals():
    on_demand = Decimal("1.006")
    a, b = zones()["a"], zones()["b"]
    assert monthly_saving(on_demand, b.average_30d.average) == Decimal("529.98")
    assert monthly_saving(on_demand, a.average_30d.average) == Decimal("442.38")
    assert b.saving(on_demand) == (Decimal("1.006") - Decimal("0.28")) / Decimal("1.006")
    assert a.saving(on_demand, over="now") == (Decimal("0.406") / Decimal("1.006"))


def test_no_price_in_the_window_is_no_average():
    window = time_weighted_average([price("a", "0.30", day(11, 21))], start=day(10, 21), end=NOW)
    assert window.average is None and window.covered == dt.timedelta(0)


def test_records_from_the_future_are_ignored():
    assert zone_prices([price("c", "0.5", day(11, 21))], now=NOW) == []


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (NOW - dt.timedelta(hours=23), ""),
        (NOW - dt.timedelta(days=1), "1 day old"),
        (NOW - dt.timedelta(days=9, hours=3), "9 days old"),
        (dt.date(2026, 6, 1), "172 days old"),
        (None, "age unknown"),
    ],
)
def test_data_older_than_a_day_says_its_age(as_of, expected):
    assert age_text(as_of, now=NOW) == expected


def running(tags: dict[str, str], **fields) -> Instance:
    return Instance("i-1", "g5.xlarge", fields.pop("state", "running"), "us-east-1", tags=tags,
                    **fields)  # fmt: skip


@pytest.mark.parametrize(
    ("tags", "fields", "candidate", "why"),
    [
        ({"workload_type": "training"}, {}, True, "training workload"),
        ({"workload_type": "batch"}, {}, True, "batch workload"),
        ({"spot_eligible": "true"}, {}, True, "tagged spot_eligible=true"),
        ({"workload_type": "serving", "spot_eligible": "true"}, {}, False, "stateful (serving)"),
        ({"workload_type": "inference"}, {}, False, "stateful (inference)"),
        ({"workload_type": "batch", "stateful": "true"}, {}, False, "stateful"),
        ({"workload_type": "batch", "spot_eligible": "false"}, {}, False, "spot_eligible=false"),
        ({"workload_type": "batch"}, {"lifecycle": "spot"}, False, "already on spot"),
        ({"workload_type": "batch"}, {"state": "stopped"}, False, "stopped, not running"),
        ({"env": "dev"}, {}, False, "no batch/training or spot_eligible tag"),
    ],
)
def test_only_interruptible_work_is_a_spot_candidate(tags, fields, candidate, why):
    suitable, reason = spot_suitability(running(tags, **fields))
    assert suitable is candidate
    assert why in reason


# --- EC2 through botocore's Stubber ------------------------------------------------------------


def ec2_client():
    return boto3.client(
        "ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def recorded_pages() -> list[dict]:
    return json.loads(HISTORY_FILE.read_text())["pages"]


def test_every_page_of_the_price_history_is_read():
    ec2 = ec2_client()
    pages = recorded_pages()
    assert len(pages) == 3
    with Stubber(ec2) as stub:
        token = None
        for page in pages:
            expected = {
                "InstanceTypes": ["g5.xlarge"],
                "ProductDescriptions": ["Linux/UNIX"],
                "StartTime": ANY,
                "EndTime": ANY,
                "MaxResults": 1000,
            }
            if token:
                expected["NextToken"] = token
            stub.add_response("describe_spot_price_history", page, expected)
            token = page.get("NextToken")
        now = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
        records = fetch_spot_price_history(
            ec2, "g5.xlarge", start=now - dt.timedelta(days=90), end=now
        )
        stub.assert_no_pending_responses()
    assert len(records) == sum(len(page["SpotPriceHistory"]) for page in pages)
    assert all(isinstance(record.price, Decimal) for record in records)
    by_zone = {zone.availability_zone: zone for zone in zone_prices(records, now=now)}
    assert set(by_zone) == {"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"}
    assert by_zone["us-east-1b"].peak_90d == Decimal("0.935600")  # the recorded spike
    assert all(zone.average_90d.complete for zone in by_zone.values())


def test_a_refused_price_history_is_a_clear_error():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "describe_spot_price_history", "UnauthorizedOperation", "not authorized"
        )
        with pytest.raises(SpotDataError, match="UnauthorizedOperation"):
            fetch_spot_price_history(ec2, "g5.xlarge", start=NOW - dt.timedelta(days=1), end=NOW)


PLACEMENT_RESPONSE = {
    "SpotPlacementScores": [
        {"Region": "us-east-1", "AvailabilityZoneId": "use1-az4", "Score": 9},
        {"Region": "us-east-1", "AvailabilityZoneId": "use1-az6", "Score": 3},
    ]
}
ZONES_RESPONSE = {
    "AvailabilityZones": [
        {"ZoneName": "us-east-1a", "ZoneId": "use1-az6", "RegionName": "us-east-1",
         "State": "available"},
        {"ZoneName": "us-east-1b", "ZoneId": "use1-az4", "RegionName": "us-east-1",
         "State": "available"},
    ]
}  # fmt: skip


def test_placement_scores_come_per_zone_name():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_response(
            "get_spot_placement_scores",
            PLACEMENT_RESPONSE,
            {
                "InstanceTypes": ["g5.xlarge"],
                "TargetCapacity": 1,
                "SingleAvailabilityZone": True,
                "RegionNames": ["us-east-1"],
            },
        )
        stub.add_response("describe_availability_zones", ZONES_RESPONSE, {})
        scores = fetch_placement_scores(ec2, ["g5.xlarge"], region="us-east-1")
    assert scores.by_zone == {"us-east-1b": 9, "us-east-1a": 3}
    assert scores.problem == ""


def test_placement_scores_without_permission_degrade_with_the_reason():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("get_spot_placement_scores", "UnauthorizedOperation", "no")
        scores = fetch_placement_scores(ec2, ["g5.xlarge"], region="us-east-1")
    assert scores.by_zone == {}
    assert "ec2:GetSpotPlacementScores" in scores.problem
