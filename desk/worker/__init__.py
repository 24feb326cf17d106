"""The publishing worker: APScheduler is only its clock, the database is the truth.

Each pass asks the database what is due, claims one target per free channel (committed before any
platform is called) for as many slots as its pool has free, and hands each claim to the pool, which calls
the adapter and records what happened through the publishing use cases. A pass does not wait for its
calls: a slot that frees asks for another pass at once. A restart loses nothing: what was claimed by a
worker that died becomes `unknown` when its lease runs out and is reconciled against the platform
before anything is sent again.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from ..domain import leases as lease_rules  # not `leases`: that name is this package's leases.py
from ..domain import rate_limits
from ..domain.clock import utcnow
from ..platforms import ClaimLost, PlatformContext, PlatformError, publisher_for
from ..platforms.base import PERMANENT, RATE_LIMITED, TRANSIENT
from ..services import audit_anchors, claim_fence, housekeeping, publishing, reconciling, worker_registry
from .leases import Fence, Heartbeat, Renewals, database_unavailable
from .leases import where as _where

log = logging.getLogger("desk.worker")


class WorkerRefused(RuntimeError):
    """The worker cannot start; the message says why and what to do."""


@dataclass
class PassResult:
    expired: int = 0
    held: int = 0
    released: int = 0
    late: int = 0
    free: int = 0  # slots free when the pass began
    claimed: int = 0  # targets and checks it handed to the pool
    outcomes: dict[int, str] = field(default_factory=dict)  # target id -> state after its attempt
    reconciled: dict[int, str] = field(default_factory=dict)  # target id -> state after reconciling


def worker_id() -> str:
    return worker_registry.new_worker_id()


class _Inline:
    """An executor that runs each call at once: one pass then publishes everything it claimed (tests)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 (handed to whoever reads the future)
            future.set_exception(exc)
        return future


