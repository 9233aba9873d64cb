"""Off-hours schedule messages: the list, one schedule, changes, the pre-stop warning, the
create modal. Pure: engine results in, Block Kit out."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal

from engines.models import Team
from engines.schedules.enforcement import KEEP_RUNNING_FOR, ScheduleView, StopWarning
from engines.schedules.model import Desired, Mode, Schedule
from engines.words import mode_label, plural
from handlers import action_ids
from handlers.blocks.common import (
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

WARNING, DONE = ":warning:", ":white_check_mark:"
MAX_LISTED = 15
MAX_RESOURCES_SHOWN = 20
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")
STATE_ICONS = {Desired.RUNNING: ":large_green_circle:", Desired.STOPPED: ":black_circle:"}
SCHEDULE_BLOCKS = {
    "name": "schedule_name",
    "team": "schedule_team",
    "timezone": "schedule_timezone",
    "periods": "schedule_periods",
    "tags": "schedule_tags",
    "holidays": "schedule_holidays",
    "mode": "schedule_mode",
}


def _text(text: str) -> str:
    """Escaped for mrkdwn, with user mentions kept working."""
    return _MENTION.sub(r"<@\1>", escape(text))


def _when(instant: dt.datetime, schedule: Schedule) -> str:
    return instant.astimezone(schedule.zone).strftime("%a %b %-d %H:%M %Z")


def _status(view: ScheduleView) -> str:
    schedule = view.schedule
    if schedule.paused:
        return ":double_vertical_bar: paused"
    if view.next_change is None:
        return "no change in the next 8 days"
    instant, state = view.next_change
    verb = "starts" if state is Desired.RUNNING else "stops"
    if state is Desired.RUNNING and schedule.mode is Mode.STOP_ONLY:
        verb = "lets people start them"
    return f"next: {verb} {_when(instant, schedule)}"


def _saving(view: ScheduleView) -> str:
    saving = view.saving
    text = f"~{money(saving.monthly)}/month ({saving.hours_off_per_month} h off a month)"
    if saving.unpriced:
        text += f"; {len(saving.unpriced)} without a known price left out"
    return text


def _resources(view: ScheduleView) -> str:
    """``3 resources (2 EC2 instances, 1 SageMaker notebook instance)``."""
    kinds = Counter(decision.resource.kind for decision in view.resources)
    text = plural(len(view.resources), "resource")
    if kinds:
        text += " (" + ", ".join(plural(n, kind.label) for kind, n in kinds.items()) + ")"
    return text


def build_schedule_list(
    subject: str, views: Sequence[ScheduleView], *, dry_run: bool, asked_by: str = ""
) -> Message:
    """Every schedule with its hours, targets, next change and estimated saving."""
    total = sum((v.saving.monthly for v in views if not v.schedule.paused), Decimal(0))
    blocks: list[Block] = [
        header(f"{subject} · off-hours schedules"),
        section(
            f"*{plural(len(views), 'schedule')}*, saving an estimated *{money(total)}/month* "
            "(hours off × on-demand list prices)."
            if views
            else "No schedules yet. An approver can add one with `/cost schedule create`, "
            "or in the teams file as `[schedules.<name>]`."
        ),
    ]
    for view in views[:MAX_LISTED]:
        schedule = view.schedule
        blocks.append(
            section(
                f"*{escape(schedule.name)}* ({escape(schedule.team)}, "
                f"{mode_label(schedule.mode)}) · "
                f"{escape(schedule.describe_periods())} {schedule.timezone}\n"
                f"{_resources(view)} with {escape(schedule.describe_selector())}"
                f" · {_status(view)}\n{_saving(view)}"
            )
        )
    if len(views) > MAX_LISTED:
        blocks.append(context(f"…and {len(views) - MAX_LISTED} more."))
    blocks.append(context(_footer(dry_run, asked_by)))
    fallback = (
        f"{subject}: {plural(len(views), 'off-hours schedule')}, ~{money(total)}/month saved."
    )
    return message(fallback, blocks, response_type="ephemeral")


def _footer(dry_run: bool, asked_by: str, *, show_hint: bool = True) -> str:
    parts = ["`/cost schedule show <name>` for details."] if show_hint else []
    if dry_run:
        parts.append("Dry run: stops and starts are rehearsed, nothing is changed.")
    if asked_by:
        parts.append(f"Asked by <@{asked_by}>.")
    return " ".join(parts)


def build_schedule_detail(view: ScheduleView, *, dry_run: bool, asked_by: str = "") -> Message:
    """One schedule: its definition, each resource's desired state now, its overrides."""
    schedule = view.schedule
    holidays = ", ".join(f"{day:%Y-%m-%d}" for day in schedule.holidays) or "none"
    blocks: list[Block] = [
        header(f"{schedule.name} · off-hours schedule"),
        section(
            f"*Team:* {escape(schedule.team)} · *Mode:* {mode_label(schedule.mode)} · "
            f"*Time zone:* {schedule.timezone} · *From:* {schedule.source}\n"
            f"*Runs:* {escape(schedule.describe_periods())}\n"
            f"*Selects:* {escape(schedule.describe_selector())} (and the team's own tags)\n"
            f"*Holidays:* {holidays}\n*Status:* {_status(view)}\n*Saves:* {_saving(view)}"
        ),
    ]
    if view.overrides:
        overrides = "\n".join(
            f"• {escape(o.describe(schedule.zone))} (<@{o.created_by}>)" for o in view.overrides
        )
        blocks.append(section(f"*Overrides*\n{overrides}"))
    if view.resources:
        lines = [
            f"{STATE_ICONS[d.desired]} {escape(d.resource.label)} · {d.resource.kind.label}, "
            f"{escape(d.resource.size or '?')} · is {escape(d.resource.state or '?')}, "
            f"should be {d.desired.value} ({escape(d.reason)})"
            for d in view.resources[:MAX_RESOURCES_SHOWN]
        ]
        more = len(view.resources) - MAX_RESOURCES_SHOWN
        if more > 0:
            lines.append(f"…and {more} more")
        blocks += [divider(), section("\n".join(lines))]
    else:
        blocks.append(section("It selects no resource at the moment."))
    blocks.append(context(_footer(dry_run, asked_by, show_hint=False) or schedule.source))
    fallback = f"{schedule.name}: {schedule.describe_periods()} ({schedule.timezone})"
    return message(fallback, blocks, response_type="ephemeral")


