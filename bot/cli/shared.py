"""What the commands share: their exit codes, the deps a question runs with (the configured
source, or the demo world's), and stopping on a signal.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bot.settings import Settings, configured_settings

if TYPE_CHECKING:
    from handlers.deps import Deps

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


@contextlib.contextmanager
def question_context(args: argparse.Namespace) -> Iterator[Deps]:
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


def stop_on_signals(stop: Callable[[], object], *signals: signal.Signals) -> None:
    # Explicit handlers: a process started in the background inherits an ignored SIGINT.
    if threading.current_thread() is threading.main_thread():
        for signum in signals:
            signal.signal(signum, lambda *_: stop())
