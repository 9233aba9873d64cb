"""The questions answered without Slack: ``costbot cost``, ``costbot digest`` and
``costbot alerts check``.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli.shared import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, question_context


def run_cost(args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from engines.errors import CostSourceError, UserInputError
    from handlers.blocks.text import render_text
    from handlers.cost.blocks import build_error_message, build_help_message
    from handlers.parsing import HelpRequest, parse_cost_command

    configure_logging("WARNING")
    try:
        request = parse_cost_command(" ".join(args.words))
        with question_context(args) as deps:
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
        with question_context(args) as deps:
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
    with question_context(args) as deps:
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
