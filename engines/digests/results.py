"""What ``/cost digest post`` answers: which teams' digests were queued, had been posted
already, or failed (with why), in the CLI's ``--json`` shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DigestPostResult:
    queued: tuple[str, ...]
    already: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "queued": list(self.queued),
            "already_posted": list(self.already),
            "failed": dict(self.failed),
        }
