"""The ``costbot`` command line: its subcommands and their options, and ``main``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.admin import run_check, run_outbox, run_refresh_advisor
from bot.cli.demo import run_ask, run_demo
from bot.cli.questions import run_alerts_check, run_cost, run_digest
from bot.cli.serve import run_serve
from bot.cli.shared import EXIT_CONFIG
from bot.settings import SettingsError
from engines.errors import ConfigError

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
