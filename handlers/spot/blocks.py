"""Spot advisor messages: a type's spot outlook, a team's candidates, and a plan's comment."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from engines.spot.advisor_feed import Interruption
from engines.spot.market import WindowAverage, age_text, monthly_saving
from engines.spot.review import FeedStatus, SpotCandidate, SpotOutlook, SpotPlan, TeamSpotReport
from engines.words import plural
from handlers import action_ids
from handlers.blocks.common import (
    MAX_FIELDS,
    Block,
    Message,
    context,
    divider,
    escape,
    header,
    message,
    money,
    section,
)

MAX_CANDIDATES = 15  # one block each; Slack allows 50
PRICE_PLACES = Decimal("0.0001")
SPIKE_RATIO = Decimal("1.5")
"""A zone whose 90-day peak is this many times its 90-day average is flagged as spiky."""
RISK_WORDS = {0: "low", 1: "low", 2: "medium", 3: "high", 4: "high"}


def hourly(amount: Decimal) -> str:
    """``$0.3550/h``: spot prices need more than cents."""
    return f"${amount.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)}/h"


def share(fraction: Decimal) -> str:
    return f"{(fraction * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def risk_text(interruption: Interruption | None) -> str:
    if interruption is None:
        return "interruption frequency unknown (not in the Spot Instance Advisor data)"
    word = RISK_WORDS.get(interruption.bucket_index, "high")
    return f"{word} risk: {interruption.bucket} of instances interrupted a month"


# --- /cost spot <type> [region] -----------------------------------------------------------------


def build_spot_message(outlook: SpotOutlook, *, asked_by: str = "") -> Message:
    """Prices per zone (now, 30- and 90-day time-weighted averages), the saving against
    on-demand, the interruption bucket, placement scores and how old each source is."""
    on_demand = outlook.on_demand.hourly if outlook.on_demand else None
    blocks: list[Block] = [
        header(f"{outlook.instance_type} · spot in {outlook.region}"),
        section(_summary(outlook, on_demand)),
        section("*Per Availability Zone*", fields=_zone_fields(outlook, on_demand)),
    ]
    best = _cheapest(outlook)
    if best is not None and on_demand:
        zone, price = best
        saving = monthly_saving(on_demand, price)
        blocks.append(
            section(
                f":moneybag: Cheapest over 30 days: *{zone}* at {hourly(price)}, "
                f"{share((on_demand - price) / on_demand)} below on-demand: "
                f"*{money(saving)}/month* per instance (730 h)."
            )
        )
    blocks.append(context(*_sources(outlook), *([f"Asked by <@{asked_by}>"] if asked_by else [])))
    fallback = f"{outlook.instance_type} spot in {outlook.region}: " + ", ".join(
        f"{zone.availability_zone} {hourly(zone.current)}" for zone in outlook.zones
    )
    return message(fallback, blocks, response_type="in_channel")


def _summary(outlook: SpotOutlook, on_demand: Decimal | None) -> str:
    lines = []
    if on_demand is not None:
        lines.append(f"*On demand {hourly(on_demand)}* ({outlook.operating_system}).")
    else:
        lines.append("_No on-demand price known for this type here, so no saving is shown._")
    lines.append(f"Interruptions: *{risk_text(outlook.interruption)}*.")
    if outlook.interruption is not None:
        lines[-1] += (
            f" The advisor puts the average saving at {outlook.interruption.saving_percent}%."
        )
    if outlook.feed.problem:
        lines.append(f":warning: {escape(outlook.feed.problem)}")
    return "\n".join(lines)


def _zone_fields(outlook: SpotOutlook, on_demand: Decimal | None) -> list[str]:
    fields = []
    for zone in outlook.zones[:MAX_FIELDS]:
        score = outlook.placement.by_zone.get(zone.availability_zone)
        title = f"*{zone.availability_zone}*" + (f" · placement {score}/10" if score else "")
        now_line = f"now {hourly(zone.current)}"
        if on_demand:
            now_line += f" (−{share(zone.saving(on_demand, over='now') or Decimal(0))})"
        now_line += f", since {zone.changed_at:%b %-d}"
        lines = [title, now_line, _averages(zone.average_30d, zone.average_90d)]
        average = zone.average_90d.average
        if average and zone.peak_90d >= average * SPIKE_RATIO:
            lines.append(f":warning: peaked at {hourly(zone.peak_90d)} in 90 days")
        fields.append("\n".join(lines))
    return fields


def _averages(short: WindowAverage, long: WindowAverage) -> str:
    parts = []
    for label, window in (("30 d", short), ("90 d", long)):
        if window.average is None:
            parts.append(f"{label} —")
            continue
        partial = "" if window.complete else f" ({window.covered.days} d of data)"
        parts.append(f"{label} {hourly(window.average)}{partial}")
    return " · ".join(parts)


def _cheapest(outlook: SpotOutlook) -> tuple[str, Decimal] | None:
    priced = [
        (zone.average_30d.average, zone.availability_zone)
        for zone in outlook.zones
        if zone.average_30d.average is not None
    ]
    if not priced:
        return None
    price, zone = min(priced)
    return zone, price


def _sources(outlook: SpotOutlook) -> list[str]:
    now = outlook.now
    fetched = age_text(outlook.prices_fetched_at, now=now)
    prices = (
        f"Spot prices: EC2 price history, fetched {outlook.prices_fetched_at:%b %-d %H:%M} UTC"
        + (f" ({fetched})" if fetched else "")
        + "; 30/90-day figures are time-weighted averages (each price weighted by how long "
        "it held)."
    )
    lines = [prices]
    if outlook.on_demand is not None:
        lines.append(
            f"On demand: {outlook.on_demand.describe()}"
            + _age_suffix(outlook.on_demand.as_of, now)
            + "."
        )
    lines.append(_feed_source(outlook.feed, now))
    if not outlook.placement.by_zone:
        lines.append(f"Placement scores: {outlook.placement.problem}.")
    return lines


def _feed_source(feed: FeedStatus, now: dt.datetime) -> str:
    if feed.problem:
        return "Interruption data: missing."
    when = f" of {feed.as_of:%b %-d, %Y}" if feed.as_of else ""
    kind = " (a representative snapshot, not a download)" if feed.note else ""
    return f"Interruption data: Spot Instance Advisor, {feed.origin}{when}{kind}" + _age_suffix(
        feed.as_of, now
    )


def _age_suffix(as_of: dt.datetime | dt.date | None, now: dt.datetime) -> str:
    age = age_text(as_of, now=now)
    return f", *{age}*" if age else ""


# --- /cost spot team <name> ---------------------------------------------------------------------


def build_spot_team_message(report: TeamSpotReport, *, asked_by: str = "") -> Message:
    """The team's spot candidates, biggest saving first, each with a Fleet plan button."""
    count = len(report.candidates)
    blocks: list[Block] = [
        header(f"{report.team} · spot candidates"),
        section(
            f"*{money(report.total_monthly_saving)}/month* could be saved by running "
            f"{plural(count, 'instance')} on spot (each at its zone's 30-day time-weighted "
            f"average spot price against the on-demand list price, 730 h a month)."
            if count
            else "No instance of this team is a spot candidate right now."
        ),
    ]
    for candidate in report.candidates[:MAX_CANDIDATES]:
        blocks.append(_candidate_block(candidate))
    if count > MAX_CANDIDATES:
        blocks.append(context(f"…and {count - MAX_CANDIDATES} more."))
    if report.held_back:
        blocks += [divider(), section(_held_back(report))]
    if report.left_out:
        blocks += [divider(), section(_left_out(report))]
    notes = [
        "Candidates: tagged workload_type=batch or training, or spot_eligible=true; never "
        "stateful serving (serving, inference, databases, notebooks, stateful=true).",
        "*Fleet plan* uploads a launch template, EC2 Fleet and Auto Scaling group "
        "(capacity-optimized, diversified over compatible types and zones) as JSON.",
        _feed_source(report.feed, report.now),
    ]
    if report.feed.problem:
        notes.append(escape(report.feed.problem))
    if report.rightsizing_problem:
        notes.append(escape(report.rightsizing_problem))
    if asked_by:
        notes.append(f"Asked by <@{asked_by}>")
    blocks.append(context(*notes))
    fallback = (
        f"{report.team}: {money(report.total_monthly_saving)}/month on spot "
        f"across {plural(count, 'candidate')}."
    )
    return message(fallback, blocks, response_type="in_channel")


