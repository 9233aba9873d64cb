"""The ``costbot`` command: serve, demo, ask, check."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import logging
import re
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import Settings, SettingsError, configured_settings, demo_signing_secret
from engines.errors import ConfigError

if TYPE_CHECKING:
    from bot.lease import ActingLease
    from handlers.deps import Deps

logger = logging.getLogger("costbot")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
DEMO_DEFAULT_PORT = 3000


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        return int(args.run(args))
    except (SettingsError, ConfigError) as error:
        print(str(error), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costbot", description="Cloud cost as a Slack conversation."
    )
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the bot (HTTP on $PORT, or Socket Mode)")
    serve.set_defaults(run=run_serve)

    demo = commands.add_parser("demo", help="run the bot against the embedded demo world")
    demo.add_argument(
        "--port", type=int, default=DEMO_DEFAULT_PORT, help="workspace port (default 3000)"
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--workdir", type=Path, default=Path(".demo"), help="where demo state goes")
    demo.add_argument(
        "--socket-mode",
        action="store_true",
        help="connect the bot to the workspace over Socket Mode (a WebSocket) instead of HTTP",
    )
    demo.set_defaults(run=run_demo)

    ask = commands.add_parser(
        "ask", help='run one slash command and print the reply, e.g. "/cost help"'
    )
    ask.add_argument("command_text", metavar='"/cost ..."')
    ask.add_argument("--user", default="U0DEMOALICE", help="who asks (a demo user id)")
    ask.add_argument("--channel", default="C0DEMOFRAUD", help="where (a demo channel id)")
    ask.add_argument("--json", action="store_true", help="print the Slack message payloads as JSON")
    ask.add_argument("--workdir", type=Path, default=Path(".demo"), help="where demo state goes")
    ask.set_defaults(run=run_ask)

    cost = commands.add_parser(
        "cost", help="answer a cost question without Slack, e.g. costbot cost team nlp by service"
    )
    cost.add_argument("words", nargs="*", help="the same words as after /cost")
    cost.add_argument("--json", action="store_true", help="print the result as JSON")
    cost.add_argument("--chart", type=Path, help="for `trend`: write the chart PNG here")
    cost.add_argument("--workdir", type=Path, default=Path(".demo"), help="where demo state goes")
    cost.set_defaults(run=run_cost)

    spot = commands.add_parser("spot", help="spot advisor data")
    spot_commands = spot.add_subparsers(dest="spot_command", required=True)
    refresh = spot_commands.add_parser(
        "refresh-advisor",
        help="download the Spot Instance Advisor feed (interruption frequencies)",
    )
    refresh.add_argument("--url", default=None, help="the feed's address (default: AWS's)")
    refresh.set_defaults(run=run_refresh_advisor)
    digest = commands.add_parser(
        "digest", help="print a team's digest without posting it, e.g. costbot digest --team nlp"
    )
    digest.add_argument("--team", required=True, help="the team, as in the teams file")
    digest.add_argument("--date", help="the day the digest is for, YYYY-MM-DD (default: today)")
    digest.add_argument("--json", action="store_true", help="print the Slack message as JSON")
    digest.add_argument("--workdir", type=Path, default=Path(".demo"), help="demo state")
    digest.set_defaults(run=run_digest)

    alerts = commands.add_parser("alerts", help="budget alerts")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    check = alert_commands.add_parser("check", help="evaluate every team's budget thresholds")
    check.add_argument(
        "--dry-run", action="store_true", help="show which alerts would fire; queue nothing"
    )
    check.add_argument("--json", action="store_true", help="print the decisions as JSON")
    check.add_argument("--workdir", type=Path, default=Path(".demo"), help="demo state")
    check.set_defaults(run=run_alerts_check)

    teams_check = commands.add_parser(
        "check", help="validate the teams file against the data: which rules overlap, where"
    )
    teams_check.add_argument("--days", type=int, default=30, help="cost history to read (30)")
    teams_check.add_argument("--workdir", type=Path, default=Path(".demo"), help="demo state")
    teams_check.set_defaults(run=run_check)

    outbox = commands.add_parser("outbox", help="what the scheduler posted, or failed to post")
    outbox.add_argument("--state", choices=["pending", "sending", "sent", "failed", "superseded"])
    outbox.add_argument("--limit", type=int, default=50)
    outbox.add_argument("--json", action="store_true", help="print the rows as JSON")
    outbox.add_argument("--workdir", type=Path, default=Path(".demo"), help="demo state")
    outbox.set_defaults(run=run_outbox)
    return parser


MAX_FEED_BYTES = 64 * 1024 * 1024


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


def run_serve(args: argparse.Namespace) -> int:
    from bot.lease import new_process_id
    from bot.logs import configure_logging
    from bot.scheduler import build_scheduler
    from bot.server import HttpServer, build_wsgi_app
    from handlers.rightsizing.notify import post_change_outcome
    from handlers.schedules.jobs import run_schedules

    settings = Settings.from_env()
    configure_logging(settings.log_level, secrets=_secrets(settings))
    # Hand the GIL over every 1 ms instead of 5: a thread about to ack does not wait behind
    # background work for long (Slack's clock is ticking, the background's is not).
    sys.setswitchinterval(0.001)

    from bot.app import build_costbot

    process_id = new_process_id()  # what this process carries out is recorded with it
    # What is local is checked first (database, teams file, cost source), then Slack.
    try:
        costbot = build_costbot(
            settings, store=_open_store(settings), verify_token=False, process_id=process_id
        )
        _check_slack(settings)
    except StartupError as error:
        logger.debug("start-up failed", exc_info=True)
        print(f"costbot cannot start: {error}", file=sys.stderr)
        return EXIT_CONFIG
    warn_overlapping_rules(costbot.deps.teams, costbot.deps.shared)
    scheduler = build_scheduler(
        costbot.store,
        now=costbot.deps.now,
        changes=costbot.deps.changes,
        notify=lambda outcome: post_change_outcome(
            costbot.app.client, outcome, cards=costbot.store, now=costbot.deps.now
        ),
        schedules=lambda: run_schedules(costbot.deps, costbot.app.client),
        deps=costbot.deps,
        tick=dt.timedelta(seconds=settings.scheduler_tick_seconds),
    )
    # Any number of processes answer Slack; the one holding the lease acts.
    lease = _acting_lease(costbot, scheduler, process_id=process_id).start()
    socket_mode = None
    if settings.socket_mode:
        from bot.socket_mode import SocketModeRunner

        socket_mode = SocketModeRunner(costbot.app, settings.slack_app_token)
    server = HttpServer(
        build_wsgi_app(
            costbot.app,
            signing_secret=settings.slack_signing_secret,
            health=costbot.store.ping,
            acting=lambda: lease.holding,
            socket=socket_mode.report if socket_mode is not None else None,
        ),
        host=settings.host,
        port=settings.port,
    )
    _stop_on_signals(server.stop if socket_mode is None else socket_mode.close, signal.SIGTERM)
    gc.freeze()  # start-up objects (libraries, the app) never need collecting: shorter GC pauses

    try:
        if socket_mode is not None:
            server.start()  # no Slack requests over HTTP, but /healthz for the orchestrator
            logger.info("costbot in Socket Mode; health on %s/healthz", server.url)
            socket_mode.start()  # until SIGTERM
        else:
            logger.info(
                "costbot listening on %s/slack/events (dry run: %s)", server.url, settings.dry_run
            )
            server.serve_forever()
    finally:
        if socket_mode is not None:
            socket_mode.close()
            server.stop()
        lease.stop(forget=not _executing(costbot, process_id))
        if scheduler.running:
            scheduler.shutdown(wait=False)
        costbot.outbox.stop()
    return EXIT_OK


def warn_overlapping_rules(teams: Any, shared: Any) -> None:
    """One warning per pair of teams-file rules that could match the same resource: the
    first listed owns it, so the other team's approvers never decide about it."""
    from engines.costs.ownership import possible_overlaps

    for overlap in possible_overlaps(teams, shared):
        first, second = overlap.rules
        logger.warning(
            "teams file: %s and %s both match %s; the first listed, %s, owns such resources "
            "and decides about them (run costbot check)",
            first,
            second,
            overlap.where[0],
            first,
        )


