"""The app factory: settings in, a wired costbot out. The only place things are assembled."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.aws import AwsClients
from bot.outbox import Outbox, SlackPoster
from bot.settings import Settings
from bot.store import Store, StoreResponseCache
from bot.teams_file import TeamsFileWatch
from engines.changes.runner import ChangeRunner
from engines.config.schema import AccountIds
from engines.config.teams import CostConfig, load_config
from engines.costs.allocation import allocation_dimensions
from engines.costs.query import DimensionKind
from engines.costs.sources.athena import AthenaSource
from engines.costs.sources.cost_explorer import CostExplorerSource
from engines.costs.sources.cur import CurFileSource
from engines.costs.sources.focus import FocusFileSource
from engines.costs.sources.protocol import Source
from engines.costs.sources.rollup import RollupInUseError, RollupSource
from engines.errors import ConfigError, CostSourceError
from engines.rightsizing.fleet_review import FleetReviewer
from engines.rightsizing.pricing import PriceBook
from engines.sagemaker.prices import NOTEBOOK, SageMakerPriceBook
from engines.sagemaker.reviewer import SageMakerReviewer
from engines.schedules.aws import AwsScheduleTarget
from engines.schedules.enforcement import OffHours
from engines.spot.advisor_feed import FeedFile
from engines.spot.review import SpotAdvisor
from handlers.deps import Deps
from handlers.register import register_all

logger = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Costbot:
    """A wired costbot: the Bolt app and what it runs on.

    ``outbox`` is ``deps.outbox`` as its own class: the process starts and stops its
    delivery thread, which the listeners (seeing only ``handlers.deps.Outbox``) never do.
    """

    settings: Settings
    app: App
    deps: Deps
    store: Store
    outbox: Outbox


def load_teams_file(path: Path, *, account_ids: AccountIds = AccountIds.AWS) -> CostConfig:
    """Reads the teams file named by ``COSTBOT_TEAMS``; ``ConfigError`` says what is wrong.

    ``account_ids``: which ids team ``accounts`` may hold (``account_ids_of(settings)``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"COSTBOT_TEAMS: the teams file {path} does not exist. "
            "Copy bot/demo/teams.toml as a start."
        ) from None
    except OSError as error:
        raise ConfigError(f"COSTBOT_TEAMS: cannot read {path}: {error.strerror}.") from None
    return load_config(text, filename=str(path), account_ids=account_ids)


def rule_tag_keys(config: CostConfig) -> tuple[str, ...]:
    """The tag keys the teams file's rules (teams and shared costs) match on."""
    dimensions = allocation_dimensions(config.teams, config.shared)
    return tuple(d.tag_key for d in dimensions if d.kind is DimensionKind.TAG)


def account_ids_of(settings: Settings) -> AccountIds:
    """A FOCUS source (files, or Athena over a FOCUS table) may mix providers, so its
    teams may name any provider's accounts; Cost Explorer and CUR know AWS accounts only."""
    kind = settings.cost_source.partition(":")[0]
    focus = kind == "focus" or (kind == "athena" and settings.athena_schema == "focus")
    return AccountIds.ANY if focus else AccountIds.AWS


def build_cost_source(
    settings: Settings,
    aws: AwsClients,
    store: Store,
    *,
    now: Callable[[], dt.datetime],
    tag_keys: Iterable[str] = (),
) -> Source:
    """The source ``COSTBOT_COST_SOURCE`` names: Cost Explorer (cached in the database),
    FOCUS or CUR 2.0 files scanned with DuckDB (through their daily rollup, holding
    ``tag_keys``, when ``COSTBOT_ROLLUP_DB`` is not off), or the same tables in Athena."""
    kind, _, where = settings.cost_source.partition(":")
    if kind in {"focus", "cur"}:
        source = FocusFileSource(where) if kind == "focus" else CurFileSource(where)
        try:
            source.matching_files()
        except CostSourceError as error:
            raise ConfigError(f"COSTBOT_COST_SOURCE: {error}") from None
        if settings.rollup_db is None:
            return source
        try:
            return RollupSource(source, path=settings.rollup_db, tag_keys=tag_keys)
        except RollupInUseError as error:  # another costbot on this database keeps it
            logger.warning("%s: this process scans the export files instead", error)
            return source
        except CostSourceError as error:
            raise ConfigError(
                f"COSTBOT_ROLLUP_DB: {error} (COSTBOT_ROLLUP_DB=off scans the files instead)."
            ) from None
    if kind == "athena":
        return AthenaSource(
            aws.client("athena"),
            table=where,
            schema=settings.athena_schema,
            workgroup=settings.athena_workgroup,
            output_location=settings.athena_output or None,
            scan_limit_bytes=int(settings.athena_scan_limit_gb * 1024**3),
        )
    return CostExplorerSource(
        aws.cost_explorer(),
        cache=StoreResponseCache(store),
        freshness=dt.timedelta(hours=settings.ce_cache_hours),
        now=now,
    )


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


