"""The one line each benchmark ends with, and the table `make bench` builds from them.

Every script in ``benchmarks/`` prints, as its last JSON line, an object with its name, its
figures (each: what was measured, the target, the measurement, whether the target was met)
and the raw details::

    {"benchmark": "ack_latency", "figures": [{"figure": "p99 ack", "target": "< 100 ms",
     "measured": "34.7 ms", "met": true}, ...], "details": {...}}

``run_all.py`` runs every script, reads that line and prints one table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

Figure = tuple[str, str, str, bool]  # figure, target, measured, met


def figures_line(benchmark: str, figures: Iterable[Figure], details: Mapping[str, Any]) -> str:
    """The JSON line a benchmark prints last."""
    return json.dumps(
        {
            "benchmark": benchmark,
            "figures": [
                {"figure": name, "target": target, "measured": measured, "met": bool(met)}
                for name, target, measured, met in figures
            ],
            "details": dict(details),
        },
        default=str,
    )


def print_table(figures: Iterable[Figure], indent: str = "  ") -> None:
    """A benchmark's own figures, as a small table."""
    rows = list(figures)
    widths = [max(len(str(row[i])) for row in [("figure", "target", "measured", "")] + rows)
              for i in range(3)]  # fmt: skip
    header = ("figure", "target", "measured")
    print(indent + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  met")
    for name, target, measured, met in rows:
        cells = (name, target, measured)
        line = "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        print(indent + line + ("  yes" if met else "  NO"))


def last_figures(output: str) -> dict[str, Any] | None:
    """The last figures line in a benchmark's output, or None."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and isinstance(parsed.get("figures"), list):
            return parsed
    return None