class StartupError(Exception):
    """What keeps ``costbot serve`` from starting, in one sentence for the operator."""


def _open_store(settings: Settings) -> Any:
    import sqlite3

    from bot.store import Store

    try:
        return Store(settings.db_path)
    except (OSError, sqlite3.Error) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise StartupError(
            f"COSTBOT_DB: cannot open the database {settings.db_path}: {reason}."
        ) from error


def _check_slack(settings: Settings) -> None:
    """One ``auth.test``, without retries: is Slack there, and does it take the token? In
    Socket Mode, one ``apps.connections.open`` too: does it take the app-level token?"""
    import urllib.error

    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    slack_url = settings.slack_api_url or WebClient.BASE_URL
    client = WebClient(token=settings.slack_bot_token, base_url=slack_url, timeout=15)
    sdk_logger = logging.getLogger("slack_sdk.web.base_client")
    level, sdk_logger.level = sdk_logger.level, logging.CRITICAL  # the sentence below says it
    try:
        client.auth_test()
        if settings.socket_mode:
            _check_app_token(client, settings.slack_app_token)
    except SlackApiError as error:
        raise StartupError(
            f"Slack refused SLACK_BOT_TOKEN ({_slack_error_code(error)}): use the Bot User "
            "OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page."
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
        raise StartupError(
            f"Slack is unreachable at {slack_url} ({reason}): check the network, a proxy, "
            "or SLACK_API_URL."
        ) from error
    finally:
        sdk_logger.setLevel(level)


def _check_app_token(client: Any, app_token: str) -> None:
    """Socket Mode: does Slack hand this token a WebSocket URL (which then goes unused)?"""
    from slack_sdk.errors import SlackApiError

    try:
        client.apps_connections_open(app_token=app_token)
    except SlackApiError as error:
        raise StartupError(
            f"Slack refused SLACK_APP_TOKEN ({_slack_error_code(error)}): use an app-level "
            "token (xapp-…) with the connections:write scope (Basic Information > App-Level "
            "Tokens), and turn Socket Mode on in the app's settings."
        ) from error


def _slack_error_code(error: Any) -> str:
    return str(error.response.get("error") or "refused")


def _acting_lease(costbot: Any, scheduler: Any, *, process_id: str) -> ActingLease:
    """The lease that makes this process act (``bot.lease``): while it holds it, it runs
    the scheduler, delivers the outbox and settles what dead processes left half-way."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from bot.lease import ActingLease

    settings = costbot.settings
    settling = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recovery")
    pending: list[Future[None]] = []

    def settle_the_dead() -> None:
        # Recovery polls EC2 for minutes at worst: never in the lease's own thread.
        if pending and not pending[-1].done():
            return
        pending[:] = [settling.submit(_settle_the_dead, costbot, lease.live_processes)]

    def acquire() -> None:
        costbot.outbox.start(live=lease.live_processes())
        if scheduler.running:
            scheduler.resume()
        else:
            scheduler.start()

    def lose() -> None:
        if scheduler.running:
            scheduler.pause()
        costbot.outbox.stop()

    lease = ActingLease(
        costbot.store,
        process_id=process_id,
        now=costbot.deps.now,
        lease_time=dt.timedelta(seconds=settings.lease_seconds),
        may_act=settings.scheduler_enabled,
        on_acquire=acquire,
        on_lose=lose,
        while_holding=settle_the_dead,
    )
    return lease


def _settle_the_dead(costbot: Any, live_processes: Callable[[], set[str]]) -> None:
    try:
        live = live_processes()
        costbot.outbox.recover(live=live)  # it logs what it queued again
        _recover_changes(costbot, live=live)
    except Exception:
        logger.exception("settling what a stopped process left failed; trying again soon")


def _recover_changes(costbot: Any, *, live: set[str]) -> None:
    """A change a dead process left half-way is finished or rolled back (not the changes
    of a process in ``live``: it is still carrying them out)."""
    if costbot.deps.changes is None:
        return
    from handlers.rightsizing.notify import post_change_outcome

    for outcome in costbot.deps.changes.recover(live=live):
        logger.warning("recovered a change left half-way: %s", outcome.text)
        post_change_outcome(costbot.app.client, outcome, cards=costbot.store, now=costbot.deps.now)


def _executing(costbot: Any, process_id: str) -> bool:
    """Whether this process is carrying out a change (at shutdown; when the database cannot
    say, assume so: the heartbeat then expires by itself)."""
    from engines.changes.models import IN_FLIGHT

    try:
        in_flight = costbot.store.list_changes(states=IN_FLIGHT)
    except Exception:
        logger.debug("could not list the changes in flight", exc_info=True)
        return True
    return any(change.executor == process_id for change in in_flight)


def run_demo(args: argparse.Namespace) -> int:
    from bot.demo.sandbox import DemoOptions, DemoSandbox
    from bot.logs import configure_logging

    env_secret = demo_signing_secret()
    configure_logging("INFO", secrets=[env_secret])
    sandbox = DemoSandbox(
        DemoOptions(
            workdir=args.workdir,
            port=args.port,
            signing_secret=env_secret,
            socket_mode=args.socket_mode,
        )
    )
    print("Starting the demo world (AWS sandbox, billing export, Slack stand-in)…", flush=True)
    with sandbox:
        url = sandbox.workspace_url
        print(f"\ncostbot demo workspace: {url}/")
        if sandbox.socket_runner is not None:
            print("The bot is connected over Socket Mode (no HTTP requests from Slack).")
        else:
            print(f"Slack signing secret (demo only): {sandbox.signing_secret}")
        print("Try: /cost team fraud-detection   ·   Ctrl-C stops everything.\n", flush=True)
        if not args.no_browser:
            webbrowser.open(url + "/")
        stop = threading.Event()
        _stop_on_signals(stop.set, signal.SIGINT, signal.SIGTERM)
        stop.wait()
        print("\nStopping…", flush=True)
    return EXIT_OK


def run_ask(args: argparse.Namespace) -> int:
    from bot.demo.sandbox import DemoOptions, DemoSandbox
    from bot.logs import configure_logging
    from handlers.blocks.text import render_text

    configure_logging("WARNING")
    settings = configured_settings()
    options = DemoOptions(
        workdir=args.workdir,
        settings=settings,
        use_demo_world=settings is None,
        run_scheduler=False,
    )
    command, _, text = args.command_text.strip().partition(" ")
    if not command.startswith("/"):
        print(
            f'costbot ask takes a slash command, e.g. costbot ask "/cost help" (got {command!r}).',
            file=sys.stderr,
        )
        return EXIT_CONFIG
    with DemoSandbox(options) as sandbox:
        assert sandbox.standin is not None
        result = sandbox.standin.send_command(
            user_id=args.user, channel_id=args.channel, text=text.strip(), command=command
        )
        sandbox.wait_for_listeners()
        replies = [_payload(m) for m in sandbox.standin.messages(args.channel) if _from_bot(m)]
    if result.status != 200:
        print(f"costbot answered HTTP {result.status}: {result.body}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(replies, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(_shown(render_text(reply), reply) for reply in replies))
    return EXIT_FAILED if any(_is_failure(reply) for reply in replies) or not replies else EXIT_OK


def _shown(text: str, reply: dict) -> str:
    """The rendered reply as the workspace shows it: people by name (``@alice``, not their
    id), and a line per file (a chart travels in its answer's message)."""
    from bot.demo.people import USERS

    names = {user.id: user.name for user in USERS}
    text = re.sub(r"@(U[A-Z0-9]+)\b", lambda m: "@" + names.get(m[1], m[1]), text)
    return "\n".join([text, *(f"(chart: {name})" for name in reply.get("files", []))])


def run_cost(args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from engines.errors import CostSourceError, UserInputError
    from handlers.blocks.text import render_text
    from handlers.cost.blocks import build_error_message, build_help_message
    from handlers.parsing import HelpRequest, parse_cost_command

    configure_logging("WARNING")
    try:
        request = parse_cost_command(" ".join(args.words))
        with _question_context(args) as deps:
            if isinstance(request, HelpRequest):
                print(render_text(build_help_message(deps.teams.keys())))
                return EXIT_OK
            from handlers.questions import plan_answer

            work = plan_answer(request, deps=deps)
            result = work.result()
            reply = work.render(result)
    except (UserInputError, CostSourceError) as error:
        if isinstance(error, UserInputError):
            print(render_text(build_error_message(error)), file=sys.stderr)
        else:
            print(f"costbot: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.chart and reply.chart:
        try:
            args.chart.write_bytes(reply.chart)
        except OSError as error:
            reason = error.strerror or str(error)
            print(f"costbot: cannot write the chart to {args.chart}: {reason}", file=sys.stderr)
            return EXIT_FAILED
    elif args.chart:
        print("costbot: only `trend` draws a chart; --chart is ignored.", file=sys.stderr)
    print(json.dumps(result.as_json(), indent=2) if args.json else render_text(reply.message))
    return EXIT_OK


def run_digest(args: argparse.Namespace) -> int:
    import datetime as dt

    from bot.logs import configure_logging
    from engines.config.teams import find_team
    from engines.errors import CostSourceError, UserInputError
    from handlers.blocks.text import render_text
    from handlers.cost.blocks import build_error_message
    from handlers.digests.blocks import build_digest_message
    from handlers.digests.jobs import team_digest

    configure_logging("WARNING")
    try:
        day = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"costbot: --date {args.date!r} is not a date like 2026-11-20.", file=sys.stderr)
        return EXIT_CONFIG
    try:
        with _question_context(args) as deps:
            team = find_team(deps.teams, args.team)
            if day is None:
                digest = team_digest(deps, team, deps.now())
            else:  # as the digest of that date: its figures run through the day before
                noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
                digest = team_digest(deps, team, noon, posted_on=day)
    except UserInputError as error:
        print(render_text(build_error_message(error)), file=sys.stderr)
        return EXIT_FAILED
    except CostSourceError as error:
        print(f"costbot: {error}", file=sys.stderr)
        return EXIT_FAILED
    message = build_digest_message(digest)
    if args.json:
        print(json.dumps({"channel": team.channel, "key": digest.key, "digest": digest.as_json(),
                          "message": message}, indent=2, ensure_ascii=False))  # fmt: skip
    else:
        print(render_text(message))
    return EXIT_OK


def run_alerts_check(args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from engines.digests.budgets import percent_text
    from handlers.digests.jobs import check_budget_alerts

    configure_logging("WARNING")
    with _question_context(args) as deps:
        decisions = check_budget_alerts(deps, now=deps.now(), dry_run=args.dry_run)
    if args.json:
        rows = [{**d.alert.as_json(), "status": d.status} for d in decisions]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not decisions:
        print("No team has crossed an alert threshold.")
    for decision in decisions:
        alert = decision.alert
        print(f"{decision.status:<13} {alert.team:<24} {alert.kind.value:<13} "
              f"{percent_text(alert.threshold):>4}%  {alert.period}  "
              f"{alert.amount:,.2f} {alert.currency} (of {alert.reference:,.2f})")  # fmt: skip
    return EXIT_OK


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
    with _question_context(args) as deps:
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


@contextlib.contextmanager
def _question_context(args: argparse.Namespace) -> Iterator[Deps]:
    """Deps for one question: the configured source, or the demo world's export."""
    from bot.app import build_deps
    from bot.store import Store

    settings = configured_settings()
    if settings is not None:
        yield build_deps(settings, store=Store(settings.db_path))
        return
    from bot.app import utc_now
    from bot.aws import AwsClients
    from bot.demo.sandbox import DEMO_TEAMS_FILE, sandbox_session
    from bot.demo.world import start_demo_world

    world = start_demo_world(workdir=args.workdir / "aws", now=utc_now())
    try:
        settings = Settings(
            teams_file=DEMO_TEAMS_FILE,
            cost_source=f"focus:{world.focus_glob}",
            db_path=args.workdir / "costbot.db",
            aws_endpoint_url=world.endpoint_url,  # AWS questions (schedules) ask the demo world
            aws_region=world.region,
        )
        aws = AwsClients(settings, session=sandbox_session(world.region))
        yield build_deps(settings, store=Store(settings.db_path), aws=aws)
    finally:
        world.stop()


def _from_bot(message: dict) -> bool:

    return bool(message.get("bot_id"))


def _payload(message: dict) -> dict:
    response_type = "ephemeral" if message.get("ephemeral_for") else "in_channel"
    payload = {
        "response_type": response_type,
        "text": message.get("text", ""),
        "blocks": message.get("blocks") or [],
    }
    if message.get("files"):
        payload["files"] = [f.get("name", "") for f in message["files"]]
    return payload


def _is_failure(reply: dict) -> bool:
    from handlers.cost.blocks import FAILURE_MARKERS

    return reply["text"].startswith(FAILURE_MARKERS)


def _secrets(settings: Settings) -> list[str]:
    return [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token]


def _stop_on_signals(stop: Callable[[], object], *signals: signal.Signals) -> None:
    # Explicit handlers: a process started in the background inherits an ignored SIGINT.
    if threading.current_thread() is threading.main_thread():
        for signum in signals:
            signal.signal(signum, lambda *_: stop())


if __name__ == "__main__":
    sys.exit(main())
