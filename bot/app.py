"""The app factory: settings in, a wired costbot out. The only place things are assembled."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.aws import AwsClients
from bot.settings import Settings
from bot.store import Store
from engines.errors import ConfigError, CostSourceError
from engines.models import Team
from engines.sources.base import CostSource
from engines.sources.cost_explorer import CostExplorerSource
from engines.sources.focus import FocusFileSource
from engines.teams import load_teams
from handlers.deps import Deps
from handlers.register import register_all

logger = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Costbot:
    """A wired costbot: the Bolt app and what it runs on."""

    settings: Settings
    app: App
    deps: Deps
    store: Store


def load_teams_file(path: Path) -> dict[str, Team]:
    """Reads the teams file named by ``COSTBOT_TEAMS``; ``ConfigError`` says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"COSTBOT_TEAMS: the teams file {path} does not exist. "
            "Copy bot/demo/teams.toml as a start."
        ) from None
    except OSError as error:
        raise ConfigError(f"COSTBOT_TEAMS: cannot read {path}: {error.strerror}.") from None
    return load_teams(text, filename=str(path))


def build_cost_source(settings: Settings, aws: AwsClients) -> CostSource:
    """``ce`` → Cost Explorer; ``focus:<glob>`` → FOCUS files scanned with DuckDB."""
    if settings.cost_source.startswith("focus:"):
        source = FocusFileSource(settings.cost_source.removeprefix("focus:"))
        try:
            source.matching_files()
        except CostSourceError as error:
            raise ConfigError(f"COSTBOT_COST_SOURCE: {error}") from None
        return source
    return CostExplorerSource(aws.cost_explorer())


def build_slack_client(settings: Settings) -> WebClient:
    client = WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url or WebClient.BASE_URL,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )
    return client


def build_costbot(
    settings: Settings,
    *,
    teams: dict[str, Team] | None = None,
    cost_source: CostSource | None = None,
    store: Store | None = None,
    now: Callable[[], dt.datetime] = utc_now,
    aws: AwsClients | None = None,
    process_before_response: bool = True,
    verify_token: bool = True,
    listener_executor: Executor | None = None,
    background: Executor | None = None,
) -> Costbot:
    """Builds the Bolt app with every listener registered.

    Args:
        settings: validated settings.
        teams, cost_source, store: replacements for tests and the demo; built from
            ``settings`` when omitted.
        now: the clock.
        aws: AWS clients (the demo passes its sandbox's); built from ``settings`` when omitted.
        process_before_response: run listeners to the end before answering Slack. Our
            listeners ack and hand slow work to ``Deps.run_later``, so this answers as soon
            as the ack is ready instead of after Bolt's 10 ms ack polling.
        verify_token: call ``auth.test`` at start-up to check the bot token.
        listener_executor: where Bolt runs listeners (they ack, then hand slow work on).
        background: where slow work runs after the ack (``costbot ask`` waits on both).
    """
    store = store or Store(settings.db_path)
    teams = teams if teams is not None else load_teams_file(settings.teams_file)
    aws = aws or AwsClients(settings)
    cost_source = cost_source or build_cost_source(settings, aws)
    app = App(
        name="costbot",
        client=build_slack_client(settings),
        signing_secret=settings.slack_signing_secret,
        token_verification_enabled=verify_token,
        process_before_response=process_before_response,
        request_verification_enabled=not settings.socket_mode,
        listener_executor=listener_executor,
    )
    deps = Deps(
        teams=teams,
        cost_source=cost_source,
        now=now,
        audit=store,
        ledger=store,
        dry_run=settings.dry_run,
        background=background or ThreadPoolExecutor(max_workers=4, thread_name_prefix="work"),
    )
    register_all(app, deps)

    @app.error
    def log_unhandled_error(error: Exception) -> None:
        logger.exception("unhandled error in a listener", exc_info=error)

    return Costbot(settings=settings, app=app, deps=deps, store=store)
