"""Looking after an installation: ``costbot check`` (the teams file against the data),
``costbot outbox`` (what the scheduler posted) and ``costbot spot refresh-advisor``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.cli.shared import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, question_context
from bot.settings import Settings, configured_settings

if TYPE_CHECKING:
    from handlers.deps import Deps

MAX_FEED_BYTES = 64 * 1024 * 1024


def run_check(args: argparse.Namespace) -> int:
    """``costbot check``: overlapping rules in the teams file, and where the data (cost
    lines, instances) shows them. The first rule listed owns what rules share, so an
    overlap hands a team's resources, and the decisions about them, to another. Exit 1
    when any."""
    from bot.logs import configure_logging

    configure_logging("WARNING")
    if not 1 <= args.days <= 365:
        print("costbot: --days must be between 1 and 365.", file=sys.stderr)
        return EXIT_CONFIG
    with question_context(args) as deps:
        lines, problems = _ownership_report(deps, days=args.days)
    print("\n".join(lines))
    return EXIT_FAILED if problems else EXIT_OK


def _ownership_report(deps: Deps, *, days: int) -> tuple[list[str], int]:
    import datetime as dt

    from engines.aws_errors import explain
    from engines.costs.allocation import allocation_dimensions
    from engines.costs.ownership import (
        RuleOverlap,
        cost_combinations,
        find_overlaps,
        possible_overlaps,
    )
    from engines.costs.query import CostQuery
    from engines.errors import CostbotError
    from engines.models import Period
    from engines.rightsizing.catalog import describe_instances
    from engines.rightsizing.fleet_review import ACTIVE_STATES

    teams, shared = deps.teams, deps.shared
    lines = [f"Teams file: {len(teams)} teams, {len(shared)} shared costs."]
    problems = 0

    def report(title: str, overlaps: list[RuleOverlap]) -> None:
        nonlocal problems
        problems += len(overlaps)
        if not overlaps:
            lines.append(f"{title}: no overlapping rules.")
            return
        lines.append(f"{title}: {len(overlaps)} overlapping rules:")
        for overlap in overlaps:
            others = ", ".join(overlap.rules[1:])
            more = f" (and {overlap.count - len(overlap.where)} more)"
            shown = "; ".join(overlap.where) + (more if overlap.count > len(overlap.where) else "")
            lines.append(f"  {overlap.owner} owns what {others} also match: {shown}")

    report("The rules themselves", possible_overlaps(teams, shared))
    today = deps.today()
    period = Period(today - dt.timedelta(days=days), today)
    query = CostQuery(period=period, group_by=allocation_dimensions(teams, shared))
    try:
        result = deps.cost_source.costs(query)
        combinations = cost_combinations(result, teams=teams, shared=shared)
        found = find_overlaps(combinations, teams=teams, shared=shared)
        report(f"Cost lines of the last {days} days", found)
    except (CostbotError, ValueError) as error:
        problems += 1
        lines.append(f"Cost lines: could not read them: {error}")
    reviewer = deps.rightsizing
    if reviewer is None:
        lines.append("Instances: AWS is not configured here; not checked.")
        return lines, problems
    items = []
    try:
        for account_id, region in reviewer.targets:
            ec2 = reviewer.ec2_for(account_id, region)
            state = [{"Name": "instance-state-name", "Values": list(ACTIVE_STATES)}]
            for instance in describe_instances(
                ec2, region=region, account_id=account_id, filters=state
            ):
                what = f"{instance.name} ({instance.instance_id})"
                items.append((what, instance.account_id, instance.tags))
    except Exception as error:  # AWS unreachable or refusing: say so, do not crash
        problems += 1
        lines.append(f"Instances: could not list them: {explain(error)}")
        return lines, problems
    report(f"Instances ({len(items)})", find_overlaps(items, teams=teams, shared=shared))
    return lines, problems


def run_outbox(args: argparse.Namespace) -> int:
    from bot.store import Store

    settings = configured_settings()
    path = settings.db_path if settings else None
    store = Store(path or args.workdir / "costbot.db")
    rows = store.outbox_rows(state=args.state or "", limit=args.limit)
    if args.json:
        print(json.dumps([{k: v for k, v in row.items() if k != "message"} for row in rows]))
        return EXIT_OK
    if not rows:
        print("The outbox is empty.")
    for row in rows:
        when = row["sent_at"] or row["next_attempt_at"] or ""
        problem = f"  ({row['last_error']})" if row["last_error"] else ""
        print(f"{row['state']:<10} {row['key']:<48} {row['channel']:<28} "
              f"tries {row['attempts']}  {when[:19]}{problem}")  # fmt: skip
    return EXIT_OK


def run_refresh_advisor(args: argparse.Namespace, *, fetch: Callable | None = None) -> int:
    """Replaces the local Spot Instance Advisor data with the feed, atomically."""
    from bot.app import utc_now
    from engines.spot.advisor_feed import FEED_URL, AdvisorFeedError, load_feed, refresh_feed

    settings = Settings.from_env(require_slack=False)
    path = settings.spot_advisor_path
    try:
        result = refresh_feed(
            path, fetch=fetch or _download, now=utc_now(), url=args.url or FEED_URL
        )
    except AdvisorFeedError as error:
        print(f"costbot: {error}", file=sys.stderr)
        try:
            current = load_feed(path)
            when = f" of {current.as_of:%Y-%m-%d}" if current.as_of else ""
            print(f"Still in use: {current.origin}{when}.", file=sys.stderr)
        except AdvisorFeedError as broken:
            print(f"The data in use is broken too: {broken}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"Spot Instance Advisor data updated: {result.regions} regions, "
        f"{result.instance_types} instance types, saved to {result.path}."
    )
    return EXIT_OK


def _download(url: str, timeout: float) -> bytes:
    """GETs ``url`` within ``timeout`` seconds; anything but 200 is an ``OSError``."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "costbot"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")
        body = response.read(MAX_FEED_BYTES + 1)
    if len(body) > MAX_FEED_BYTES:
        raise OSError(f"the answer is larger than {MAX_FEED_BYTES // 2**20} MB")
    return body
