"""`cost team <t> by service` over a large organisation's month of FOCUS data.

Writes once (cached under .bench/, gitignored) a synthetic FOCUS 1.0 Parquet month: 10,000,000
lines, 20 accounts, 60 services, 50 teams, 200,000 resources, realistic Tags JSON (team, env,
project, cost-center, owner; about 10% of resources untagged, spelled as null, '' or '{}'),
five charge categories, two currencies. DuckDB generates it from range() and hashes in
seconds.

Then it answers one team's cost by service two ways, each run in a fresh subprocess:

- the engine: ``FocusFileSource(path).costs(query)`` with a tag filter, grouped by service.
  A new source per run, so its answer cache cannot help: every run scans the file.
- pandas, the straightforward way: read_parquet of the needed columns, json.loads of every
  Tags value, filter, groupby.

The time is the call alone (not interpreter start-up or imports); peak RSS is the whole
subprocess's, imports included (its VmHWM from /proc at the end). Both answers must agree to
the cent. Targets: engine median < 1 s, engine peak RSS < 1 GB, engine >= 10x faster than
pandas.

    .venv/bin/python benchmarks/cost_scan.py [--rows 10000000] [--runs 5] [--pandas-runs 3]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summary import figures_line, print_table  # noqa: E402  (benchmarks/summary.py)

TARGET_MEDIAN_S = 1.0
TARGET_PEAK_RSS_BYTES = 1 << 30
TARGET_SPEED_UP = 10.0
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


# --- the two answers (each in its own subprocess) -------------------------------------------


def engine_answer(path: str, team: str) -> dict[str, str]:
    from engines.models import Period
    from engines.query import SERVICE, CostQuery
    from engines.sources.base import CostFilter
    from engines.sources.focus import FocusFileSource

    query = CostQuery(
        period=Period(*MONTH),
        cost_filter=CostFilter(tags={"team": team}),
        group_by=(SERVICE,),
    )
    result = FocusFileSource(path).costs(query)  # a fresh source: its cache cannot help
    return {f"{g.key[0]}|{g.currency}": str(g.amount) for g in result.groups}


def pandas_answer(path: str, team: str) -> dict[str, str]:
    import pandas as pd

    columns = ["ChargePeriodStart", "BilledCost", "BillingCurrency", "ServiceName", "Tags"]
    frame = pd.read_parquet(path, columns=columns)
    start, end = (pd.Timestamp(day, tz="UTC") for day in MONTH)
    in_month = (frame["ChargePeriodStart"] >= start) & (frame["ChargePeriodStart"] < end)
    teams = frame["Tags"].map(_team_of)
    chosen = frame[in_month & (teams == team)]
    sums = chosen.groupby(["ServiceName", "BillingCurrency"])["BilledCost"].sum()
    return {f"{service}|{currency}": repr(amount) for (service, currency), amount in sums.items()}


def _team_of(text: object) -> object:
    if not isinstance(text, str):
        return None
    try:
        tags = json.loads(text)
    except json.JSONDecodeError:
        return None
    return tags.get("team") if isinstance(tags, dict) else None


def measure(kind: str, path: str, team: str) -> None:
    """Child process: answer once, print seconds, peak RSS and the answer as JSON."""
    answer = {"engine": engine_answer, "pandas": pandas_answer}[kind]
    if kind == "engine":  # imports are not part of the answer's time
        import engines.sources.focus  # noqa: F401
    else:
        import pandas  # noqa: F401
    started = time.perf_counter()
    groups = answer(path, team)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak_rss_bytes(), "groups": groups}))


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


def run_measurement(kind: str, path: Path, team: str) -> dict[str, object]:
    command = [sys.executable, __file__, "--measure", kind, "--file", str(path), "--team", team]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- the report -----------------------------------------------------------------------------


def agree_to_the_cent(engine: dict[str, str], pandas: dict[str, str]) -> bool:
    if engine.keys() != pandas.keys():
        return False
    half_cent = Decimal("0.005")
    return all(abs(Decimal(engine[k]) - Decimal(pandas[k])) < half_cent for k in engine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5, help="engine runs (median)")
    parser.add_argument("--pandas-runs", type=int, default=3, help="pandas runs (median)")
    parser.add_argument("--team", default="team-07")
    parser.add_argument("--dir", type=Path, default=ROOT / ".bench")
    parser.add_argument("--measure", choices=["engine", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.file, args.team)
        return 0

    path = billing_month(args.rows, args.dir)
    engine = [run_measurement("engine", path, args.team) for _ in range(args.runs)]
    pandas = [run_measurement("pandas", path, args.team) for _ in range(args.pandas_runs)]
    return report(args, path, engine, pandas)


def report(
    args: argparse.Namespace,
    path: Path,
    engine: list[dict[str, object]],
    pandas: list[dict[str, object]],
) -> int:
    engine_median = statistics.median(float(str(run["seconds"])) for run in engine)
    pandas_median = statistics.median(float(str(run["seconds"])) for run in pandas)
    engine_peak = max(int(str(run["peak_rss_bytes"])) for run in engine)
    pandas_peak = max(int(str(run["peak_rss_bytes"])) for run in pandas)
    speed_up = pandas_median / engine_median
    agree = agree_to_the_cent(engine[0]["groups"], pandas[0]["groups"])  # type: ignore[arg-type]
    same_every_run = all(run["groups"] == engine[0]["groups"] for run in engine)
    checks = [
        ("engine median", f"< {TARGET_MEDIAN_S:g} s", f"{engine_median:.3f} s",
         engine_median < TARGET_MEDIAN_S),
        ("engine peak RSS", "< 1 GB", f"{engine_peak / 1e6:.0f} MB",
         engine_peak < TARGET_PEAK_RSS_BYTES),
        ("speed-up over pandas", f">= {TARGET_SPEED_UP:g}x", f"{speed_up:.1f}x",
         speed_up >= TARGET_SPEED_UP),
        ("answers agree to the cent", "yes", "yes" if agree and same_every_run else "no",
         agree and same_every_run),
    ]  # fmt: skip
    runs = f"{args.runs} engine runs, {args.pandas_runs} pandas runs, {os.cpu_count()} CPUs"
    print(f"cost team {args.team} by service over {path.name} ({runs})")
    print_table(checks)
    groups = len(engine[0]["groups"])  # type: ignore[arg-type]
    pandas_figures = f"median {pandas_median:.2f} s, peak RSS {pandas_peak / 1e6:.0f} MB"
    print(f"  (pandas: {pandas_figures}; {groups} groups in the answer)")
    figures = {
        "rows": args.rows,
        "engine_median_s": round(engine_median, 4),
        "engine_runs_s": [round(float(str(run["seconds"])), 4) for run in engine],
        "engine_peak_rss_bytes": engine_peak,
        "pandas_median_s": round(pandas_median, 4),
        "pandas_peak_rss_bytes": pandas_peak,
        "speed_up": round(speed_up, 1),
        "agree_to_the_cent": agree and same_every_run,
        "met": all(check[3] for check in checks),
    }
    print(figures_line("cost_scan", checks, figures))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
