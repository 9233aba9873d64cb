"""One acting process: a lease in the database says which process runs the scheduler,
delivers the outbox and settles the changes a dead process left half-way.

Any number of ``costbot serve`` processes may share one database and answer Slack (what
they post on their own goes into the outbox). Each records a liveness heartbeat (the
``processes`` table) every quarter of the lease time. The processes allowed to act
(``COSTBOT_SCHEDULER``) also try to take the lease (the ``lease`` table) at every beat: the
holder renews it, a standby takes it once it has expired, i.e. once its holder has not
renewed it for the lease time (it was killed, or hangs). So a standby takes over within
the lease time and one beat of the holder's death; a holder that stops cleanly releases the
lease at once.

What a process carried out is recorded with its id (``changes.executor``,
``outbox.sender``): the holder settles only what a process whose heartbeat has expired left
behind, never what a live process is still doing.

Times are wall-clock times compared across processes: the processes sharing a database
(one host, as SQLite wants) share a clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable

from bot.store import Store

logger = logging.getLogger(__name__)

LEASE_NAME = "acting"
FORGET_GONE_AFTER = dt.timedelta(days=1)  # heartbeats of processes gone this long are dropped


def new_process_id() -> str:
    """This process's id, unique across hosts and restarts: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class ActingLease:
    """The heartbeat of one process and, if it may act, its part in the lease.

    Args:
        store: the shared database.
        process_id: this process (``new_process_id()``).
        now: the wall clock (UTC).
        lease_time: how long a heartbeat or the lease lasts unless renewed; beats come
            four times as often.
        may_act: whether this process may take the lease (else it only beats).
        on_acquire: called (in the lease's thread) when this process starts acting.
        on_lose: called when it stops acting (the lease went to another process, or
            this process stops).
        while_holding: called after every beat while this process acts (settling what
            dead processes left behind).
    """

    def __init__(
        self,
        store: Store,
        *,
        process_id: str,
        now: Callable[[], dt.datetime],
        lease_time: dt.timedelta,
        may_act: bool,
        on_acquire: Callable[[], object] = lambda: None,
        on_lose: Callable[[], object] = lambda: None,
        while_holding: Callable[[], object] = lambda: None,
    ) -> None:
        self.store = store
        self.process_id = process_id
        self.now = now
        self.lease_time = lease_time
        self.beat_every = lease_time / 4
        self.may_act = may_act
        self.on_acquire = on_acquire
        self.on_lose = on_lose
        self.while_holding = while_holding
        self._holding = False
        self._held_until: dt.datetime | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holding(self) -> bool:
        """Whether this process acts now."""
        return self._holding

    def beat(self) -> bool:
        """One heartbeat: records that this process lives and takes or renews the lease
        if it may act; starts or stops acting accordingly. True while it acts."""
        now = self.now()
        until = now + self.lease_time
        self.store.beat(self.process_id, host=socket.gethostname(), pid=os.getpid(), now=now,
                        expires_at=until)  # fmt: skip
        held = self.may_act and self.store.take_lease(
            LEASE_NAME, self.process_id, now=now, expires_at=until
        )
        if held:
            self._held_until = until
            self.store.forget_processes_gone_before(now - FORGET_GONE_AFTER)
            if not self._holding:
                self._holding = True
                logger.info("this process acts now (scheduler, outbox, recovery)")
                self.on_acquire()
            self.while_holding()
        elif self._holding:
            logger.warning("another process acts now; this one stands by")
            self._stop_acting()
        return held

    def live_processes(self) -> set[str]:
        """The processes whose heartbeat has not expired."""
        return self.store.live_processes(self.now())

    def start(self) -> ActingLease:
        """Beats once now, then every ``beat_every`` in a background thread."""
        self._safe_beat()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, forget: bool = True) -> None:
        """Stops beating; stops acting and releases the lease, so a standby takes over now.

        Args:
            forget: also remove this process's heartbeat (only when it carries out
                nothing: otherwise what it left is settled once the heartbeat expires).
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._holding:
            self._stop_acting()
        try:
            self.store.release_lease(LEASE_NAME, self.process_id)
            if forget:
                self.store.forget_process(self.process_id)
        except Exception:
            logger.exception("could not release the lease; it expires by itself")

    def _stop_acting(self) -> None:
        self._holding = False
        self._held_until = None
        try:
            self.on_lose()
        except Exception:
            logger.exception("stopping the acting work failed")

    def _safe_beat(self) -> None:
        try:
            self.beat()
        except Exception:
            logger.exception("lease heartbeat failed; trying again in %s", self.beat_every)
            # Unable to renew: stop acting before the lease can pass to another process.
            expires = self._held_until
            if self._holding and (expires is None or self.now() + self.beat_every >= expires):
                logger.warning("the lease could not be renewed; this process stands by")
                self._stop_acting()

    def _run(self) -> None:
        while not self._stopping.wait(self.beat_every.total_seconds()):
            self._safe_beat()
