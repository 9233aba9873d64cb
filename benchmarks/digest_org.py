"""A morning of digests for a 200-team organisation: build them from the 10-million-line FOCUS
month, then post them (with the budget alerts that fire) to the local Slack stand-in with
its rate limit on (1 message per second per channel, 429 + Retry-After beyond it).

The month is ``benchmarks/cost_scan.py``'s synthetic FOCUS Parquet month, generated once
with 200 teams (cached under .bench/). The teams file is written here: 200 teams, each
with a channel of its own, time zones round the world and budgets set so that some teams
have crossed 50%, 80% or 100% and get alerts too (so some channels get two messages and
the per-channel pace shows).

* **Build**: ``DigestJob.run(force=True)`` (what ``/cost digest post`` runs) for every team,
  then ``check_budget_alerts``: every message built and queued in the outbox. The source
  is scanned once (one organisation-wide question, cached) and allocated once.
* **Delivery**: the outbox's delivery thread, as in production, from the first send until
  the last message is in Slack. Channels go in parallel; each keeps 1 message/second.

The stand-in also answers the first 20 posts with 429 and ``Retry-After: 2`` (as a busy
Slack would), so those channels wait two seconds. Checks: every queued message arrives
exactly once, none is lost to a 429, both times are within their targets, and a sample of
the digests' month to date (every 10th team) is, to the cent, what a raw scan of the
Parquet file sums for that team (its tag, its currency, the month through the digest's
last complete day), and what its message says. The last
line is JSON: ``{"figures": [{"name", "target", "measured", "met"}], ...}``.

    .venv/bin/python benchmarks/digest_org.py [--rows 10000000] [--teams 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from summary import figures_line, print_table  # noqa: E402

TARGET_BUILD_S = 5.0
DELIVERY_SLACK_S = 15.0  # on top of the pace's floor: (most messages in one channel - 1) s
NOW = dt.datetime(2026, 10, 30, 15, 0, tzinfo=dt.UTC)  # a Friday late in the generated month
ZONES = ["America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Berlin",
         "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "UTC"]  # fmt: skip
TOKEN, SECRET = "xoxb-bench-digests", "bench-signing-secret"


def teams_file(count: int, folder: Path) -> Path:
    """200 teams named as the generator tags them, budgets spread around their spend."""
    width = len(str(count - 1))
    lines = []
    for n in range(count):
        name = f"team-{n:0{width}d}"
        # By Oct 30 a team has spent 520,000-800,000 USD: these budgets put teams under
        # 50%, past 50%, 80% or 100%, and some on course to exceed theirs.
        budget = 500_000 + (n % 10) * 100_000
        lines += [
            f"[teams.{name}]",
            f'tags = {{ team = "{name}" }}',
            f'channel = "#{name}-costs"',
            f"monthly_budget = {budget}",
            f'timezone = "{ZONES[n % len(ZONES)]}"',
            "",
        ]
    path = folder / f"digest-org-{count}-teams.toml"
    path.write_text("\n".join(lines))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=ROOT / ".bench")
    parser.add_argument(
        "--inject-429s", type=int, default=20,
        help="answer the first N posts with 429 + Retry-After: 2, as a busy Slack would",
    )  # fmt: skip
    args = parser.parse_args()

    import cost_scan

    month = cost_scan.billing_month(args.rows, args.dir, teams=args.teams)
    started = time.perf_counter()
    figures = run(month, teams_file(args.teams, args.dir), args)
    figures["whole_run_s"] = round(time.perf_counter() - started, 1)
    return report(figures, args)


def run(month: Path, teams_path: Path, args: argparse.Namespace) -> dict[str, object]:
    from slack_sdk import WebClient

    from bot.app import build_deps, rule_tag_keys
    from bot.demo.people import DemoChannel
    from bot.demo.slack_standin import SlackStandIn
    from bot.outbox import Outbox, SlackPoster
    from bot.settings import Settings
    from bot.store import Store
    from engines.config.teams import load_config
    from engines.costs.sources.focus import FocusFileSource
    from engines.costs.sources.rollup import RollupSource
    from handlers.digests.jobs import DigestJob, check_budget_alerts

    config = load_config(teams_path.read_text(), filename=str(teams_path))
    channels = [DemoChannel(f"C{n:08d}", team.channel[1:], "") for n, team in
                enumerate(config.teams.values())]  # fmt: skip
    slack = SlackStandIn(signing_secret=SECRET, bot_token=TOKEN, channels=channels,
                         channel_rate_limit=1.0)  # fmt: skip
    slack.start(threads=16)
    db_path = args.dir / "digest-org.db"
    for stale in args.dir.glob("digest-org.db*"):
        stale.unlink()
    store = Store(db_path)
    settings = Settings(db_path=db_path, teams_file=teams_path, slack_bot_token=TOKEN,
                        slack_api_url=slack.api_url)  # fmt: skip
    # The export's daily rollup, as the bot keeps it next to its database: built once when
    # the file lands (timed apart), so the digests read its sums, not the 10M lines.
    rollup_path = args.dir / f"digest-org-rollup-{args.rows}-t{args.teams}.duckdb"
    for stale in args.dir.glob(rollup_path.name + "*"):
        stale.unlink()
    rollup_started = time.perf_counter()
    source = RollupSource(FocusFileSource(str(month)), path=rollup_path,
                          tag_keys=rule_tag_keys(config))  # fmt: skip
    source.refresh()
    rollup_s = time.perf_counter() - rollup_started
    # The digests' figures alone (engines.digests.digest.build_digest for every team, no chart, no
    # outbox), on a source of their own so the run below starts as cold as this one, with an
    # allocation cache of their own as the bot's Deps hands one in.
    from engines.costs.allocation_cache import AllocationCache
    from engines.costs.periods import billing_date
    from engines.digests.digest import build_digest

    figures_source = RollupSource(FocusFileSource(str(month)), path=rollup_path,
                                  tag_keys=rule_tag_keys(config))  # fmt: skip
    figures_cache = AllocationCache()
    engine_started = time.perf_counter()
    for team in config.teams.values():
        build_digest(figures_source, config.teams, config.shared, team=team,
                     today=billing_date(NOW), cache=figures_cache)  # fmt: skip
    engine_s = time.perf_counter() - engine_started
    deps = build_deps(settings, store=store, config=config, cost_source=source,
                      now=lambda: NOW)  # fmt: skip
    try:
        build_started = time.perf_counter()
        digests = DigestJob(deps).run(NOW, force=True)
        alerts = check_budget_alerts(deps, now=NOW)
        build_s = time.perf_counter() - build_started

        client = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
        outbox = Outbox(store, SlackPoster(client), clock=lambda: dt.datetime.now(dt.UTC))
        if args.inject_429s:
            slack.fail_next("chat.postMessage", status=429, retry_after=2, count=args.inject_429s)
        queued = [row for row in store.outbox_rows(limit=100_000) if row["state"] == "pending"]
        mismatches, sampled = raw_month_to_date_check(month, queued)
        deliver_started = time.perf_counter()
        outbox.start()
        while store.outbox_rows(state="pending", limit=1) or store.outbox_rows(
            state="sending", limit=1
        ):
            time.sleep(0.02)
        delivery_s = time.perf_counter() - deliver_started
        outbox.stop()
        posted = [m for m in slack.messages(include_ephemeral=False) if m["bot_id"]]
    finally:
        slack.stop()
        store.close()
    per_channel = Counter(row["channel"] for row in queued)
    # A digest is one message with its chart (blocks, no text): count it by its blocks too.
    texts = Counter((m["channel"], m["text"], json.dumps(m["blocks"])) for m in posted)
    return {
        "teams": len(config.teams),
        "digests_queued": len(digests.queued),
        "digest_failures": digests.failed,
        "alerts_queued": sum(1 for d in alerts if d.status == "sent"),
        "charts_queued": sum(1 for row in queued if "chart" in json.loads(row["message"])),
        "messages_queued": len(queued),
        "messages_posted": len(posted),
        "duplicates": sum(count - 1 for count in texts.values() if count > 1),
        "most_in_one_channel": max(per_channel.values(), default=0),
        "rate_limited_429s": slack.rate_limited,  # refused for going faster than 1/s
        "injected_429s": args.inject_429s,
        "failed_rows": len([r for r in queued if r["state"] == "failed"]),
        "month_to_date_sampled": sampled,
        "month_to_date_mismatches": mismatches,
        "rollup_build_s": round(rollup_s, 2),
        "figures_only_s": round(engine_s, 2),
        "build_s": round(build_s, 2),
        "delivery_s": round(delivery_s, 2),
    }


def raw_month_to_date_check(month: Path, queued: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Every 10th team's digest: its month to date against a raw scan of the file (DuckDB
    over the Parquet, none of costbot's code): the lines tagged with the team, in the
    digest's currency, charged from the 1st through its last complete day. The teams file
    here has no shared costs, so a team's month is its own lines. Returns the mismatches
    (empty: all equal to the cent, and the message shows that figure) and the sample size."""
    import duckdb

    from handlers.blocks.common import money

    digests = sorted((r for r in queued if r["kind"] == "digest"), key=lambda r: r["team"])
    sample = digests[::10]
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    # One scan for the whole sample: each team's lines by currency, the day their charge
    # starts and the first midnight at or after it ends (a line counts in a period holding
    # its whole charge period).
    teams = [row["team"] for row in sample]
    sums: dict[tuple[str, str], list[tuple[dt.date, dt.date, Decimal]]] = {}
    for team, currency, start, end, amount in connection.execute(
        "SELECT team, BillingCurrency, CAST(ChargePeriodStart AS DATE), "
        "CAST(ChargePeriodEnd - INTERVAL 1 MICROSECOND AS DATE) + 1, "
        "sum(CAST(BilledCost AS DECIMAL(38, 10))) FROM (SELECT *, CASE WHEN json_valid(Tags) "
        "THEN json_extract_string(Tags, '$.team') END AS team FROM read_parquet(?)) "
        "WHERE team IN (SELECT unnest(?)) AND BilledCost IS NOT NULL GROUP BY ALL",
        [str(month), teams],
    ).fetchall():
        sums.setdefault((team, currency), []).append((start, end, Decimal(amount)))
    mismatches = []
    cent = Decimal("0.01")
    for row in sample:
        meta = json.loads(row["meta"])
        first = dt.date.fromisoformat(meta["date"]).replace(day=1)
        end = dt.date.fromisoformat(meta["data_through"]) + dt.timedelta(days=1)
        raw = sum(
            (amount for start, until, amount in sums.get((row["team"], meta["currency"]), [])
             if first <= start < end and until <= end),
            Decimal(0),
        )  # fmt: skip
        built = Decimal(meta["month_to_date"])
        shown = money(built, meta["currency"])
        blocks = json.dumps(json.loads(row["message"]).get("blocks"), ensure_ascii=False)
        if built.quantize(cent) != raw.quantize(cent) or shown not in blocks:
            mismatches.append(f"{row['team']}: digest {built} ({shown}), raw scan {raw}")
    return mismatches, len(sample)


