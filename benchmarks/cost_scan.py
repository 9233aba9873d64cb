"""`/cost team|top|compare` over a large organisation's month of FOCUS data, as users ask.

Writes once (cached under .bench/, gitignored) a synthetic FOCUS 1.0 Parquet month: 10,000,000
lines, 20 accounts, 60 services, 50 teams, 200,000 resources, realistic Tags JSON (team, env,
project, cost-center, owner; about 10% of resources untagged, spelled as null, '' or '{}'),
five charge categories, two currencies. DuckDB generates it from range() and hashes in
seconds. The teams file has the 50 teams (``digest_org.teams_file``).

Then it asks, through the engine functions the handlers call (``engines.costs.questions``):
``team_cost`` (team-07, October, by service and by region), ``top_costs`` (by team) and
``compare_periods`` (team-07, the second half of October against the first), each way in a
fresh subprocess:

- **scan**: ``FocusFileSource`` alone (the rollup off): every question scans the file.
- **rollup**: the rollup is built from the file (timed: build time, rows, size on disk),
  then every question is asked once (cold: the first question after the build) and
  ``--runs`` times more for other teams (warm: what every later question costs).
- **reopened**: a restarted bot: the rollup opened from disk, every question asked once.

Every rollup answer (both processes) is checked against the scan's to the cent, and the
report names which were; it also says whether they are identical digit for digit. Peak RSS
is the subprocess's VmHWM (imports, build and questions). Targets: each question <= 0.3 s
warm and cold after the build; peak RSS <= 1 GB.

    .venv/bin/python benchmarks/cost_scan.py [--rows 10000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summary import figures_line, print_table  # noqa: E402  (benchmarks/summary.py)

TARGET_ANSWER_S = 0.3
TARGET_PEAK_RSS_BYTES = 1 << 30
MONTH = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
DATA_VERSION = 1  # bump when the generator changes, so the cached file is rewritten
SERVICES = [
    "Amazon Elastic Compute Cloud", "Amazon Simple Storage Service", "Amazon SageMaker",
    "Amazon Relational Database Service", "Amazon Elastic Kubernetes Service", "AWS Lambda",
    "Amazon DynamoDB", "Amazon CloudWatch", "Amazon Elastic Block Store", "Amazon Bedrock",
    "Amazon Virtual Private Cloud", "Amazon CloudFront", "Amazon ElastiCache", "AWS Glue",
    "Amazon Athena", "Amazon Redshift", "Amazon EMR", "Amazon Kinesis", "Amazon OpenSearch",
    "Amazon Simple Queue Service", "Amazon Simple Notification Service", "AWS Fargate",
    "Amazon Elastic Container Registry", "Amazon Route 53", "AWS Key Management Service",
    "AWS Secrets Manager", "AWS Step Functions", "Amazon API Gateway", "AWS CloudTrail",
    "AWS Config", "Amazon GuardDuty", "AWS Backup", "Amazon Elastic File System",
    "Amazon FSx", "AWS Direct Connect", "Elastic Load Balancing", "Amazon MQ",
    "Amazon Managed Streaming for Apache Kafka", "AWS Systems Manager", "Amazon Inspector",
    "AWS WAF", "AWS Shield", "Amazon Cognito", "Amazon Textract", "Amazon Comprehend",
    "Amazon Rekognition", "Amazon Transcribe", "Amazon Translate", "Amazon Polly",
    "Amazon QuickSight", "AWS Data Transfer", "Amazon Timestream", "Amazon Neptune",
    "Amazon DocumentDB", "Amazon Keyspaces", "AWS Batch", "Amazon Lightsail",
    "AWS Support (Business)", "Amazon Managed Grafana", "Amazon Managed Prometheus",
]  # fmt: skip
REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
           "ap-southeast-2", "sa-east-1"]  # fmt: skip


# --- the data -------------------------------------------------------------------------------


def billing_month(rows: int, folder: Path, *, teams: int = 50) -> Path:
    """The cached FOCUS Parquet month, generated on first use (atomically).

    ``teams``: how many teams the resources are spread over (``team-07`` up to 100 teams,
    ``team-007`` beyond); other benchmarks (digest_org) ask for more than this one's 50.
    """
    name = f"focus-{rows}" if teams == 50 else f"focus-{rows}-t{teams}"
    path = folder / f"{name}-v{DATA_VERSION}.parquet"
    if path.exists():
        return path
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    width = len(str(teams - 1))
    resources_sql = _RESOURCES_SQL.replace("__TEAMS__", str(teams)).replace("__WIDTH__", str(width))
    connection.execute(resources_sql, [SERVICES, REGIONS])
    connection.execute(_LINES_SQL.format(rows=rows, path=str(partial).replace("'", "''")))
    connection.close()
    partial.rename(path)
    size_mb = path.stat().st_size / 1e6
    print(f"wrote {path} ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f} s", flush=True)
    return path


# 200,000 resources, each owned by one account, service, team and project. Service use is
# skewed (a few services carry most lines), as in real bills.
_RESOURCES_SQL = """
CREATE TEMP TABLE resources AS
WITH drawn AS (
    SELECT r,
           (hash(r, 'account') % 20)::INTEGER AS account_no,
           least(59, floor(60 * pow((hash(r, 'service') % 1000000) / 1e6, 2)))::INTEGER
               AS service_no,
           (hash(r, 'team') % __TEAMS__)::INTEGER AS team_no,
           (hash(r, 'env') % 3)::INTEGER AS env_no,
           (hash(r, 'project') % 400)::INTEGER AS project_no,
           (hash(r, 'region') % 8)::INTEGER AS region_no,
           (hash(r, 'tagged') % 100)::INTEGER AS tag_draw
    FROM range(200000) AS resources(r)
)
SELECT r AS resource_no,
       lpad((210987650000 + account_no)::VARCHAR, 12, '0') AS account,
       ($1::VARCHAR[])[service_no + 1] AS service,
       ($2::VARCHAR[])[region_no + 1] AS region,
       'arn:aws:service:' || ($2::VARCHAR[])[region_no + 1] || ':' || r AS resource_id,
       1 + service_no % 7 AS price_scale,
       CASE WHEN account_no = 19 THEN 'EUR' ELSE 'USD' END AS currency,
       CASE
           WHEN tag_draw < 4 THEN NULL
           WHEN tag_draw < 7 THEN ''
           WHEN tag_draw < 10 THEN '{}'
           ELSE '{"team": "team-' || lpad(team_no::VARCHAR, __WIDTH__, '0')
                || '", "env": "' || ['prod', 'staging', 'dev'][env_no + 1]
                || '", "project": "proj-' || lpad(project_no::VARCHAR, 3, '0')
                || '", "cost-center": "cc-' || (team_no % 12)
                || '", "owner": "user' || (r % 997) || '@example.com"}'
       END AS tags
