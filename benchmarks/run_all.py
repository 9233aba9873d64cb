"""`make bench`: runs every benchmark in this folder and prints one summary table.

Each script runs in its own process, one after the other (they measure time and memory, so
never two at once), with its output shown as it goes. Its last figures line (see
``summary.py``) is collected; a script that fails or prints no figures is a row that says so.
The table is also written as JSON to ``.bench/summary.json``.

    .venv/bin/python benchmarks/run_all.py [--only load,cost_scan] [--timeout 600]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from summary import last_figures

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOT_BENCHMARKS = {"run_all.py", "summary.py"}


def scripts(only: set[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS)
    return [p for p in found if not only or p.stem in only]


def run(script: Path, timeout_s: float) -> tuple[dict | None, float, str]:
    """Runs one script, echoing its output; returns (figures, seconds, problem)."""
    print(f"\n=== {script.name} ===", flush=True)
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not line.startswith('{"benchmark"'):
                print("  " + line, end="", flush=True)
            if time.monotonic() - started > timeout_s:
                process.kill()
                break
        code = process.wait()
    seconds = time.monotonic() - started
    figures = last_figures("".join(lines))
    problem = ""
    if seconds > timeout_s:
        problem = f"killed after {timeout_s:.0f} s"
    elif figures is None:
        problem = f"printed no figures (exit code {code})"
    return figures, seconds, problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated script names (no .py)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per script")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}

    rows: list[dict] = []
    began = time.monotonic()
    for script in scripts(only):
        figures, seconds, problem = run(script, args.timeout)
        if problem:
            failed = {"figure": "ran", "target": "figures", "measured": problem, "met": False}
            rows.append({"benchmark": script.stem, **failed, "seconds": round(seconds, 1)})
            continue
        assert figures is not None
        for figure in figures["figures"]:
            rows.append({"benchmark": script.stem, **figure, "seconds": round(seconds, 1)})
    total = time.monotonic() - began
    print_summary(rows, total)
    write_json(rows, total)
    return 0 if rows and all(row["met"] for row in rows) else 1


def print_summary(rows: list[dict], total_s: float) -> None:
    header = {"benchmark": "benchmark", "figure": "figure", "target": "target",
              "measured": "measured"}  # fmt: skip
    columns = list(header)
    widths = {c: max(len(str(r[c])) for r in [header, *rows]) for c in columns}
    print(f"\n=== summary ({len(rows)} figures, {total_s:.0f} s) ===")
    print("  ".join(header[c].ljust(widths[c]) for c in columns) + "  met")
    for row in rows:
        cells = "  ".join(str(row[c]).ljust(widths[c]) for c in columns)
        print(cells + ("  yes" if row["met"] else "  NO"))
    met = sum(1 for row in rows if row["met"])
    print(f"{met} of {len(rows)} targets met")


def write_json(rows: list[dict], total_s: float) -> None:
    out = ROOT / ".bench" / "summary.json"
    out.parent.mkdir(exist_ok=True)
    summary = {
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(total_s, 1),
        "figures": rows,
    }
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
