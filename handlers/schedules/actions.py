"""Off-hours schedules in Slack: the create form, and **Keep running 2 h** on a warning.

Who may: a team's approvers create (and pause, resume) its schedules; its members and
approvers keep things running and skip a day (``engines.schedules.enforcement``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.schedules.model import (
    Schedule,
    ScheduleError,
    check_name,
    check_timezone,
    parse_holidays,
    parse_mode,
    parse_periods,
    parse_tags,
)
from engines.words import mode_label, plural
from handlers import action_ids
from handlers.actions.clicks import Click
from handlers.deps import Deps
from handlers.schedules.blocks import (
    SCHEDULE_BLOCKS,
    build_create_modal,
    build_schedule_done,
    build_schedule_problem,
    with_kept,
)

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.action(action_ids.SCHEDULE_KEEP_RUNNING)
    def handle_keep_running_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        click = Click.from_body(body, respond, client)
        deps.run_later(lambda: keep_running(click, action, deps=deps))

    @app.view(action_ids.SCHEDULE_CREATE_MODAL)
    def handle_create_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        schedule, errors = read_create_form(view, user=user, deps=deps)
        if schedule is None:
            ack(response_action="errors", errors=errors)
            return
        ack()
        channel = view.get("private_metadata", "")
        deps.run_later(lambda: _create(schedule, user, channel, client, deps))


def open_create_modal(client: WebClient, command: dict[str, Any], deps: Deps) -> str:
    """Opens the form (the trigger expires in seconds: call it before the ack).

    Returns what went wrong in words, or "" when the form is open."""
    user = command.get("user_id", "")
    team = next(
        (t.name for t in deps.teams.values() if user in t.approvers),
        "",
    )
    view = build_create_modal(deps.teams, team=team, channel_id=command.get("channel_id", ""))
    trigger_id = command.get("trigger_id")
    if not trigger_id:  # a form can only open on a fresh trigger from Slack
        return "Slack sent no trigger to open the form with; type the command again."
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error") if error.response else "no answer"
        logger.warning("views.open failed: %s", reason)
        return f"I could not open the form ({reason}); try again."
    return ""


def read_create_form(
    view: dict[str, Any], *, user: str, deps: Deps
) -> tuple[Schedule | None, dict[str, str]]:
    """The schedule the form describes, or the errors to show next to its fields."""
    values = (view.get("state") or {}).get("values") or {}  # Slack may send none

    def text(key: str) -> str:
        element = values.get(SCHEDULE_BLOCKS[key], {}).get(key, {})
        selected = element.get("selected_option")
        return (selected["value"] if selected else element.get("value")) or ""

    errors: dict[str, str] = {}
    team = deps.teams.get(text("team"))
    if team is None:
        errors[SCHEDULE_BLOCKS["team"]] = "Pick a team."
    elif deps.offhours is not None and not deps.offhours.may_manage(user, team.name):
        # A form error is plain text: a mention would show as a bare user id there.
        errors[SCHEDULE_BLOCKS["team"]] = (
            f"Only {team.name}'s approvers can create its schedules."
            if team.approvers
            else f"{team.name} has no approvers in the teams file: ask for one to be added."
        )
    fields: dict[str, Any] = {}
    steps = {
        "name": lambda raw: check_name(raw.strip()),
        "periods": parse_periods,
        "tags": parse_tags,
        "timezone": lambda raw: check_timezone(raw) if raw.strip() else "",
        "holidays": lambda raw: parse_holidays(d for d in re.split(r"[,\s]+", raw) if d),
        "mode": lambda raw: parse_mode(raw or "start_stop"),
    }
    for key, parse in steps.items():
        try:
            fields[key] = parse(text(key))
        except ScheduleError as error:
            errors[SCHEDULE_BLOCKS[key]] = str(error).replace("`", "")[:150]
    if not errors and not fields["tags"]:
        errors[SCHEDULE_BLOCKS["tags"]] = "Name at least one tag, like env=dev."
    if errors or team is None:
        return None, errors
    schedule = Schedule(
        name=fields["name"],
        team=team.name,
        timezone=fields["timezone"] or team.timezone,
        periods=fields["periods"],
        tags=fields["tags"],
        team_tags=team.tags,
        holidays=fields["holidays"],
        mode=fields["mode"],
        created_by=user,
    )
    return schedule, {}


def _create(schedule: Schedule, user: str, channel: str, client: WebClient, deps: Deps) -> None:
    """Checks the selector against what is in AWS and saves; says how it went."""
    assert deps.offhours is not None
    try:
        selected = deps.offhours.create(schedule, by=user, now=deps.now())
    except ScheduleError as error:
        reply = build_schedule_problem(f"Schedule `{schedule.name}` was not saved: {error}")
        client.chat_postEphemeral(channel=channel or user, user=user, **_plain(reply))
        return
    names = ", ".join(r.label for r in selected[:10])
    more = f" and {len(selected) - 10} more" if len(selected) > 10 else ""
    text = (
        f"<@{user}> created schedule `{schedule.name}` for {schedule.team}: "
        f"{schedule.describe_periods()} ({schedule.timezone}), {mode_label(schedule.mode)}, "
        f"over {plural(len(selected), 'resource')}: {names}{more}."
    )
    client.chat_postMessage(channel=channel or user, **_plain(build_schedule_done(text)))


def _plain(reply: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in reply.items() if key != "response_type"}


def keep_running(click: Click, action: dict[str, Any], *, deps: Deps) -> None:
    """The warning's button: keep the schedule's resources up two hours past the stop.

    The warning in the channel shows who kept them and until when, for everyone; clicked
    anywhere Slack sends no copy of it (an ephemeral message, a view), the clicker is told.
    """
    if deps.offhours is None:
        click.tell("Off-hours schedules are not set up here.")
        return
    name, _, stop_text = str(action.get("value", "")).partition("|")
    try:
        stop_at = dt.datetime.fromisoformat(stop_text)
    except ValueError:
        click.tell("That button is out of date: the next warning will have a fresh one.")
        return
    try:
        override = deps.offhours.keep_schedule_running(name, stop_at, by=click.user, now=deps.now())
    except ScheduleError as error:
        click.tell(str(error))
        return
    zone = deps.offhours.find(name).zone
    status = (
        f":raised_hand: <@{click.user}> keeps them running until "
        f"{override.until.astimezone(zone):%H:%M %Z}; then the schedule stops them."
    )
    if click.blocks is None or not click.update_card(
        with_kept(click.blocks, name, status), text=status
    ):
        click.tell(status)
