"""The publishing worker: APScheduler is only its clock, the database is the truth.

One interval job asks the database what is due, claims it (committed before any platform is called),
calls each target's adapter and records what happened through the publishing use cases. A restart loses
nothing: what was claimed by a worker that died becomes `unknown` when its lease runs out and is
reconciled against the platform before anything is sent again.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from .platforms import PlatformContext, PlatformError, publisher_for
from .platforms.base import TRANSIENT
from .services import housekeeping, publishing

log = logging.getLogger("desk.worker")


class WorkerRefused(RuntimeError):
    """The worker cannot start; the message says why and what to do."""


@dataclass
class PassResult:
    expired: int = 0
    held: int = 0
    released: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)  # target id -> state after its attempt
    reconciled: dict[int, str] = field(default_factory=dict)  # target id -> state after reconciling


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _where(exc: BaseException) -> str:
    """Where an unexpected error arose, without its message: messages can carry URLs with tokens."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {os.path.basename(last.filename)}:{last.lineno}"


def _publish(session_factory, context, worker, settings, claim, now) -> str:
    """One attempt on one claimed target; whatever goes wrong is recorded, never raised."""
    started = time.monotonic()
    error = ref = None
    try:
        ref = publisher_for(claim.channel, context).publish(claim.request)
    except PlatformError as exc:
        error = exc
    except Exception as exc:  # an adapter bug must not stop the other targets
        log.error("unexpected error publishing target=%s: %s", claim.target_id, _where(exc))
        error = PlatformError(TRANSIENT, "The desk met an unexpected error while sending this. It will try "
                              "again by itself; if it keeps failing, tell the desk's administrator.",
                              code="unexpected")
    duration_ms = round((time.monotonic() - started) * 1000)
    with session_factory() as s:
        if error is None:
            publishing.record_success(s, claim, worker, ref, now=now)
            outcome = "published"
        else:
            outcome = publishing.record_failure(s, claim, worker, error, max_attempts=settings.max_attempts,
                                                retry_base_seconds=settings.retry_base_seconds, now=now)
    log.info("attempt target=%s post=%s channel=%s platform=%s attempt=%s outcome=%s%s duration_ms=%s",
             claim.target_id, claim.post_id, claim.channel.id, claim.channel.platform, claim.attempt_no, outcome,
             f" error_class={error.error_class} code={error.code}" if error else "", duration_ms)
    return outcome


def _reconcile(session_factory, context, worker, settings, now) -> dict[int, str]:
    """Ask the platform about each target whose sending was interrupted, then settle it."""
    with session_factory() as s:
        pending = [(t.id, t.channel, publishing.request_for(t))
                   for t in publishing.unknown_targets(s, limit=settings.worker_batch_size)]
    settled = {}
    for target_id, channel, request in pending:
        try:
            found = publisher_for(channel, context).find_published(request)
        except PlatformError as exc:
            log.warning("reconcile target=%s channel=%s platform=%s outcome=unchecked error_class=%s code=%s",
                        target_id, channel.id, channel.platform, exc.error_class, exc.code)
            continue  # still unknown: asked again next pass, never sent blindly
        except Exception as exc:
            log.error("unexpected error reconciling target=%s: %s", target_id, _where(exc))
            continue
        with session_factory() as s:
            settled[target_id] = publishing.settle_unknown(s, target_id, worker, found, now=now)
        log.info("reconcile target=%s channel=%s platform=%s outcome=%s", target_id, channel.id, channel.platform,
                 settled[target_id])
    return settled


def run_pass(session_factory, context: PlatformContext, worker: str, settings,
             now: datetime | None = None) -> PassResult:
    """One pass: expire dead leases, hold and release, claim what is due, publish it, reconcile."""
    result = PassResult()
    housekeeping.run(session_factory, worker, now)  # grants that expire, event feeds that end
    with session_factory() as s:
        result.expired = publishing.expire_leases(s, worker, now=now)
        result.held, result.released = publishing.hold_and_release(s, worker, now=now)
        claims = publishing.claim_due(s, worker, now=now, limit=settings.worker_batch_size,
                                      lease_seconds=settings.lease_seconds)
    for claim in claims:
        try:
            result.outcomes[claim.target_id] = _publish(session_factory, context, worker, settings, claim, now)
        except Exception as exc:
            # Recording failed (the database went away?): the lease runs out and reconciliation settles it.
            log.error("could not record the attempt on target=%s: %s", claim.target_id, _where(exc))
    result.reconciled = _reconcile(session_factory, context, worker, settings, now)
    return result


# ---- the long-running process ------------------------------------------------------------------

class SqliteWorkerLock:
    """An exclusive lock beside the SQLite file: one worker per database file. The kernel drops it when
    the process dies, so a crashed worker never blocks its successor."""

    def __init__(self, database_path: str):
        self.path = database_path + ".worker.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
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
        os.write(fd, worker_id().encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _check_schema(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config, current_revision

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


def serve(settings, engine: Engine, session_factory) -> None:
    """Run passes every `worker_tick_seconds` until SIGTERM or SIGINT; return after a clean stop."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    _check_schema(engine)
    me = worker_id()
    lock = None
    if engine.dialect.name == "sqlite":
        if not engine.url.database or engine.url.database == ":memory:":
            raise WorkerRefused("The worker needs a database file or server, not an in-memory SQLite database.")
        lock = SqliteWorkerLock(os.path.abspath(engine.url.database))
        lock.acquire()
        log.info("SQLite: single worker (lock %s)", lock.path)
    context = PlatformContext(settings, session_factory)
    in_pass = threading.Lock()
    stopping = threading.Event()

    def tick() -> None:
        with in_pass:
            if stopping.is_set():
                return
            try:
                run_pass(session_factory, context, me, settings)
            except Exception as exc:  # the next tick tries again: the database still holds everything
                log.error("pass failed: %s; retrying next tick", _where(exc))

    scheduler = BlockingScheduler(timezone=timezone.utc, executors={"default": ThreadPoolExecutor(1)},
                                  job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(tick, "interval", seconds=settings.worker_tick_seconds, id="publish-pass",
                      next_run_time=datetime.now(timezone.utc))

    def stop(signum, _frame) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("%s received: finishing the current pass, then stopping", signal.Signals(signum).name)
        scheduler.remove_all_jobs()
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("worker %s started: a pass every %s s on %s", me, settings.worker_tick_seconds,
             engine.url.render_as_string(hide_password=True))
    try:
        scheduler.start()
        with in_pass:  # let a pass in flight record its outcomes before the process goes
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if lock:
            lock.release()
    log.info("worker %s stopped", me)
