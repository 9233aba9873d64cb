"""The Spot Instance Advisor feed: how often spot capacity of a type is taken back.

AWS publishes the data behind its Spot Instance Advisor page as one public JSON document
(``FEED_URL``)::

    {"global_rate": "<10%",
     "instance_types": {"m5.large": {"emr": true, "cores": 2, "ram_gb": 8.0}, ...},
     "ranges": [{"index": 0, "label": "<5%", "dots": 0, "max": 5}, ...],
     "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"s": 70, "r": 0}, ...},
                                    "Windows": {...}}, ...}}

``s`` is the average saving over on-demand (percent, last 30 days) and ``r`` the index into
``ranges``: the frequency of interruption over the trailing month, in buckets <5%, 5-10%,
10-15%, 15-20% and >20%.

A representative snapshot in exactly that format ships in ``engines/data`` (it says so in
its ``_source`` and ``_note`` fields, with its ``_snapshot_date``); ``refresh_feed`` replaces
a local copy with the real feed where the internet is reachable. Nothing here reads the
environment or the clock: the fetcher and ``now`` are passed in.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from engines.errors import CostbotError

FEED_URL = "https://spot-bio.s3.amazonaws.com/spot-advisor-data.json"
SNAPSHOT_FILE = "spot-advisor-data.json"
BUCKET_LABELS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
"""The feed's interruption buckets, in order (``r`` is the index)."""
DOWNLOAD_TIMEOUT_S = 20.0
MIN_REGIONS = 1


class AdvisorFeedError(CostbotError):
    """The advisor feed is missing, unreadable or not in the expected shape."""


@dataclass(frozen=True)
class Interruption:
    """The advisor's figures for one type in one region and operating system."""

    instance_type: str
    region: str
    operating_system: str
    bucket: str  # "<5%", "5-10%", ...
    bucket_index: int  # 0 (rarest) .. 4 (most frequent)
    saving_percent: int  # the advisor's average saving over on-demand, last 30 days


@dataclass(frozen=True)
class AdvisorFeed:
    """The parsed feed.

    Args:
        ranges: bucket label by index.
        regions: region -> operating system -> instance type -> (saving %, bucket index).
        instance_types: type -> {"cores", "ram_gb", "emr"} as the feed gives them.
        as_of: when the data was taken: the snapshot's ``_snapshot_date``, or when it was
            downloaded (``_downloaded_at``); None when the file says neither.
        origin: where it came from, in words ("the shipped snapshot", a file path).
        note: the file's own ``_note`` (a snapshot says it is not a download).
    """

    ranges: Mapping[int, str]
    regions: Mapping[str, Mapping[str, Mapping[str, tuple[int, int]]]]
    instance_types: Mapping[str, Mapping[str, Any]]
    as_of: dt.datetime | None
    origin: str
    note: str = ""

    def interruption(
        self, instance_type: str, region: str, operating_system: str = "Linux"
    ) -> Interruption | None:
        """The type's bucket and saving in ``region``; None when the feed has no entry."""
        entry = self.regions.get(region, {}).get(operating_system, {}).get(instance_type)
        if entry is None:
            return None
        saving, index = entry
        return Interruption(
            instance_type=instance_type,
            region=region,
            operating_system=operating_system,
            bucket=self.ranges.get(index, BUCKET_LABELS[min(index, 4)]),
            bucket_index=index,
            saving_percent=saving,
        )

    def regions_offering(self, instance_type: str, operating_system: str = "Linux") -> list[str]:
        """Regions where the feed lists the type (it lists only types with a spot market)."""
        return sorted(
            region
            for region, systems in self.regions.items()
            if instance_type in systems.get(operating_system, {})
        )

    def known_types(self) -> set[str]:
        names = set(self.instance_types)
        for systems in self.regions.values():
            for types in systems.values():
                names.update(types)
        return names


def parse_feed(data: Any, *, origin: str) -> AdvisorFeed:
    """Checks the feed's shape and reads it.

    Args:
        data: the decoded JSON.
        origin: where it came from, for messages.

    Raises:
        AdvisorFeedError: naming the first thing that is not as the feed's format says.
    """
    if not isinstance(data, dict):
        raise AdvisorFeedError(f"{origin}: expected a JSON object, got {type(data).__name__}.")
    for key in ("ranges", "spot_advisor", "instance_types"):
        if key not in data:
            raise AdvisorFeedError(f"{origin}: no '{key}' in the feed.")
    ranges = _ranges(data["ranges"], origin)
    regions = _regions(data["spot_advisor"], origin, max_index=max(ranges))
    if not isinstance(data["instance_types"], dict):
        raise AdvisorFeedError(f"{origin}: 'instance_types' is not an object.")
    return AdvisorFeed(
        ranges=ranges,
        regions=regions,
        instance_types=data["instance_types"],
        as_of=_as_of(data),
        origin=origin,
        note=str(data.get("_note", "")),
    )


def _ranges(raw: Any, origin: str) -> dict[int, str]:
    if not isinstance(raw, list) or not raw:
        raise AdvisorFeedError(f"{origin}: 'ranges' is not a non-empty list.")
    ranges = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int):
            raise AdvisorFeedError(f"{origin}: a range without an integer 'index': {item!r}.")
        ranges[item["index"]] = str(item.get("label", ""))
    return ranges


