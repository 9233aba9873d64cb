"""The teams file, followed while the bot runs: edited, it is read again at the next question.

A question checks the file's identity (size and modification time: one ``stat``, at most
every ``recheck_s``). When it changed, the file is read and validated again; the new teams
and shared costs replace the old ones (``handlers.deps.Deps.follow_teams_file``), and the
listeners hear of it (the export files' rollup is rebuilt when the rules match on new tag
keys). A file that no longer reads or validates changes nothing: the bot goes on with the
teams it had, and the log says what is wrong, once per version of the file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engines.config.teams import CostConfig
from engines.errors import ConfigError

logger = logging.getLogger(__name__)

# (size, mtime_ns, inode, ctime_ns); None: the file is not there. The inode and ctime see a
# file replaced by one of the same size with its old mtime kept (rsync -a, cp -p).
_Stamp = tuple[int, int, int, int] | None


class TeamsFileWatch:
    """Re-reads the teams file when it changes.

    Args:
        path: the teams file (``COSTBOT_TEAMS``).
        load: reads and validates it (``bot.app.load_teams_file`` with the account ids);
            raises ``ConfigError``.
        config: what was read at start-up.
        on_change: called with each new config, after it replaced the old.
        clock: seconds from a monotonic clock (tests pass a fake).
    """

    recheck_s = 1.0  # how long a look is trusted: one ``stat`` a second at most

    def __init__(
        self,
        path: Path,
        *,
        load: Callable[[Path], CostConfig],
        config: CostConfig,
        on_change: Callable[[CostConfig], None] = lambda config: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._load = load
        self._config = config
        self._on_change = on_change
        self._clock = clock
        self._stamp = _stamp(path)
        self._checked_at = clock()
        self._lock = threading.Lock()

    @property
    def config(self) -> CostConfig:
        """The teams file as last read well."""
        return self._config

    def current(self) -> CostConfig:
        """The teams file as it is now (read again if it changed), or as last read well."""
        self.changed()
        return self._config

    def changed(self) -> CostConfig | None:
        """The teams file read again when it changed since the last look, else None."""
        now = self._clock()
        if now - self._checked_at < self.recheck_s:
            return None
        with self._lock:
            self._checked_at = now
            stamp = _stamp(self.path)
            if stamp == self._stamp:
                return None
            self._stamp = stamp  # a bad version is reported once, not at every question
            try:
                config = self._load(self.path)
            except (ConfigError, OSError, ValueError) as error:  # ValueError: not UTF-8
                logger.warning("the teams file changed but cannot be used (%s): keeping "
                               "the teams read before", error)  # fmt: skip
                return None
            self._config = config
            logger.info("the teams file %s changed: %d teams read again", self.path,
                        len(config.teams))  # fmt: skip
            try:  # under the lock: listeners hear of each version in the order it was read
                self._on_change(config)
            except Exception:
                logger.exception("following the teams file's change failed")
        return config


def _stamp(path: Path) -> _Stamp:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns)