def build_outbox(
    settings: Settings, store: Store, *, now: Callable[[], dt.datetime], process_id: str = ""
) -> Outbox:
    """The outbox, posting with a client that does not retry by itself: the outbox waits
    out a 429's Retry-After without holding a thread."""
    client = WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url or WebClient.BASE_URL,
        retry_handlers=[],
    )
    return Outbox(store, SlackPoster(client), clock=now, process_id=process_id)


def build_deps(
    settings: Settings,
    *,
    store: Store,
    config: CostConfig | None = None,
    cost_source: Source | None = None,
    aws: AwsClients | None = None,
    now: Callable[[], dt.datetime] = utc_now,
    background: Executor | None = None,
    questions: Executor | None = None,
    executions: Executor | None = None,
    outbox: Outbox | None = None,
    process_id: str = "",
) -> Deps:
    """Everything the listeners (and the CLI's questions) use, built from settings.

    Clicks (``background``) and questions (``questions``) get a pool each, so a click never
    waits behind slow questions.
    """
    follow_file = config is None  # the teams file is the settings' (not one handed in)
    if config is None:
        config = load_teams_file(settings.teams_file, account_ids=account_ids_of(settings))
    aws = aws or AwsClients(settings, accounts=config.accounts)
    cost_source = cost_source or build_cost_source(
        settings, aws, store, now=now, tag_keys=rule_tag_keys(config)
    )
    changes = ChangeRunner(
        lambda account_id, region: aws.client_for("ec2", account_id=account_id, region=region),
        store,
        audit=store.record_audit,
        dry_run=settings.dry_run,
        now=now,
        process_id=process_id,
        sagemaker_client_for=lambda account_id, region: aws.client_for(
            "sagemaker", account_id=account_id, region=region
        ),
    )
    prices = PriceBook(
        # A local AWS stand-in (the demo's moto) has no Price List API: use the snapshot.
        pricing_client=None if aws.endpoint_url else aws.client("pricing", region="us-east-1"),
        cache=StoreResponseCache(store),
        now=now,
    )
    reviewer = FleetReviewer(
        ec2_for=lambda account, region: aws.client_for("ec2", account_id=account, region=region),
        cloudwatch_for=lambda account, region: aws.client_for(
            "cloudwatch", account_id=account, region=region
        ),
        prices=prices,
        targets=aws.targets(),
        now=now,
    )
    sagemaker = build_sagemaker_reviewer(aws, store, now=now)
    spot = SpotAdvisor(
        ec2_for=lambda account, region: aws.client_for("ec2", account_id=account, region=region),
        prices=prices,
        load_feed=FeedFile(settings.spot_advisor_path),
        targets=aws.targets(),
        now=now,
        default_region=aws.region,
        cache=StoreResponseCache(store),
    )
    return Deps(
        teams=config.teams,
        shared=config.shared,
        cost_source=cost_source,
        now=now,
        audit=store,
        ledger=store,
        dry_run=settings.dry_run,
        background=background or ThreadPoolExecutor(max_workers=2, thread_name_prefix="click"),
        executions=executions or ThreadPoolExecutor(max_workers=8, thread_name_prefix="change"),
        questions=questions or ThreadPoolExecutor(max_workers=2, thread_name_prefix="question"),
        question_seconds=settings.question_seconds,
        changes=changes,
        rightsizing=reviewer,
        sagemaker=sagemaker,
        spot=spot,
        offhours=build_offhours(settings, config, aws, store, prices, sagemaker.prices),
        outbox=outbox or build_outbox(settings, store, now=now),
        snoozes=store,
        cards=store,
        teams_file=follow_teams_file(settings, config, cost_source) if follow_file else None,
        cloudwatch_for=lambda account, region: aws.client_for(
            "cloudwatch", account_id=account, region=region
        ),
    )


def build_sagemaker_reviewer(
    aws: AwsClients, store: Store, *, now: Callable[[], dt.datetime]
) -> SageMakerReviewer:
    """SageMaker's review over every account and region costbot reaches, priced from the
    Price List API (cached in the database), or the snapshot against a local AWS stand-in."""

    def client(service: str) -> Callable[[str, str], Any]:
        return lambda account, region: aws.client_for(service, account_id=account, region=region)

    prices = SageMakerPriceBook(
        pricing_client=None if aws.endpoint_url else aws.client("pricing", region="us-east-1"),
        cache=StoreResponseCache(store),
        now=now,
    )
    return SageMakerReviewer(
        sagemaker_for=client("sagemaker"),
        autoscaling_for=client("application-autoscaling"),
        cloudwatch_for=client("cloudwatch"),
        prices=prices,
        targets=aws.targets(),
        now=now,
    )