FROM drawn
"""

# 10,000,000 lines over the month's 744 hours (the file is in time order, as exports are).
_LINES_SQL = """
COPY (
    WITH drawn AS (
        SELECT i, hash(i) % 200000 AS resource_no,
               (hash(i, 'category') % 1000)::INTEGER AS category_draw,
               round((hash(i, 'cost') % 1000000) / 1e5, 6) AS amount
        FROM range({rows}) AS lines(i)
    )
    SELECT '210987650000' AS BillingAccountId,
           resources.account AS SubAccountId,
           TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_hours((i * 744 // {rows})::BIGINT)
               AS ChargePeriodStart,
           TIMESTAMPTZ '2026-10-01 01:00:00+00' + to_hours((i * 744 // {rows})::BIGINT)
               AS ChargePeriodEnd,
           resources.currency AS BillingCurrency,
           (CASE WHEN category_draw >= 980 THEN -amount ELSE amount * price_scale END)::DOUBLE
               AS BilledCost,
           round((CASE WHEN category_draw >= 980 THEN -amount ELSE amount * price_scale END)
                 * 0.92, 6)::DOUBLE AS EffectiveCost,
           round(amount * price_scale * 1.15, 6)::DOUBLE AS ListCost,
           CASE WHEN category_draw < 940 THEN 'Usage'
                WHEN category_draw < 950 THEN 'Purchase'
                WHEN category_draw < 970 THEN 'Tax'
                WHEN category_draw < 980 THEN 'Adjustment'
                ELSE 'Credit' END AS ChargeCategory,
           resources.service AS ServiceName,
           resources.region AS RegionId,
           resources.resource_id AS ResourceId,
           resources.tags AS Tags
    FROM drawn JOIN resources USING (resource_no)
    ORDER BY i
) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
"""


# --- the questions users ask (each way in its own subprocess) --------------------------------

TODAY = dt.date(2026, 11, 5)  # October is complete, as on a user's screen in early November
OCTOBER = ("2026-10-01", "2026-11-01")
SECOND_HALF, FIRST_HALF = ("2026-10-16", "2026-11-01"), ("2026-10-01", "2026-10-16")


def questions_asked(team: str) -> list[tuple[str, str, dict[str, object]]]:
    """(figure name, engine function, its arguments): what `/cost team|top|compare` runs."""
    return [
        ("team", "team_cost", {"team": team, "period": OCTOBER, "by": "service"}),
        ("team by region", "team_cost", {"team": team, "period": OCTOBER, "by": "region"}),
        ("top", "top_costs", {"period": OCTOBER, "by": "team"}),
        ("compare", "compare_periods",
         {"current": SECOND_HALF, "baseline": FIRST_HALF, "team": team, "by": "service"}),
    ]  # fmt: skip


def ask(
    source: object, config: object, name: str, arguments: dict[str, object], cache: object
) -> object:
    """One question through the engine entry point the handlers call, with the allocation
    cache the bot hands in (``Deps.allocations``: one per process)."""
    from engines.costs import questions
    from engines.models import Period

    teams = config.teams  # type: ignore[attr-defined]
    values = {
        key: Period(dt.date.fromisoformat(value[0]), dt.date.fromisoformat(value[1]))
        if isinstance(value, tuple)
        else teams[value]
        if key == "team"
        else value
        for key, value in arguments.items()
    }
    function = getattr(questions, name)
    return function(source, teams, config.shared, today=TODAY, cache=cache, **values)  # type: ignore[attr-defined]


def measure(way: str, path: str, teams_path: str, team: str, rollup_path: str, runs: int) -> None:
    """Child process: answer every question cold, then ``runs`` times warm; print figures,
    peak RSS and the answers (JSON) on one line."""
    from engines.config.teams import load_config
    from engines.costs.sources.focus import FocusFileSource
    from engines.costs.sources.rollup import RollupSource

    config = load_config(Path(teams_path).read_text(), filename=teams_path)
    figures: dict[str, object] = {}
    files = FocusFileSource(path)
    source: object = files
    if way == "rollup":
        from bot.app import rule_tag_keys

        for stale in Path(rollup_path).parent.glob(Path(rollup_path).name + "*"):
            stale.unlink()
        started = time.perf_counter()
        rollup = RollupSource(files, path=rollup_path, tag_keys=rule_tag_keys(config))
        rollup.refresh()
        figures["build_s"] = time.perf_counter() - started
        status = rollup.status()
        figures.update(rollup_bytes=status.bytes, rollup_rows=status.rows, lines=status.lines)
        source = rollup
    elif way == "reopened":  # a restarted bot: the rollup on disk, nothing in memory
        from bot.app import rule_tag_keys

        source = RollupSource(files, path=rollup_path, tag_keys=rule_tag_keys(config))
    from engines.costs.allocation_cache import AllocationCache

    cache = AllocationCache()  # the bot's Deps.allocations: one per process
    cold: dict[str, float] = {}
    warm: dict[str, list[float]] = {}
    answers: dict[str, object] = {}
    for label, function, arguments in questions_asked(team):
        started = time.perf_counter()
        answer = ask(source, config, function, arguments, cache)
        cold[label] = time.perf_counter() - started
        answers[label] = answer.as_json()  # type: ignore[attr-defined]
    others = [name for name in config.teams if name != team]
    for run in range(runs if way != "scan" else 1):
        for label, function, arguments in questions_asked(others[run % len(others)]):
            started = time.perf_counter()
            ask(source, config, function, arguments, cache)
            warm.setdefault(label, []).append(time.perf_counter() - started)
    figures.update(cold=cold, warm=warm, answers=answers, peak_rss_bytes=peak_rss_bytes())
    print(json.dumps(figures, default=str))


def peak_rss_bytes() -> int:
    """This process's peak RSS: VmHWM from /proc, else ru_maxrss.

    ru_maxrss alone would do on a fresh process, but Linux carries the parent's high-water
    mark across fork and exec into it, so a child of a big parent would report the parent's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run_measurement(way: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", way, "--file", str(path),
               "--teams-file", str(args.teams_file), "--team", args.team,
               "--rollup", str(args.rollup), "--runs", str(args.runs)]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- the report -----------------------------------------------------------------------------


def to_the_cent(answer: dict[str, Any]) -> str:
    """An answer's figures rounded to the cent, as text (what "agree to the cent" compares)."""

    def rounded(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rounded(item) for item in value]
        if isinstance(value, str) and value.lstrip("-").replace(".", "", 1).isdigit():
            return str(Decimal(value).quantize(Decimal("0.01")))
        return value

    return json.dumps(rounded(answer), sort_keys=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5, help="warm runs of each question")
    parser.add_argument("--team", default="team-07")
    parser.add_argument("--dir", type=Path, default=ROOT / ".bench")
    parser.add_argument("--measure", choices=["rollup", "reopened", "scan"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--teams-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rollup", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.file, str(args.teams_file), args.team, str(args.rollup),
                args.runs)  # fmt: skip
        return 0

    import digest_org  # the same teams file, 50 teams tagged as the generator tags them

    path = billing_month(args.rows, args.dir)
    args.teams_file = digest_org.teams_file(50, args.dir)
    args.rollup = args.dir / f"rollup-{args.rows}.duckdb"
    scan = run_measurement("scan", path, args)
    rollup = run_measurement("rollup", path, args)
    reopened = run_measurement("reopened", path, args)
    return report(args, path, scan, rollup, reopened)


def report(
    args: argparse.Namespace,
    path: Path,
    scan: dict[str, Any],
    rollup: dict[str, Any],
    reopened: dict[str, Any],
) -> int:
    labels = [label for label, _, _ in questions_asked(args.team)]
    raw = {label: to_the_cent(scan["answers"][label]) for label in labels}
    checked = [
        label
        for label in labels
        if to_the_cent(rollup["answers"][label]) == raw[label]
        and to_the_cent(reopened["answers"][label]) == raw[label]
    ]
    exact = all(rollup["answers"][label] == scan["answers"][label] for label in labels)
    warm = {label: statistics.median(rollup["warm"][label]) for label in labels}
    peak = max(rollup["peak_rss_bytes"], reopened["peak_rss_bytes"])
    checks = [
        *((f"{label}: warm median (rollup)", f"<= {TARGET_ANSWER_S:g} s",
           f"{warm[label]:.3f} s", warm[label] <= TARGET_ANSWER_S) for label in labels),
        *((f"{label}: cold, first after ingest", f"<= {TARGET_ANSWER_S:g} s",
           f"{rollup['cold'][label]:.3f} s", rollup["cold"][label] <= TARGET_ANSWER_S)
          for label in labels),
        ("peak RSS (ingest + questions)", "<= 1 GB", f"{peak / 1e6:.0f} MB",
         peak <= TARGET_PEAK_RSS_BYTES),
        ("answers agree with a raw scan to the cent", ", ".join(labels),
         ", ".join(checked) or "none", checked == labels),
    ]  # fmt: skip
    print(f"/cost team|top|compare over {path.name}, 50 teams ({os.cpu_count()} CPUs)")
    print_table(checks)
    size_mb = rollup["rollup_bytes"] / 1e6
    print(f"  rollup: built in {rollup['build_s']:.1f} s from {rollup['lines']:,} lines, "
          f"{rollup['rollup_rows']:,} rows, {size_mb:.0f} MB on disk")  # fmt: skip
    for label in labels:
        print(f"  {label}: raw scan {scan['cold'][label]:.2f} s; rollup cold "
              f"{rollup['cold'][label]:.3f} s, after a restart {reopened['cold'][label]:.3f} s, "
              f"warm median {warm[label]:.4f} s")  # fmt: skip
    print(f"  answers identical to the raw scan's, digit for digit: {'yes' if exact else 'no'}")
    figures = {
        "rows": args.rows,
        "build_s": round(rollup["build_s"], 2),
        "rollup_bytes": rollup["rollup_bytes"],
        "rollup_rows": rollup["rollup_rows"],
        "scan_s": {label: round(scan["cold"][label], 3) for label in labels},
        "cold_s": {label: round(rollup["cold"][label], 4) for label in labels},
        "restart_cold_s": {label: round(reopened["cold"][label], 4) for label in labels},
        "warm_median_s": {label: round(warm[label], 4) for label in labels},
        "peak_rss_bytes": peak,
        "checked_against_raw_scan": checked,
        "identical_to_raw_scan": exact,
        "met": all(check[3] for check in checks),
    }
    print(figures_line("cost_scan", checks, figures))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
