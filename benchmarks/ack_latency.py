"""Ack latency of `costbot serve` under concurrent signed slash commands.

Starts `costbot serve` as its own process on the demo world's billing export, with the Slack
Web API and response_urls pointing at the local stand-in, then sends N signed
`/cost team <name>` commands over HTTP, C at a time, and prints p50/p95/p99 of the time
until the HTTP answer (Slack's ack). Target: p99 < 100 ms (Slack's limit is 3,000 ms).

    .venv/bin/python benchmarks/ack_latency.py [--requests 1000] [--concurrency 20] [--url URL]

With --url it measures an already running bot instead (its signing secret in
SLACK_SIGNING_SECRET); then the answers go wherever that bot's settings say.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summary import figures_line, print_table  # noqa: E402

from bot.demo.people import CHANNELS, USERS  # noqa: E402
from bot.demo.world import start_demo_world  # noqa: E402

TARGET_P99_MS = 100.0
TEAMS = ("fraud-detection", "recommendations", "nlp")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--url", help="events URL of a running costbot (default: start one)")
    parser.add_argument("--text", default="", help="the /cost text (default: team <name>)")
    args = parser.parse_args()

    secret = os.environ.get("SLACK_SIGNING_SECRET", "benchmark-signing-secret")
    processes: list[subprocess.Popen] = []
    world = None
    with tempfile.TemporaryDirectory() as workdir:
        try:
            # The stand-in (which receives the answers) runs in its own process, so that
            # this process only sends requests and times them.
            standin_process, slack_url, response_urls = start_standin(secret, args.requests)
            processes.append(standin_process)
            if args.url:
                events_url = args.url
            else:
                world = start_demo_world(workdir=Path(workdir) / "aws", now=dt.datetime.now(dt.UTC))
                bot, events_url = start_costbot_serve(workdir, world.focus_glob, slack_url, secret)
                processes.append(bot)
            started = time.monotonic()
            latencies, errors = send_commands(
                events_url, response_urls, secret, args.concurrency, args.text
            )
            acked_s = time.monotonic() - started
            answered, answered_s = wait_for_answers(slack_url, args.requests, started)
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=10)
            if world is not None:
                world.stop()
    return report(latencies, errors, args, delivery=(acked_s, answered, answered_s))


def wait_for_answers(slack_url: str, expected: int, started: float) -> tuple[int, float]:
    """Waits (up to 2 minutes) until the stand-in holds an answer for every command."""
    deadline = time.monotonic() + 120
    answered = 0
    while time.monotonic() < deadline:
        with urllib.request.urlopen(slack_url + "/ui/api/state", timeout=10) as response:
            messages = json.loads(response.read())["messages"]
        answered = sum(1 for m in messages if m.get("bot_id") and not m.get("ephemeral_for"))
        if answered >= expected:
            break
        time.sleep(0.25)
    return answered, time.monotonic() - started


STANDIN_SCRIPT = """
import json, sys, threading
from bot.demo.people import CHANNELS, USERS
from bot.demo.slack_standin import SlackStandIn
standin = SlackStandIn(signing_secret=sys.argv[1], bot_token="xoxb-benchmark-token")
print(standin.start(), flush=True)
urls = [
    standin.issue_response_url(
        user_id=USERS[i % len(USERS)].id, channel_id=CHANNELS[i % len(CHANNELS)].id
    )
    for i in range(int(sys.argv[2]))
]
print(json.dumps(urls), flush=True)
threading.Event().wait()
"""


def start_standin(secret: str, count: int) -> tuple[subprocess.Popen, str, list[str]]:
    """The stand-in in its own process, with one response_url minted per command."""
    process = subprocess.Popen(
        [sys.executable, "-c", STANDIN_SCRIPT, secret, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    return process, base_url, json.loads(process.stdout.readline())


def start_costbot_serve(
    workdir: str, focus_glob: str, slack_url: str, secret: str, *, aws_url: str = ""
):
    """`costbot serve` on a free port; returns (process, events URL). With ``aws_url`` it
    talks to that AWS (the demo world's moto) with dummy credentials."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "COSTBOT_HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": "xoxb-benchmark-token",
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": slack_url + "/api/",
        "COSTBOT_TEAMS": str(ROOT / "bot/demo/teams.toml"),
        "COSTBOT_COST_SOURCE": f"focus:{focus_glob}",
        "COSTBOT_DB": str(Path(workdir) / "costbot.db"),
        "COSTBOT_LOG_LEVEL": "WARNING",
    }
    if aws_url:
        env |= {
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    costbot = Path(sys.executable).with_name("costbot")
    process = subprocess.Popen([str(costbot), "serve"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return process, base + "/slack/events"
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("costbot serve did not become healthy within 30 s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_command(secret: str, response_url: str, index: int, text: str) -> tuple[bytes, dict]:
    user = USERS[index % len(USERS)]
    channel = CHANNELS[index % len(CHANNELS)]
    body = urllib.parse.urlencode(
        {
            "token": "benchmark",
            "team_id": "T0DEMO",
            "channel_id": channel.id,
            "channel_name": channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": "/cost",
            "text": text or f"team {TEAMS[index % len(TEAMS)]}",
            "response_url": response_url,
            "trigger_id": f"bench.{index}",
        }
    )
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    return body.encode(), headers


def send_commands(
    events_url: str, response_urls: list[str], secret: str, concurrency: int, text: str
) -> tuple[list[float], int]:
    url = urllib.parse.urlsplit(events_url)

    def one(index: int) -> tuple[float, bool]:
        body, headers = signed_command(secret, response_urls[index], index, text)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            started = time.perf_counter()
            connection.request("POST", url.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed_ms = (time.perf_counter() - started) * 1000
            return elapsed_ms, response.status == 200
        except OSError:
            return 10_000.0, False
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(len(response_urls))))
    return [ms for ms, _ in results], sum(1 for _, ok in results if not ok)


def report(
    latencies: list[float],
    errors: int,
    args: argparse.Namespace,
    *,
    delivery: tuple[float, int, float] = (0.0, 0, 0.0),
) -> int:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p / 100 * len(ordered))) - 1)]

    figures = {
        "requests": len(ordered),
        "concurrency": args.concurrency,
        "errors": errors,
        "p50_ms": round(pct(50), 1),
        "p95_ms": round(pct(95), 1),
        "p99_ms": round(pct(99), 1),
        "max_ms": round(ordered[-1], 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "target_p99_ms": TARGET_P99_MS,
    }
    acked_s, answered, answered_s = delivery
    figures["all_acked_s"] = round(acked_s, 2)
    figures["answers_delivered"] = answered
    figures["all_answered_s"] = round(answered_s, 2)
    figures["met"] = figures["p99_ms"] < TARGET_P99_MS and errors == 0
    count, concurrency = figures["requests"], args.concurrency
    print(f"ack latency over {count} signed slash commands, {concurrency} at a time:")
    print(
        f"  p50 {figures['p50_ms']} ms · p95 {figures['p95_ms']} ms · p99 {figures['p99_ms']} ms"
        f" · max {figures['max_ms']} ms · errors {errors}"
    )
    print(
        f"  all {count} acked after {figures['all_acked_s']} s; answers delivered: "
        f"{answered}/{count}, the last after {figures['all_answered_s']} s"
    )
    rows = [
        ("p99 ack", f"< {TARGET_P99_MS:.0f} ms", f"{figures['p99_ms']} ms",
         figures["p99_ms"] < TARGET_P99_MS),
        ("errors", "0", str(errors), errors == 0),
        ("answers delivered", f"{count}", f"{answered}", answered == count),
    ]  # fmt: skip
    print_table(rows)
    figures["met"] = all(met for *_, met in rows)
    print(figures_line("ack_latency", rows, figures))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