def follow_teams_file(settings: Settings, config: CostConfig, cost_source: Any) -> TeamsFileWatch:
    """The teams file, read again when it changes; the export files' rollup then holds the
    tag keys of its new rules (rebuilt in the background when they are new)."""
    account_ids = account_ids_of(settings)

    def changed(new: CostConfig) -> None:
        set_tag_keys = getattr(cost_source, "set_tag_keys", None)
        if set_tag_keys is not None:
            set_tag_keys(rule_tag_keys(new))
        # Off-hours schedules and the accounts assumed are built once, at start-up.
        if new.schedules != config.schedules or new.accounts != config.accounts:
            logger.warning(
                "the teams file's [[schedules]] or [accounts] changed: they take effect "
                "when costbot restarts (teams and shared costs already did)"
            )

    return TeamsFileWatch(
        settings.teams_file,
        load=lambda path: load_teams_file(path, account_ids=account_ids),
        config=config,
        on_change=changed,
    )


def build_offhours(
    settings: Settings,
    config: CostConfig,
    aws: AwsClients,
    store: Store,
    prices: PriceBook,
    notebook_prices: SageMakerPriceBook,
) -> OffHours:
    """Off-hours schedules over every account and region costbot reaches: each target's
    clients (EC2, RDS, Auto Scaling, SageMaker) come from ``aws.client_for``, assumed into
    the target's account. Notebook instances are priced as SageMaker ``Notebook``
    instances, from SageMaker's price book (the one its review uses)."""

    def target(account_id: str, region: str) -> AwsScheduleTarget:
        return AwsScheduleTarget(
            client_for=lambda service: aws.client_for(
                service, account_id=account_id, region=region
            ),
            region=region,
            account_id=account_id,
        )

    return OffHours(
        targets=[target(account_id, region) for account_id, region in aws.targets()],
        store=store,
        teams=config.teams,
        file_schedules=config.schedules,
        audit=store.record_audit,
        dry_run=settings.dry_run,
        ec2_hourly=lambda instance_type, region: prices.hourly(instance_type, region=region),
        notebook_hourly=lambda instance_type, region: notebook_prices.hourly(
            instance_type, region=region, component=NOTEBOOK
        ),
    )


def build_costbot(
    settings: Settings,
    *,
    config: CostConfig | None = None,
    cost_source: Source | None = None,
    store: Store | None = None,
    now: Callable[[], dt.datetime] = utc_now,
    aws: AwsClients | None = None,
    process_before_response: bool = True,
    verify_token: bool = True,
    listener_executor: Executor | None = None,
    background: Executor | None = None,
    questions: Executor | None = None,
    executions: Executor | None = None,
    process_id: str = "",
) -> Costbot:
    """Builds the Bolt app with every listener registered.

    Args:
        settings: validated settings.
        config, cost_source, store: replacements for tests and the demo; built from
            ``settings`` when omitted.
        now: the clock.
        aws: AWS clients (the demo passes its sandbox's); built from ``settings`` when omitted.
        process_before_response: run listeners to the end before answering Slack. Our
            listeners ack and hand slow work to ``Deps.run_later``, so this answers as soon
            as the ack is ready instead of after Bolt's 10 ms ack polling.
        verify_token: call ``auth.test`` at start-up to check the bot token.
        listener_executor: where Bolt runs listeners (they ack, then hand slow work on).
        background: where clicks do their work after the ack (``costbot ask`` waits on it).
        questions: where ``/cost`` questions run, under ``settings.question_seconds``.
        executions: where Approve and Revert carry their changes out (``costbot ask``
            waits on it too).
        process_id: this process (``bot.lease.new_process_id``), recorded on the changes it
            carries out and the messages it sends.
    """
    store = store or Store(settings.db_path)
    outbox = build_outbox(settings, store, now=now, process_id=process_id)
    deps = build_deps(
        settings,
        store=store,
        config=config,
        cost_source=cost_source,
        aws=aws,
        now=now,
        background=background,
        questions=questions,
        executions=executions,
        outbox=outbox,
        process_id=process_id,
    )
    app = App(
        name="costbot",
        client=build_slack_client(settings),
        signing_secret=settings.slack_signing_secret,
        token_verification_enabled=verify_token,
        process_before_response=process_before_response,
        request_verification_enabled=not settings.socket_mode,
        listener_executor=listener_executor,
    )
    register_all(app, deps)
    start_refresh = getattr(deps.cost_source, "start_refresh", None)
    if start_refresh is not None:  # export files' rollup: built while the bot starts
        start_refresh()

    @app.error
    def log_unhandled_error(error: Exception) -> None:
        logger.exception("unhandled error in a listener", exc_info=error)

    return Costbot(settings=settings, app=app, deps=deps, store=store, outbox=outbox)
