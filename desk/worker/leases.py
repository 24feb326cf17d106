"""What a worker process knows of its own leases: the heartbeat that renews them, and the fence it passes
right before each call that creates a post.

The heartbeat renews the leases of the calls in flight every few seconds and notes, on this process's
monotonic clock, when it last did. A process frozen past its lease finds that note too old when it wakes
(the monotonic clock ran on while it was stopped), and so does one whose heartbeat cannot reach the
database: either starts no call that creates a post until a beat has renewed its leases again. Then the
fence asks the database itself (services/claim_fence.py). The rules are in desk/domain/leases.py.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from functools import partial

from sqlalchemy import exc as db_errors

from ..domain import leases
from ..platforms import ClaimLost
from ..services import claim_fence, worker_registry

log = logging.getLogger("desk.worker")


def where(exc: BaseException) -> str:
    """Where an unexpected error arose, without its message: messages can carry URLs with tokens."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {os.path.basename(last.filename)}:{last.lineno}"


def database_unavailable(exc: BaseException) -> bool:
    """An error that waiting cures: the server restarting, the network, SQLite's file busy."""
    return isinstance(exc, (db_errors.OperationalError, db_errors.InterfaceError)) or (
        isinstance(exc, db_errors.DBAPIError) and exc.connection_invalidated)


class Renewals:
    """When this process's heartbeat last renewed its leases, and a way to wait for the next renewal."""

    def __init__(self, lease_seconds: float, margin: float, clock: Callable[[], float] = time.monotonic):
        self.lease_seconds, self.margin, self.clock = lease_seconds, margin, clock
        self._changed = threading.Condition()
        self._at = clock()  # a claim made since then has a lease at least this fresh

    def renewed(self, started_at: float) -> None:
        """A beat that began at `started_at` renewed every lease it was asked to (or found it taken over)."""
        with self._changed:
            self._at = max(self._at, started_at)
            self._changed.notify_all()

    def fresh(self) -> bool:
        return leases.renewals_fresh(self._at, self.clock(), self.lease_seconds, self.margin)

    def wait_fresh(self, timeout: float) -> bool:
        """True at once if the leases are fresh; else wait up to `timeout` seconds for a beat to renew them."""
        with self._changed:
            return self._changed.wait_for(self.fresh, timeout)


class Heartbeat(threading.Thread):
    """Every few seconds: we are alive, and the leases of our calls under way run on. A database outage
    costs a log line and a retry next beat, never the thread."""

    def __init__(self, session_factory, runner, settings, renewals: Renewals | None = None):
        super().__init__(name="desk-heartbeat", daemon=True)
        self.sessions, self.runner, self.settings, self.renewals = session_factory, runner, settings, renewals
        self.done = threading.Event()

    def beat(self) -> None:
        started = time.monotonic()
        with self.sessions() as session:
            worker_registry.beat(session, self.runner.worker, self.runner.in_flight(),
                                 lease_seconds=self.settings.lease_seconds, pool_size=self.settings.worker_pool_size,
                                 last_error=self.runner.last_error)
        if self.renewals is not None:
            self.renewals.renewed(started)

    def run(self) -> None:
        failing = False
        while not self.done.wait(self.settings.worker_heartbeat_seconds):
            try:
                self.beat()
            except Exception as exc:
                if not failing:
                    log.error("heartbeat failed: %s; trying again every %s s, and sending nothing new until it "
                              "renews the leases", where(exc), self.settings.worker_heartbeat_seconds)
                failing = True
                continue
            if failing:
                log.info("heartbeat: the database answers again")
                failing = False


class Fence:
    """The check each adapter calls (through PublishRequest.before_create) right before the call that
    creates a post: raises ClaimLost, or returns the timeout that call may take."""

    def __init__(self, session_factory, worker: str, settings, renewals: Renewals | None = None, db=nullcontext):
        self.sessions, self.worker, self.settings, self.renewals, self.db = (session_factory, worker, settings,
                                                                             renewals, db)
        self.margin = leases.margin_seconds(settings.worker_heartbeat_seconds)

    def for_claim(self, claim, now: datetime | None = None) -> Callable[[tuple[float, float]], tuple[float, float]]:
        """The fence for one claim; `now` only where the whole pass runs at a given time (tests)."""
        return partial(self.check, claim, now)

    def check(self, claim, now: datetime | None, timeout: tuple[float, float]) -> tuple[float, float]:
        lease = self.settings.lease_seconds
        if self.renewals is not None and not self.renewals.wait_fresh(lease):
            raise ClaimLost(leases.NO_HEARTBEAT)
        try:
            with self.db(), self.sessions() as session:
                why = claim_fence.fence(session, claim, self.worker, lease_seconds=lease, now=now)
        except Exception as exc:  # whatever it was, the claim is not confirmed: nothing is sent
            log.error("fence target=%s: %s; not sending", claim.target_id,
                      type(exc).__name__ if database_unavailable(exc) else where(exc))
            raise ClaimLost(leases.NO_DATABASE) from None
        if why is not None:
            raise ClaimLost(why)
        return leases.create_timeout(timeout, lease, self.margin)