def build_schedule_done(text: str) -> Message:
    """A change to schedules everyone in the channel should see."""
    return message(f"{DONE} {text}", [section(f"{DONE} {_text(text)}")], response_type="in_channel")


def build_schedule_problem(text: str, hint: str = "") -> Message:
    """What was wrong with a schedule request (nothing was saved)."""
    blocks = [section(f"{WARNING} {_text(text)}")]
    if hint:
        blocks.append(section(_text(hint)))
    return message(f"{WARNING} {text}", blocks, response_type="ephemeral")


def build_stop_warning(warning: StopWarning, *, dry_run: bool) -> Message:
    """Posted in the team channel before a stop, with a **Keep running 2 h** button."""
    schedule = warning.schedule
    names = ", ".join(escape(r.label) for r in warning.resources[:10])
    if len(warning.resources) > 10:
        names += f" and {len(warning.resources) - 10} more"
    stop_local = warning.stop_at.astimezone(schedule.zone)
    hours = int(KEEP_RUNNING_FOR.total_seconds() // 3600)
    text = (
        f":alarm_clock: At {stop_local:%H:%M %Z} schedule *{escape(schedule.name)}* stops "
        f"{plural(len(warning.resources), 'resource')}: {names}."
    )
    blocks: list[Block] = [
        section(text),
        {
            "type": "actions",
            "block_id": f"schedule_warning:{schedule.name}",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": f"Keep running {hours} h"},
                    "action_id": action_ids.SCHEDULE_KEEP_RUNNING,
                    "value": f"{schedule.name}|{warning.stop_at.isoformat()}",
                    "style": "primary",
                }
            ],
        },
        context(
            "Team members can keep it running. Or: "
            "`/cost schedule keep <instance or notebook> until 22:00`."
            + (" Dry run: nothing will really stop." if dry_run else "")
        ),
    ]
    fallback = f"At {stop_local:%H:%M %Z} schedule {schedule.name} stops: {names}."
    return message(fallback, blocks)


def with_kept(blocks: Sequence[Block], schedule_name: str, status: str) -> list[Block]:
    """The warning as Slack holds it, with its button replaced by who kept it and until when."""
    block_id = f"schedule_warning:{schedule_name}"
    return [context(_text(status)) if b.get("block_id") == block_id else b for b in blocks]


def build_create_modal(
    teams: Mapping[str, Team], *, team: str = "", channel_id: str = ""
) -> dict[str, object]:
    """The **create a schedule** form; ``team`` is preselected when known."""
    options = [_option(name, name) for name in teams]
    team_select: dict[str, object] = {
        "type": "static_select",
        "action_id": "team",
        "options": options,
        "placeholder": {"type": "plain_text", "text": "Team"},
    }
    if team in teams:
        team_select["initial_option"] = _option(team, team)
    mode_options = [
        _option("Stop and start", Mode.START_STOP.value),
        _option("Stop only (people start them)", Mode.STOP_ONLY.value),
    ]
    return {
        "type": "modal",
        "callback_id": action_ids.SCHEDULE_CREATE_MODAL,
        "private_metadata": channel_id,
        "title": {"type": "plain_text", "text": "New off-hours schedule"},
        "submit": {"type": "plain_text", "text": "Create"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("name", "Name", "e.g. fraud-dev-hours"),
            {
                "type": "input",
                "block_id": SCHEDULE_BLOCKS["team"],
                "label": {"type": "plain_text", "text": "Team"},
                "element": team_select,
            },
            _input(
                "periods",
                "When they run (local time)",
                "mon-fri 09:00-19:00; sat 10:00-14:00",
                multiline=True,
            ),
            _input("tags", "Which resources (tags)", "env=dev, workload_type=notebook"),
            context(
                "EC2 instances, RDS instances, Auto Scaling groups and SageMaker notebook "
                "instances with these tags (and the team's own) are stopped and started."
            ),
            _input(
                "timezone", "Time zone (default: the team's)", "America/New_York", optional=True
            ),
            _input("holidays", "Holidays (off all day)", "2026-12-24, 2026-12-25", optional=True),
            {
                "type": "input",
                "block_id": SCHEDULE_BLOCKS["mode"],
                "label": {"type": "plain_text", "text": "Mode"},
                "element": {
                    "type": "static_select",
                    "action_id": "mode",
                    "options": mode_options,
                    "initial_option": mode_options[0],
                },
            },
            context(
                "Only the team's approvers can create schedules. Resources are checked before "
                "anything is saved."
            ),
        ],
    }


def _input(
    key: str, label: str, placeholder: str, *, multiline: bool = False, optional: bool = False
) -> Block:
    return {
        "type": "input",
        "block_id": SCHEDULE_BLOCKS[key],
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": key,
            "multiline": multiline,
            "placeholder": {"type": "plain_text", "text": placeholder},
        },
    }


def _option(text: str, value: str) -> dict[str, object]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}