def _candidate_block(candidate: SpotCandidate) -> Block:
    instance = candidate.instance
    where = f"{instance.instance_type} in {instance.availability_zone or instance.region}"
    lines = [f"*{escape(instance.name)}* (`{instance.instance_id}`, {where}) · {candidate.reason}"]
    saving = candidate.monthly_saving
    if saving is not None and candidate.on_demand_hourly and candidate.spot_hourly:
        lines.append(
            f"*Saves {money(saving)}/month* · on demand {hourly(candidate.on_demand_hourly)} → "
            f"spot {hourly(candidate.spot_hourly)} (30-day average)"
        )
    else:
        lines.append(f"_No saving figure: {escape(candidate.problem)}._")
    lines.append(risk_text(candidate.interruption))
    block = section("\n".join(lines))
    value = plan_button_value(instance.account_id, instance.region, instance.instance_id)
    block["accessory"] = _plan_button(value)
    return block


PLAN_BUTTON = "Fleet plan"
PLAN_BUTTON_BUSY = "Making the plan…"
PLAN_STATUS_PREFIX = "spot_plan_status|"
"""The ``block_id`` of the line under a candidate that says how its fleet plan is going."""


def _plan_button(value: str, *, busy: bool = False) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": PLAN_BUTTON_BUSY if busy else PLAN_BUTTON},
        "action_id": action_ids.SPOT_PLAN,
        "value": value,
    }


