"""The demo sandbox: AWS in-process, the Slack stand-in, and the real costbot between them.

``costbot demo`` keeps it running for a person in the browser; ``costbot ask`` starts it for
one question. The bot inside is built by the same factory ``costbot serve`` uses.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import boto3
from apscheduler.schedulers.background import BackgroundScheduler

from bot.app import Costbot, build_costbot, utc_now
from bot.aws import AwsClients
from bot.demo.slack_standin import SlackStandIn
from bot.demo.world import DemoWorld, start_demo_world
from bot.scheduler import build_scheduler
from bot.server import EVENTS_PATH, HttpServer, build_wsgi_app
from bot.settings import Settings
from bot.socket_mode import Backoff, SocketModeRunner
from handlers.rightsizing.notify import post_change_outcome
from handlers.schedules.jobs import run_schedules

logger = logging.getLogger(__name__)

DEMO_TEAMS_FILE = Path(__file__).with_name("teams.toml")
DEMO_BOT_TOKEN = "xoxb-0000000000-demo-costbot-token"
DEMO_APP_TOKEN = "xapp-1-A0DEMOCOST-0000000000-demo-costbot-app-token"
SANDBOX_NOTICE = (
    "Sandbox: this workspace is a local stand-in for Slack, and its AWS is moto, an "
    "in-process fake. Approving a change really stops, resizes and starts the sandbox's "
    "instances (Revert puts them back); no real account is touched."
)


@dataclass
class DemoOptions:
    """How to run the sandbox.

    Args:
        workdir: where the database and the generated billing export go.
        port: the workspace's port (0 picks one).
        signing_secret: the secret shared by the stand-in and the bot (random when empty).
        settings: a configuration to honour (teams file, cost source); the demo's when None.
        use_demo_world: start the AWS sandbox and use its billing export.
        run_scheduler: start the scheduler (the demo does; a one-off ``ask`` does not).
        dry_run: rehearse approved changes only. Off by default: the demo's AWS is moto, so
            approving really stops, resizes and starts its instances, and Revert can be
            tried. Only the sandbox's AWS is affected (a configured ``settings`` with
            ``use_demo_world=False`` keeps its own ``dry_run``).
        socket_mode: connect the bot to the stand-in over Socket Mode instead of HTTP.
        socket_backoff: the bot's delays between failed Socket Mode connection attempts.
    """

    workdir: Path
    port: int = 0
    signing_secret: str = ""
    settings: Settings | None = None
    use_demo_world: bool = True
    run_scheduler: bool = True
    dry_run: bool = False  # the demo's AWS is a sandbox: changes there are real, and harmless
    socket_mode: bool = False
    socket_backoff: Backoff = field(default_factory=Backoff)


class DemoSandbox:
    """Starts and stops everything the demo needs, in the right order."""

    def __init__(self, options: DemoOptions, *, now: Callable[[], dt.datetime] = utc_now) -> None:
        self.options = options
        self.now = now
        self.signing_secret = options.signing_secret or secrets.token_hex(16)
        self.world: DemoWorld | None = None
        self.standin: SlackStandIn | None = None
        self.bot_server: HttpServer | None = None
        self.socket_runner: SocketModeRunner | None = None
        self.costbot: Costbot | None = None
        self.listener_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="listener")
        self.background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="click")
        self.questions = ThreadPoolExecutor(max_workers=4, thread_name_prefix="question")
        self.executions = ThreadPoolExecutor(max_workers=4, thread_name_prefix="change")
        self._scheduler: BackgroundScheduler | None = None

    @property
    def workspace_url(self) -> str:
        assert self.standin is not None
        return self.standin.base_url

    def start(self) -> DemoSandbox:
        workdir = self.options.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        settings = self.options.settings or Settings()
        aws = None
        if self.options.use_demo_world:
            self.world = start_demo_world(workdir=workdir / "aws", now=self.now())
            settings = self._demo_settings(settings, self.world)
            aws = AwsClients(settings, session=sandbox_session(self.world.region))
        self.standin = SlackStandIn(
            signing_secret=self.signing_secret,
            bot_token=DEMO_BOT_TOKEN,
            notice=self._notice(),
        )
        if self.options.socket_mode:
            self.standin.enable_socket_mode(DEMO_APP_TOKEN)
        self.standin.start(port=self.options.port)
        settings = replace(
            settings,
            slack_bot_token=DEMO_BOT_TOKEN,
            slack_signing_secret=self.signing_secret,
            slack_app_token=DEMO_APP_TOKEN if self.options.socket_mode else "",
            slack_api_url=self.standin.api_url,
        )
        self.costbot = build_costbot(
            settings,
            aws=aws,
            now=self.now,
            listener_executor=self.listener_executor,
            background=self.background,
            questions=self.questions,
            executions=self.executions,
        )
        if self.options.socket_mode:
            self.socket_runner = SocketModeRunner(
                self.costbot.app, DEMO_APP_TOKEN, backoff=self.options.socket_backoff
            )
            self.socket_runner.connect()
            if not self.socket_runner.wait_connected(timeout=30):
                raise RuntimeError("the bot did not connect to the stand-in over Socket Mode")
        wsgi_app = build_wsgi_app(
            self.costbot.app,
            signing_secret=self.signing_secret,
            health=self.costbot.store.ping,
            socket=self.socket_runner.report if self.socket_runner else None,
        )
        self.bot_server = HttpServer(wsgi_app).start()
        if not self.options.socket_mode:
            self.standin.connect_bot(self.bot_server.url + EVENTS_PATH)
        if self.options.run_scheduler:
            costbot = self.costbot
            self._scheduler = build_scheduler(
                costbot.store,
                now=self.now,
                changes=costbot.deps.changes,
                notify=lambda outcome: post_change_outcome(
                    costbot.app.client, outcome, cards=costbot.store, now=costbot.deps.now
                ),
                schedules=lambda: run_schedules(costbot.deps, costbot.app.client),
                deps=costbot.deps,
            )
            self._scheduler.start()
            self.costbot.outbox.start()
        return self

    def _notice(self) -> str:
        if not self.options.use_demo_world:
            return ""
        if self.options.dry_run:
            return SANDBOX_NOTICE.split(" Approving")[0] + " Approvals are rehearsed only."
        return SANDBOX_NOTICE

    def _demo_settings(self, settings: Settings, world: DemoWorld) -> Settings:
        configured = self.options.settings is not None
        return replace(
            settings,
            db_path=settings.db_path if configured else self.options.workdir / "costbot.db",
            teams_file=settings.teams_file if configured else DEMO_TEAMS_FILE,
            cost_source=f"focus:{world.focus_glob}",
            aws_endpoint_url=world.endpoint_url,
            aws_region=world.region,
            dry_run=self.options.dry_run,
        )

    def wait_for_listeners(self) -> None:
        """Blocks until every listener started so far has finished (for one-off questions)."""
        self.listener_executor.shutdown(wait=True)
        self.questions.shutdown(wait=True)
        self.background.shutdown(wait=True)
        self.executions.shutdown(wait=True)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            if self.costbot is not None:
                self.costbot.outbox.stop()
        if self.bot_server is not None:
            self.bot_server.stop()
        if self.socket_runner is not None:
            self.socket_runner.close()
        # Work already running finishes while Slack and AWS are still there; the rest is
        # dropped (nothing is half-done: a change in flight is settled at the next start).
        self.listener_executor.shutdown(wait=True, cancel_futures=True)
        self.questions.shutdown(wait=True, cancel_futures=True)
        self.background.shutdown(wait=True, cancel_futures=True)
        self.executions.shutdown(wait=True, cancel_futures=True)
        if self.standin is not None:
            self.standin.stop()
        if self.world is not None:
            self.world.stop()
        if self.costbot is not None:
            self.costbot.store.close()

    def __enter__(self) -> DemoSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sandbox_session(region: str) -> boto3.Session:
    # The sandbox is moto: any key works, and none of the person's own credentials are used.
    return boto3.Session(aws_access_key_id="demo", aws_secret_access_key="demo", region_name=region)