def _regions(raw: Any, origin: str, *, max_index: int) -> dict[str, dict[str, dict]]:
    if not isinstance(raw, dict) or len(raw) < MIN_REGIONS:
        raise AdvisorFeedError(f"{origin}: 'spot_advisor' has no regions.")
    regions: dict[str, dict[str, dict]] = {}
    for region, systems in raw.items():
        if not isinstance(systems, dict):
            raise AdvisorFeedError(f"{origin}: spot_advisor.{region} is not an object.")
        regions[region] = {}
        for system, types in systems.items():
            if not isinstance(types, dict):
                raise AdvisorFeedError(
                    f"{origin}: spot_advisor.{region}.{system} is not an object."
                )
            regions[region][system] = {
                name: _entry(entry, f"{origin}: spot_advisor.{region}.{system}.{name}", max_index)
                for name, entry in types.items()
            }
    return regions


def _entry(entry: Any, where: str, max_index: int) -> tuple[int, int]:
    if not isinstance(entry, dict):
        raise AdvisorFeedError(f"{where} is not an object.")
    saving, index = entry.get("s"), entry.get("r")
    if not isinstance(saving, int) or not isinstance(index, int) or not 0 <= index <= max_index:
        raise AdvisorFeedError(f"{where}: expected integers 's' and 'r' (0..{max_index}).")
    return saving, index


def _as_of(data: Mapping[str, Any]) -> dt.datetime | None:
    for key in ("_downloaded_at", "_snapshot_date"):
        text = data.get(key)
        if not text:
            continue
        try:
            moment = dt.datetime.fromisoformat(str(text))
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return None


# --- Loading ------------------------------------------------------------------------------------


def load_feed(path: Path | None) -> AdvisorFeed:
    """The local copy at ``path`` when there is one, else the shipped snapshot.

    A local copy that exists but is unreadable is an error (not silently replaced by the
    snapshot: whoever refreshed it should hear that it is broken).

    Raises:
        AdvisorFeedError: the file is unreadable or not the feed's shape.
    """
    if path is not None and path.exists():
        return _read(path.read_bytes, origin=str(path))
    return load_snapshot()


class FeedFile:
    """``load_feed(path)`` remembered until the file changes (the real feed is a megabyte or
    two of JSON: read once, not on every question)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen: tuple[float | None, AdvisorFeed] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> AdvisorFeed:
        with self._lock:
            stamp = self._stamp()
            if self._seen is None or self._seen[0] != stamp:
                self._seen = (stamp, load_feed(self.path))
            return self._seen[1]

    def _stamp(self) -> float | None:
        try:
            return self.path.stat().st_mtime if self.path is not None else None
        except OSError:
            return None


def load_snapshot() -> AdvisorFeed:
    """The snapshot shipped in ``engines/data``."""
    resource = resources.files("engines").joinpath("data", SNAPSHOT_FILE)
    return _read(resource.read_bytes, origin="the shipped snapshot")


def _read(read: Callable[[], bytes], *, origin: str) -> AdvisorFeed:
    try:
        data = json.loads(read())
    except FileNotFoundError:
        raise AdvisorFeedError(f"The Spot Instance Advisor data is missing ({origin}).") from None
    except OSError as error:
        message = f"Cannot read the Spot Instance Advisor data ({origin}): {error}"
        raise AdvisorFeedError(message) from None
    except ValueError as error:
        raise AdvisorFeedError(
            f"The Spot Instance Advisor data ({origin}) is not valid JSON: {error}"
        ) from None
    return parse_feed(data, origin=origin)


# --- Refreshing ---------------------------------------------------------------------------------


Fetch = Callable[[str, float], bytes]
"""Downloads a URL within a timeout (seconds) and returns the body; raises ``OSError``."""


@dataclass(frozen=True)
class RefreshResult:
    path: Path
    regions: int
    instance_types: int
    downloaded_at: dt.datetime


def refresh_feed(
    path: Path, *, fetch: Fetch, now: dt.datetime, url: str = FEED_URL
) -> RefreshResult:
    """Downloads the feed, checks its shape and replaces ``path`` atomically.

    The file is written next to ``path`` and renamed over it, so a reader sees the old feed
    or the new one, never half of one; a download that fails or is not the feed's shape
    leaves ``path`` as it was.

    Args:
        path: the local copy to replace.
        fetch: downloads a URL (with a timeout).
        now: stamped into the file as ``_downloaded_at`` (the feed carries no date itself).
        url: the feed's address.

    Raises:
        AdvisorFeedError: the feed could not be downloaded or is not in the expected shape.
    """
    try:
        body = fetch(url, DOWNLOAD_TIMEOUT_S)
    except OSError as error:
        raise AdvisorFeedError(
            f"Could not download the Spot Instance Advisor feed from {url}: {error}. "
            f"The data in use is unchanged."
        ) from None
    try:
        data = json.loads(body)
    except ValueError as error:
        message = f"{url} did not answer with JSON ({error}); nothing changed."
        raise AdvisorFeedError(message) from None
    feed = parse_feed(data, origin=url)
    data["_downloaded_at"] = now.isoformat()
    data["_source"] = url
    data.pop("_note", None)
    data.pop("_snapshot_date", None)
    _replace_atomically(path, json.dumps(data).encode("utf-8"))
    types = len(
        {name for region in feed.regions.values() for os_ in region.values() for name in os_}
    )
    return RefreshResult(path, len(feed.regions), types, now)


def _replace_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
