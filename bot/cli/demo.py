"""``costbot demo`` (the workspace in a browser) and ``costbot ask`` (one slash command
against it, the reply printed).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import webbrowser

from bot.cli.shared import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, stop_on_signals
from bot.settings import configured_settings, demo_signing_secret


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
        stop_on_signals(stop.set, signal.SIGINT, signal.SIGTERM)
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