def report(figures: dict[str, object], args: argparse.Namespace) -> int:
    build_s = float(str(figures["build_s"]))
    delivery_s = float(str(figures["delivery_s"]))
    floor = int(str(figures["most_in_one_channel"])) - 1
    delivery_target = floor + DELIVERY_SLACK_S
    all_once = (
        figures["messages_posted"] == figures["messages_queued"]
        and figures["duplicates"] == 0
        and figures["digests_queued"] == figures["teams"]
    )
    mismatches = figures["month_to_date_mismatches"]
    exact = not mismatches and bool(figures["month_to_date_sampled"])
    for mismatch in mismatches if isinstance(mismatches, list) else ():
        print(f"  month to date differs: {mismatch}")
    rows = [
        (f"build {figures['teams']} digests + budget alerts from {args.rows:,} lines",
         f"< {TARGET_BUILD_S:g} s", f"{build_s:.2f} s", build_s < TARGET_BUILD_S),
        (f"deliver {figures['messages_queued']} messages to {figures['teams']} channels "
         "at 1 msg/s/channel", f"< {delivery_target:g} s", f"{delivery_s:.2f} s",
         delivery_s < delivery_target),
        ("every queued message posted exactly once", "yes", "yes" if all_once else "no",
         all_once),
        (f"month to date of {figures['month_to_date_sampled']} sampled digests = raw scan, "
         "to the cent", "yes", "yes" if exact else "no", exact),
    ]  # fmt: skip
    print(f"digests for {figures['teams']} teams ({os.cpu_count()} CPUs)")
    print_table(rows)
    print(
        f"  ({figures['digests_queued']} digests with {figures['charts_queued']} charts, "
        f"{figures['alerts_queued']} alerts; at most "
        f"{figures['most_in_one_channel']} in one channel; {figures['injected_429s']} posts "
        f"answered 429 + Retry-After: 2 on purpose and {figures['rate_limited_429s']} for "
        f"going too fast, all waited out; whole run {figures['whole_run_s']} s)"
    )
    print(
        f"  (the rollup built once before, in {figures['rollup_build_s']} s; the 200 digests' "
        f"figures alone, without charts or outbox: {figures['figures_only_s']} s)"
    )
    met = all(row[3] for row in rows)
    print(figures_line("digest_org", rows, figures))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