class Runner:
    """One process's publishing: passes, the pool of platform calls, and what is in flight right now.

    The heartbeat reads `in_flight()` to renew those leases; a free slot calls `on_free` so the process
    can pass again without waiting for its clock. Each call passes the fence right before it creates the
    post; `renewals` (the heartbeat's, in a long-running process) adds the check that the leases are fresh.
    """

    def __init__(self, session_factory, context: PlatformContext, worker: str, settings, *, executor=None,
                 on_free=None, stopping: threading.Event | None = None, renewals: Renewals | None = None):
        self.sessions, self.context, self.worker, self.settings = session_factory, context, worker, settings
        self.executor = executor or _Inline()
        self.on_free = on_free or (lambda: None)
        self.stopping = stopping or threading.Event()
        self._calls: dict[int, int] = {}  # target id -> channel id, calls under way
        self._checks: set[int] = set()  # channel ids being asked about an unknown target
        self._lock = threading.Lock()
        bind = session_factory.kw.get("bind")
        # SQLite has one writer: its transactions take turns here rather than read what another is changing.
        self._db = threading.Lock() if bind is not None and bind.dialect.name == "sqlite" else None
        self.last_error: str | None = None
        self.fence = Fence(session_factory, worker, settings, renewals, db=self.db)

    def db(self):
        return self._db or nullcontext()

    def in_flight(self) -> set[int]:
        with self._lock:
            return set(self._calls)

    def free_slots(self) -> int:
        with self._lock:
            return max(0, self.settings.worker_pool_size - len(self._calls) - len(self._checks))

    # ---- one pass ----

    def run_pass(self, now: datetime | None = None, upkeep: bool = True) -> PassResult:
        """Expire dead leases, hold and release, claim what is due and hand it to the pool, reconcile.

        `upkeep=False` skips the first part (housekeeping, leases, holds): the passes a freed slot or an
        exact wake-up asks for only need to claim, and doing the upkeep on every one of them would cost
        each published post a dozen statements. The clock's regular tick does the upkeep."""
        result = PassResult()
        s = self.settings
        if upkeep:
            with self.db():
                # grants that expire, event feeds that end, a series' next occurrences
                housekeeping.run(self.sessions, self.worker, now, zone=s.zone, late_after_minutes=s.late_after_minutes,
                                 anchor_to=s.audit_anchor, mail=audit_anchors.MailServer.from_settings(s))
                with self.sessions() as session:
                    result.expired = publishing.expire_leases(session, self.worker, now=now)
                    result.held, result.released, result.late = publishing.hold_and_release(
                        session, self.worker, now=now, zone=s.zone, late_after_minutes=s.late_after_minutes)
        result.free = self.free_slots()
        if free := min(result.free, s.worker_batch_size):
            result.claimed += self._take(publishing.claim_due, free, now, self._attempt, result.outcomes,
                                         lambda claim: self._calls.update({claim.target_id: claim.channel.id}))
        if upkeep and (free := self.free_slots()):  # rare, and a tick's wait changes nothing for them
            result.claimed += self._take(reconciling.claim_checks, free, now, self._check, result.reconciled,
                                         lambda check: self._checks.add(check.channel.id))
        return result

    def _take(self, claim, free: int, now, run, outcomes: dict, register) -> int:
        """Claim up to `free` items in one short transaction, note each as ours, hand each to the pool."""
        with self.db(), self.sessions() as session:
            items = claim(session, self.worker, now=now, limit=free, lease_seconds=self.settings.lease_seconds)
        for item in items:
            with self._lock:
                register(item)
            self._hand_over(run, item, now, outcomes, item.target_id)
        return len(items)

    def _hand_over(self, fn, item, now, outcomes: dict, key: int) -> None:
        def done(future: Future) -> None:
            if not future.cancelled() and future.exception() is None and future.result() is not None:
                outcomes[key] = future.result()

        self.executor.submit(fn, item, now).add_done_callback(done)

    def _freed(self) -> None:
        if not self.stopping.is_set():
            self.on_free()

    # ---- in the pool ----

    def _attempt(self, claim: publishing.Claim, now: datetime | None) -> str | None:
        """One attempt on one claimed target; whatever goes wrong is recorded, never raised."""
        try:
            return self._attempt_and_record(claim, now)
        finally:
            with self._lock:
                self._calls.pop(claim.target_id, None)
            self._freed()

    def _attempt_and_record(self, claim: publishing.Claim, now: datetime | None) -> str | None:
        started = time.monotonic()
        error = ref = lost = None
        with rate_limits.observing() as seen:
            try:
                request = replace(claim.request, fence=self.fence.for_claim(claim, now))
                ref = publisher_for(claim.channel, self.context).publish(request)
            except ClaimLost as refused:  # the fence: nothing was sent
                lost = refused.reason
            except PlatformError as exc:
                error = exc
            except Exception as exc:  # an adapter bug must not stop the other targets
                log.error("unexpected error publishing target=%s: %s", claim.target_id, _where(exc))
                error = PlatformError(TRANSIENT, "The desk met an unexpected error while sending this. It will "
                                      "try again by itself; if it keeps failing, tell the desk's administrator.",
                                      code="unexpected")
        duration_ms = round((time.monotonic() - started) * 1000)
        at = now or utcnow()
        pacing = rate_limits.after_call(claim.channel.platform, seen, at, retry_after=(
            error.retry_after if error is not None and error.error_class == RATE_LIMITED else None))
        s = self.settings
        if lost is not None:
            outcome = self._record(f"target={claim.target_id}", lambda session: claim_fence.record_claim_lost(
                session, claim, self.worker, lost, now=now, pacing=pacing))
            log.warning("attempt target=%s post=%s channel=%s platform=%s attempt=%s outcome=claim_lost reason=%s "
                        "then=%s duration_ms=%s worker=%s", claim.target_id, claim.post_id, claim.channel.id,
                        claim.channel.platform, claim.attempt_no, lost, outcome or "unrecorded",
                        round((time.monotonic() - started) * 1000), self.worker)
            return outcome
        if error is None:
            outcome = self._record(f"target={claim.target_id}", lambda session: publishing.record_success(
                session, claim, self.worker, ref, now=now, pacing=pacing))
        else:
            outcome = self._record(f"target={claim.target_id}", lambda session: publishing.record_failure(
                session, claim, self.worker, error, max_attempts=s.max_attempts,
                retry_base_seconds=s.retry_base_seconds, now=now, pacing=pacing))
        log.info("attempt target=%s post=%s channel=%s platform=%s attempt=%s outcome=%s%s duration_ms=%s "
                 "worker=%s", claim.target_id, claim.post_id, claim.channel.id, claim.channel.platform,
                 claim.attempt_no, outcome or "unrecorded",
                 f" error_class={error.error_class} code={error.code}" if error else "", duration_ms, self.worker)
        return outcome

    def _check(self, check: reconciling.Check, now: datetime | None) -> str | None:
        """Ask the platform whether an interrupted post went out, then settle it."""
        try:
            return self._check_and_record(check, now)
        finally:
            with self._lock:
                self._checks.discard(check.channel.id)
            self._freed()

    def _check_and_record(self, check: reconciling.Check, now: datetime | None) -> str | None:
        channel = check.channel
        error = found = None
        with rate_limits.observing() as seen:
            try:
                found = publisher_for(channel, self.context).find_published(check.request)
            except NotImplementedError:
                error = PlatformError(PERMANENT, reconciling.CANNOT_CHECK, code="cannot-check")
            except PlatformError as exc:
                error = exc
            except Exception as exc:
                log.error("unexpected error reconciling target=%s: %s", check.target_id, _where(exc))
                error = PlatformError(TRANSIENT, "unexpected", code="unexpected")
        pacing = rate_limits.after_call(channel.platform, seen, now or utcnow(), retry_after=(
            error.retry_after if error is not None and error.error_class == RATE_LIMITED else None))
        key = f"target={check.target_id}"
        if error is None:
            outcome = self._record(key, lambda s: reconciling.settle(
                s, check, self.worker, found, now=now, pacing=pacing, max_attempts=self.settings.max_attempts,
                retry_base_seconds=self.settings.retry_base_seconds))
        elif error.error_class == PERMANENT and error.code == "cannot-check":
            outcome = self._record(key, lambda s: reconciling.hand_to_person(s, check, self.worker, now=now,
                                                                             pacing=pacing))
        else:  # still unknown: asked again when the channel's pacing allows, never sent blindly
            self._record(key, lambda s: reconciling.not_answered(s, check, pacing, now=now))
            outcome = None
        log.info("reconcile target=%s channel=%s platform=%s outcome=%s%s worker=%s", check.target_id, channel.id,
                 channel.platform, outcome or "unchecked",
                 f" error_class={error.error_class} code={error.code}" if error else "", self.worker)
        return outcome

    def _record(self, what: str, write):
        """Run one recording transaction; while the database is away, keep the outcome here and try again
        (the heartbeat keeps the lease meanwhile) until it lands, or until the process has been stopping
        for a lease's length. Then reconciliation settles it from the platform's side."""
        delay, complained = 0.5, False
        stop_deadline = None
        while True:
            try:
                with self.db(), self.sessions() as session:
                    result = write(session)
                if complained:
                    log.info("recorded %s once the database answered again", what)
                return result
            except Exception as exc:
                if not database_unavailable(exc):
                    log.error("could not record %s: %s; its lease runs out and reconciliation settles it",
                              what, _where(exc))
                    return None
                self.last_error = f"database unavailable: {type(exc).__name__}"
                if not complained:
                    log.error("could not record %s: the database is unavailable (%s); keeping the outcome and "
                              "trying again", what, type(exc).__name__)
                    complained = True
            if self.stopping.is_set():
                stop_deadline = stop_deadline or time.monotonic() + self.settings.lease_seconds
                if time.monotonic() > stop_deadline:
                    log.error("gave up recording %s while stopping: reconciliation settles it", what)
                    return None
            time.sleep(delay)
            delay = min(delay * 2, self.settings.worker_heartbeat_seconds)


