"""Time for the spot advisor's answers, and what the arithmetic costs on a busy history.

1. The arithmetic: ``zone_prices`` over a worst-case 90-day history (6 zones, a price change
   every 10 minutes: 77,760 records), time-weighted 30/90-day averages in exact Decimals.
2. The answer in the demo world (moto with the demo's synthesised market): ``/cost spot
   g5.xlarge`` and ``/cost spot team nlp`` through ``SpotAdvisor``, first (cold: the region's
   instance type catalog, every page of the history) and again (warm: catalog and history
   remembered).

Prints the figures; the times are this machine's, in-process, not AWS latencies.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from summary import figures_line, print_table

from bot.demo.world import start_demo_world
from engines.models import Team
from engines.rightsizing.pricing import PriceBook
from engines.spot.advisor_feed import load_snapshot
from engines.spot.market import SpotPrice, zone_prices
from engines.spot.review import SpotAdvisor

NOW = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)


class MemoryCache:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[dt.datetime, object]] = {}

    def get(self, key, *, max_age, now):
        entry = self.entries.get(key)
        return entry[1] if entry and entry[0] >= now - max_age else None

    def put(self, key, value, *, now):
        self.entries[key] = (now, value)


def busy_history(zones: int = 6, minutes: int = 10) -> list[SpotPrice]:
    rng = random.Random(7)
    records = []
    for zone in range(zones):
        moment = NOW - dt.timedelta(days=90)
        while moment < NOW:
            price = Decimal(rng.randint(3000, 4000)) / 10000
            records.append(SpotPrice(f"us-east-1{'abcdef'[zone]}", "g5.xlarge", "Linux/UNIX",
                                     price, moment))  # fmt: skip
            moment += dt.timedelta(minutes=minutes)
    return records


def timed(work, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


TARGET_ARITHMETIC_S = 0.5
TARGET_ANSWER_S = 3.0  # an answer arrives after the ack; people wait for it
TARGET_PLAN_S = 10.0


def main() -> int:
    records = busy_history()
    arithmetic = statistics.median(timed(lambda: zone_prices(records, now=NOW), repeat=5))
    print(f"zone_prices over {len(records):,} records (6 zones, 90 days, a change every 10 min):"
          f" median {arithmetic * 1000:.0f} ms")  # fmt: skip
    answers: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        world = start_demo_world(workdir=Path(workdir), now=NOW)
        try:
            advisor = SpotAdvisor(
                ec2_for=lambda account, region: world.client("ec2"),
                prices=PriceBook(),
                load_feed=load_snapshot,
                targets=[("", world.region)],
                now=lambda: NOW,
                default_region=world.region,
                cache=MemoryCache(),
            )
            nlp = Team(name="nlp", tags={"team": "nlp"}, channel="#nlp")
            for label in ("cold", "warm"):
                answers[f"outlook {label}"] = timed(lambda: advisor.outlook("g5.xlarge"))[0]
                answers[f"team {label}"] = timed(lambda: advisor.team_report(nlp))[0]
                print(f"demo world, {label}: /cost spot g5.xlarge "
                      f"{answers[f'outlook {label}'] * 1000:.0f} ms, /cost spot team nlp "
                      f"{answers[f'team {label}'] * 1000:.0f} ms")  # fmt: skip
            instance_id = world.instance_ids["nlp-finetune-g5"]
            plan = timed(lambda: advisor.plan(instance_id, account_id="", region=world.region))[0]
            print(f"demo world: the Fleet plan for nlp-finetune-g5 {plan * 1000:.0f} ms")
        finally:
            world.stop()
    slowest = max(answers["outlook cold"], answers["team cold"])
    rows = [
        ("90-day averages, 77,760 records", f"< {TARGET_ARITHMETIC_S * 1000:.0f} ms",
         f"{arithmetic * 1000:.0f} ms", arithmetic < TARGET_ARITHMETIC_S),
        ("slowest answer (cold)", f"< {TARGET_ANSWER_S:g} s", f"{slowest:.2f} s",
         slowest < TARGET_ANSWER_S),
        ("Fleet plan", f"< {TARGET_PLAN_S:g} s", f"{plan:.2f} s", plan < TARGET_PLAN_S),
    ]  # fmt: skip
    print_table(rows)
    details = {"arithmetic_s": arithmetic, "plan_s": plan, **answers}
    print(figures_line("spot_outlook", rows, details))
    return 0 if all(met for *_, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
