"""How long the demo world takes to start: moto seeded with the fleet, and the billing export.

`make demo` and every demo-backed test start here, so these are the seconds a newcomer waits
before the workspace opens. Targets: seeding under 10 s, the CSV export under 2 s.

    .venv/bin/python benchmarks/demo_world.py
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from summary import figures_line, print_table  # noqa: E402

from bot.demo.fleet import FLEET  # noqa: E402
from bot.demo.focus_export import write_focus_export  # noqa: E402
from bot.demo.world import start_demo_world  # noqa: E402

NOW = dt.datetime(2026, 12, 6, 15, 0, tzinfo=dt.UTC)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        world = start_demo_world(workdir=Path(folder) / "world", now=NOW)
        seed_s = world.seed_seconds
        world.stop()
        ids = {instance.name: f"i-{index:017x}" for index, instance in enumerate(FLEET)}
        started = time.perf_counter()
        write_focus_export(
            Path(folder) / "csv", fmt="csv", instance_ids=ids, account_id="123456789012", now=NOW
        )
        export_s = time.perf_counter() - started
    figures = [
        ("seeding moto", "< 10 s", f"{seed_s:.1f} s", seed_s < 10),
        ("CSV billing export", "< 2 s", f"{export_s:.2f} s", export_s < 2),
    ]
    print_table(figures)
    print(figures_line("demo_world", figures, {"seed_s": seed_s, "export_s": export_s}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