def run_pass(session_factory, context: PlatformContext, worker: str, settings,
             now: datetime | None = None) -> PassResult:
    """One pass whose calls all finish before it returns (tests and one-off runs)."""
    return Runner(session_factory, context, worker, settings).run_pass(now)


# ---- the long-running process ------------------------------------------------------------------

class SqliteWorkerLock:
    """An exclusive lock beside the SQLite file: one worker per database file. The kernel drops it when
    the process dies, so a crashed worker never blocks its successor."""

    def __init__(self, database_path: str):
        self.path = database_path + ".worker.lock"
        self.fd: int | None = None

    def acquire(self, holder: str) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise WorkerRefused(
                f"Another worker ({holder}) is already publishing from this SQLite database; this one did not "
                f"start. On SQLite one worker does all the publishing: stop the other one first (lock file "
                f"{self.path}), or use PostgreSQL for several workers.") from None
        os.ftruncate(fd, 0)
        os.write(fd, holder.encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _check_schema(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    from ..migrate import alembic_config, current_revision

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = current_revision(engine)
    if current != head:
        raise WorkerRefused(f"The database is at schema revision {current or 'none'}, not {head}: run "
                            "`flask --app app desk upgrade-db` first. The worker did not start.")


def configure_logging(level: int = logging.INFO) -> None:
    """One line per event on standard error, which honcho and service managers collect."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Their routine lines (a schema check, a job run every tick) would drown the attempts.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class StopOnSignal:
    """What SIGTERM and SIGINT do: mark the worker as stopping, and shut its clock down from another thread.

    Not from the handler itself: the signal runs the handler on the main thread wherever it stands, which
    may be inside the scheduler handing a job to its threads, holding the pool's lock that shutting down
    needs; the handler would wait for its own thread for ever (seen when SIGTERM came right after SIGCONT,
    as the missed ticks were being handed out)."""

    def __init__(self, scheduler, stopping: threading.Event):
        self.scheduler, self.stopping = scheduler, stopping
        self.thread: threading.Thread | None = None

    def __call__(self, signum, _frame) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        log.info("%s received: finishing the calls under way, then stopping", signal.Signals(signum).name)
        self.thread = threading.Thread(target=self._shut_down, name="desk-stop", daemon=True)
        self.thread.start()

    def _shut_down(self) -> None:
        try:
            self.scheduler.remove_all_jobs()
            self.scheduler.shutdown(wait=False)
        except Exception as exc:  # not running (yet, or any more): the stop is under way all the same
            log.debug("scheduler not shut down: %s", type(exc).__name__)


class Passes:
    """Passes on demand, one at a time: a request during a pass makes one more pass after it, never a
    second pass alongside it, and no request is ever lost."""

    def __init__(self, run):
        self.run = run  # run(upkeep: bool)
        self._again = threading.Event()
        self._upkeep = False  # whether any request since the last pass asked for the upkeep too
        self._running = threading.Lock()

    def request(self, upkeep: bool = False) -> None:
        if upkeep:
            self._upkeep = True
        self._again.set()
        while self._again.is_set() and self._running.acquire(blocking=False):
            try:
                while self._again.is_set():
                    self._again.clear()
                    upkeep, self._upkeep = self._upkeep, False
                    self.run(upkeep)
            finally:
                self._running.release()

    def tick(self) -> None:
        self.request(upkeep=True)

    def wait_idle(self) -> None:
        with self._running:
            pass


def serve(settings, engine: Engine, session_factory) -> None:
    """Run until SIGTERM or SIGINT: a pass every `worker_tick_seconds`, one exactly when the next post is
    due, and one whenever a pool slot frees; return after a clean stop."""
    from apscheduler.executors.pool import ThreadPoolExecutor as SchedulerThreads
    from apscheduler.schedulers.blocking import BlockingScheduler

    _check_schema(engine)
    me = worker_id()
    lock = None
    if engine.dialect.name == "sqlite":
        if not engine.url.database or engine.url.database == ":memory:":
            raise WorkerRefused("The worker needs a database file or server, not an in-memory SQLite database.")
        lock = SqliteWorkerLock(os.path.abspath(engine.url.database))
        lock.acquire(me)
        log.info("SQLite: single worker (lock %s)", lock.path)
    stopping = threading.Event()
    scheduler = BlockingScheduler(timezone=UTC, executors={"default": SchedulerThreads(2)},
                                  job_defaults={"coalesce": True, "max_instances": 2, "misfire_grace_time": None})
    pool = ThreadPoolExecutor(settings.worker_pool_size, thread_name_prefix="desk-call")

    def soon(job_id: str, when: datetime | None = None) -> None:
        if stopping.is_set():
            return
        try:
            scheduler.add_job(passes.request, "date", run_date=when or datetime.now(UTC), id=job_id,
                              replace_existing=True)
        except Exception as exc:  # the scheduler is shutting down: the stop is under way anyway
            log.debug("no wake-up scheduled: %s", type(exc).__name__)

    renewals = Renewals(settings.lease_seconds, lease_rules.margin_seconds(settings.worker_heartbeat_seconds))
    runner = Runner(session_factory, PlatformContext(settings, session_factory), me, settings, executor=pool,
                    on_free=lambda: soon("slot-freed"), stopping=stopping, renewals=renewals)

    def one_pass(upkeep: bool) -> None:
        if stopping.is_set():
            return
        try:
            result = runner.run_pass(upkeep=upkeep)
            due = None
            # A pass that filled every free slot will be followed by one when a slot frees: asking for the
            # next due moment now would cost three queries per post in a busy minute, for nothing.
            if upkeep or result.claimed < result.free:
                with runner.db(), session_factory() as s:
                    if upkeep:
                        worker_registry.passed(s, me)
                    due = publishing.next_due_at(s)
            runner.last_error = None
        except Exception as exc:  # the next tick tries again: the database still holds everything
            runner.last_error = _where(exc)
            log.error("pass failed: %s; retrying next tick", _where(exc))
            return
        if due is not None:  # wake exactly then, not up to a tick late
            soon("exact-wake", due + timedelta(milliseconds=5))

    passes = Passes(one_pass)
    with session_factory() as s:
        worker_registry.register(s, me, settings.worker_pool_size)
    heartbeat = Heartbeat(session_factory, runner, settings, renewals)
    heartbeat.start()
    scheduler.add_job(passes.tick, "interval", seconds=settings.worker_tick_seconds, id="publish-pass",
                      next_run_time=datetime.now(UTC))

    stop = StopOnSignal(scheduler, stopping)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("worker %s started: %s calls at once, a pass every %s s, heartbeat every %s s, lease %s s, on %s",
             me, settings.worker_pool_size, settings.worker_tick_seconds, settings.worker_heartbeat_seconds,
             settings.lease_seconds, engine.url.render_as_string(hide_password=True))
    try:
        scheduler.start()
        passes.wait_idle()  # a pass under way hands its claims to the pool ...
        pool.shutdown(wait=True)  # ... whose calls finish and record their outcomes before the process goes
    finally:
        heartbeat.done.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            with session_factory() as s:
                worker_registry.stopped(s, me)
        except Exception as exc:
            log.error("could not record the stop: %s", _where(exc))
        if lock:
            lock.release()
    log.info("worker %s stopped", me)