def plan_making_status(user: str) -> str:
    return f":hourglass_flowing_sand: Making the fleet plan for <@{user}>…"


def plan_posted_status(user: str, filename: str) -> str:
    return f":white_check_mark: Fleet plan `{escape(filename)}` posted for <@{user}>."


def plan_unchanged_status(filename: str) -> str:
    return (
        f":white_check_mark: Fleet plan `{escape(filename)}` is already posted in this "
        f"channel; nothing in it has changed since."
    )


def with_plan_status(blocks: list[Block], value: str, status: str, *, busy: bool) -> list[Block]:
    """The message's blocks with one candidate's fleet plan shown as it stands: while it is
    being made the button says so (a click then changes nothing), and the line under the
    candidate says what happened (``status``; "" removes the line). Other blocks are kept.

    Args:
        blocks: the message's blocks as Slack has them.
        value: the candidate's Fleet plan button value.
        status: the line to show under the candidate, or "".
        busy: whether the plan is being made.
    """
    status_id = (PLAN_STATUS_PREFIX + value)[:255]
    updated: list[Block] = []
    for block in blocks:
        if block.get("block_id") == status_id:
            continue  # replaced below, right after its candidate
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == action_ids.SPOT_PLAN and accessory.get("value") == value:
            updated.append({**block, "accessory": _plan_button(value, busy=busy)})
            if status:
                updated.append({**context(status), "block_id": status_id})
            continue
        updated.append(block)
    return updated


def plan_button_value(account_id: str, region: str, instance_id: str) -> str:
    return f"{account_id}|{region}|{instance_id}"


def parse_plan_button_value(value: str) -> tuple[str, str, str]:
    """(account id, region, instance id) from a Fleet plan button."""
    account_id, region, instance_id = value.split("|", 2)
    return account_id, region, instance_id


def _held_back(report: TeamSpotReport) -> str:
    """Suited to spot, but right-sizing comes first: one line each, no saving counted."""
    shown = report.held_back[:MAX_CANDIDATES]
    lines = [
        f"*{escape(instance.name)}* (`{instance.instance_id}`, {instance.instance_type}) · "
        f"{escape(why)}"
        for instance, why in shown
    ]
    more = len(report.held_back) - len(shown)
    if more:
        lines.append(f"…and {more} more.")
    return "*Right-sizing first* (no spot saving counted until it is done or dismissed):\n" + (
        "\n".join(lines)
    )


def _left_out(report: TeamSpotReport) -> str:
    reasons = Counter(reason for _, reason in report.left_out)
    parts = [f"{reason}: {count}" for reason, count in reasons.most_common()]
    return f"Not proposed ({len(report.left_out)}): " + " · ".join(parts) + "."


# --- the plan upload ----------------------------------------------------------------------------


def build_plan_comment(plan: SpotPlan, *, asked_by: str = "") -> str:
    """The comment posted with an uploaded plan."""
    types = ", ".join(f"`{name}`" for name in plan.instance_types)
    zones = ", ".join(sorted(plan.document.get("subnets", {})))
    who = f" for <@{asked_by}>" if asked_by else ""
    return (
        f"Spot plan for *{escape(plan.instance.name)}* (`{plan.instance.instance_id}`){who}: "
        f"capacity-optimized over {types} in {zones}. Create the launch template, then the "
        f"EC2 Fleet *or* the Auto Scaling group (see `how_to_use` in the file)."
    )
