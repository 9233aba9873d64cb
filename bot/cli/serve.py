"""``costbot serve``: the bot for real, over HTTP or Socket Mode, checked before it starts;
the process that holds the acting lease also runs the scheduler and settles what stopped
processes left half-way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.cli.shared import EXIT_CONFIG, EXIT_OK, stop_on_signals
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.lease import ActingLease

logger = logging.getLogger("costbot")


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
    stop_on_signals(server.stop if socket_mode is None else socket_mode.close, signal.SIGTERM)
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


def _secrets(settings: Settings) -> list[str]:
    return [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token]
