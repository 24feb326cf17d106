"""What the multi-process tests share: scratch PostgreSQL databases, a desk seeded with X channels on the
fake X, real worker processes, a TCP proxy that can play a database restart, and waiting on conditions.

Every worker here is a real `flask --app app desk worker` process: the tests kill them with SIGKILL, cut
their database connections and let them race, exactly as machines would. Nothing here sleeps for
correctness: every wait is on a condition, with a deadline that fails the test with what it waited for.
"""
from __future__ import annotations

import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from desk import crypto
from desk.db import make_engine, make_session_factory
from desk.domain import workflow as wf
from desk.models import Approval, AuditEvent, Post, PublishAttempt, Target
from desk.services import admin, media, posts
from desk.services.audit_trail import SystemActor
from desk.services.posts import PostInput, TargetInput

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DESK_TEST_DATABASE_URL")
NEEDS_PG = pytest.mark.skipif(not PG_URL, reason="multi-process tests run on PostgreSQL: set DESK_TEST_DATABASE_URL "
                              "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
OPERATOR = SystemActor("cli:process-test-setup")
PASSWORD = "correct horse battery"


def wait_for(check, what, timeout: float = 30.0, every: float = 0.05):
    """Return check()'s first truthy value; fail the test, naming `what` (text, or a function giving the
    text, so that it can say how things stood at the end), when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what() if callable(what) else what}")
        time.sleep(every)


# ---- scratch databases ----------------------------------------------------------------------------------

class ScratchDatabases:
    """One migrated template database per run, copied into a fresh database per test (a copy takes a
    fraction of a second; a migration takes seconds). Every database made here is dropped in `close()`."""

    def __init__(self, base_url: str):
        self.base = make_url(base_url)
        self.admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
        self.prefix = f"desk_proc_{os.getpid()}_{secrets.token_hex(3)}"
        self.made: list[str] = []
        self.template = self._create(f"{self.prefix}_template")
        try:
            migrate(self.url(self.template))
        except BaseException:
            self.close()
            raise

    def url(self, name: str, **query) -> str:
        return self.base.set(database=name).update_query_dict(query).render_as_string(hide_password=False)

    def _create(self, name: str, template: str | None = None) -> str:
        self.made.append(name)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        return name

    def fresh(self) -> str:
        return self._create(f"{self.prefix}_{len(self.made)}", template=self.template)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        with suppress(ValueError):
            self.made.remove(name)

    def close(self) -> None:
        for name in reversed(list(self.made)):
            self.drop(name)
        self.admin.dispose()


def migrate(url: str) -> None:
    """Migrate as an operator would: through the command, not the test's own engine."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "desk", "upgrade-db"], cwd=ROOT,
                          env={**os.environ, "DESK_DATABASE_URL": url, "DESK_ENV": "development"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def scratch_databases():
    if not PG_URL:
        pytest.skip("multi-process tests run on PostgreSQL: set DESK_TEST_DATABASE_URL")
    databases = ScratchDatabases(PG_URL)
    yield databases
    databases.close()


@pytest.fixture
def scratch_url(scratch_databases):
    name = scratch_databases.fresh()
    yield scratch_databases.url(name)
    scratch_databases.drop(name)


# ---- the desk, seeded ---------------------------------------------------------------------------------

class Desk:
    """A unit with its people and X channels connected to the fake X, in one scratch database."""

    def __init__(self, url: str, fake_x, x_server, media_dir: Path):
        self.url, self.fake, self.server, self.media_dir = url, fake_x, x_server, media_dir
        self.token_key = Fernet.generate_key().decode()
        self.cipher = crypto.cipher_from_env({"DESK_TOKEN_KEY": self.token_key})
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        with self.sessions() as s:
            unit = admin.create_unit(s, OPERATOR, "DPA", "Directorate of Public Affairs")
            unit.roles_grant_access = True
            s.commit()
            self.unit_id = unit.id
            self.author = admin.create_user(s, OPERATOR, "author@desk.test", "Pat Press", PASSWORD)
            self.approver = admin.create_user(s, OPERATOR, "approver@desk.test", "Sam Senior", PASSWORD)
            admin.add_membership(s, OPERATOR, self.author.id, unit.id, "author")
            admin.add_membership(s, OPERATOR, self.approver.id, unit.id, "approver")

    def env(self, **extra) -> dict:
        """What a worker process is given: the database, the token key, the fake X as X."""
        return {**os.environ, "DESK_DATABASE_URL": self.url, "DESK_ENV": "development",
                "DESK_TOKEN_KEY": self.token_key, "DESK_MEDIA_DIR": str(self.media_dir),
                "DESK_X_API_BASE": self.server.url, "DESK_X_WEB_BASE": self.server.url,
                "DESK_X_CONSUMER_KEY": self.fake.consumer_key, "DESK_X_CONSUMER_SECRET": self.fake.consumer_secret,
                "DESK_X_MEDIA_POLL_MAX_WAIT": "0.05",
                "OAUTHLIB_INSECURE_TRANSPORT": "1",  # the fake speaks plain HTTP on 127.0.0.1
                "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in extra.items()}}

    def x_channels(self, count: int) -> list[int]:
        """X channels, each holding its own OAuth 1.0a token the fake X knows, stored as connecting does."""
        ids = []
        with self.sessions() as s:
            for n in range(count):
                channel = admin.create_channel(s, OPERATOR, self.unit_id, "x", f"DPA on X {n + 1}")
                token, secret = f"{self.fake.account.id}-proc{channel.id}", secrets.token_hex(16)
                with self.fake.lock:
                    self.fake.access_tokens[token] = secret
                channel.credentials = self.cipher.encrypt_json({"mode": "oauth1", "oauth_token": token,
                                                                "oauth_token_secret": secret,
                                                                "user_id": self.fake.account.id})
                channel.remote_account_id = self.fake.account.id
                channel.remote_handle = "@" + self.fake.account.username
                s.commit()
                ids.append(channel.id)
        return ids

    def stored_media(self, filename: str, data: bytes) -> int:
        with self.sessions() as s:
            return media.store_upload(s, self.author, self.unit_id, filename, data, str(self.media_dir)).id

    def approved_post(self, body: str, channel_id: int, media_ids: list[int] | None = None) -> tuple[int, int]:
        """A post drafted, submitted and approved through the use cases; (post id, target id)."""
        with self.sessions() as s:
            author, approver = s.get(type(self.author), self.author.id), s.get(type(self.approver), self.approver.id)
            data = PostInput(body=body, targets=[TargetInput(channel_id, media_ids=media_ids)])
            post = posts.save_draft(s, author, data).post
            posts.submit(s, author, post.id)
            posts.approve(s, approver, post.id)
            return post.id, post.targets[0].id

    def bulk_approved(self, bodies_by_channel: list[tuple[int, str]], scheduled_at: datetime) -> None:
        """Many approved posts at once, written as rows in the shape `posts.approve` leaves them (approved
        post, its approval bound to the content hash, a queued target), without the audit events of
        drafting and approving: through the use cases 2,000 posts take minutes, and those events are not
        what the race is about. The chain stays whole: the workers' events follow the setup's."""
        rows = [{"author_id": self.author.id, "body": body, "status": wf.APPROVED, "version": 1,
                 "content_hash": wf.content_hash(body, None, [wf.TargetSpec(channel_id, None, scheduled_at)]),
                 "created_at": scheduled_at, "updated_at": scheduled_at, "submitted_at": scheduled_at}
                for channel_id, body in bodies_by_channel]
        with self.sessions() as s:
            post_ids = s.scalars(insert(Post).returning(Post.id, sort_by_parameter_order=True), rows).all()
            s.execute(insert(Target), [{"post_id": post_id, "channel_id": channel_id, "scheduled_at": scheduled_at,
                                        "status": wf.T_QUEUED, "attempts": 0, "extra": "{}"}
                                       for post_id, (channel_id, _) in zip(post_ids, bodies_by_channel)])
            s.execute(insert(Approval), [{"post_id": post_id, "approver_id": self.approver.id, "decision": "approve",
                                          "content_hash": row["content_hash"], "scope": str(channel_id),
                                          "decided_at": scheduled_at}
                                         for post_id, row, (channel_id, _) in zip(post_ids, rows, bodies_by_channel)])
            s.commit()

    # ---- what the tests look at -----------------------------------------------------------------------

    def target(self, target_id: int) -> Target:
        with self.sessions() as s:
            return s.get(Target, target_id)

    def status(self, target_id: int) -> str:
        return self.target(target_id).status

    def count_by_status(self) -> dict[str, int]:
        with self.sessions() as s:
            return dict(s.execute(select(Target.status, func.count()).group_by(Target.status)).all())

    def story(self, target_id: int) -> list[str]:
        """The audit trail's target events for one target, in order."""
        with self.sessions() as s:
            return list(s.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "target",
                                                                   AuditEvent.object_id == str(target_id))
                                  .order_by(AuditEvent.seq)))

    def attempts(self, target_id: int | None = None) -> list[PublishAttempt]:
        with self.sessions() as s:
            stmt = select(PublishAttempt).order_by(PublishAttempt.id)
            if target_id is not None:
                stmt = stmt.where(PublishAttempt.target_id == target_id)
            return list(s.scalars(stmt))

    def close(self) -> None:
        self.engine.dispose()


def tweets_with(fake, needle: str) -> list[dict]:
    with fake.lock:
        return [t for t in fake.tweets.values() if needle in t["text"] and not t["deleted"]]


# ---- worker processes -------------------------------------------------------------------------------

class WorkerProcess:
    """One `desk worker` process with its log in a file."""

    def __init__(self, env: dict, log: Path):
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "desk", "worker"], cwd=ROOT,
                                        env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_started(self, timeout: float = 30.0) -> WorkerProcess:
        wait_for(lambda: " started" in self.log or not self.running(), f"worker {self.pid} to start", timeout)
        assert self.running(), f"the worker stopped at start:\n{self.log}"
        return self

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is committed, as when a machine dies."""
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: every thread frozen where it stands, sockets and claims held, as in a paused machine."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.running():
            os.kill(self.pid, signal.SIGCONT)

    def stop(self, timeout: float = 20.0) -> int:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                pytest.fail(f"worker {self.pid} did not stop within {timeout} s of SIGTERM:\n{self.log[-3000:]}")
        return self.process.returncode

    def close(self) -> None:
        if self.running():
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


class Workers:
    """Starts worker processes and, whatever happens in the test, kills every one of them at the end."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.started: list[WorkerProcess] = []

    def start(self, env: dict) -> WorkerProcess:
        worker = WorkerProcess(env, self.tmp_path / f"worker-{len(self.started) + 1}.log")
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"---- worker {w.pid} ----\n{w.log[-4000:]}" for w in self.started)

    def close(self) -> None:
        for worker in self.started:
            worker.close()


@pytest.fixture
def workers(tmp_path):
    running = Workers(tmp_path)
    yield running
    running.close()


# ---- a database restart, as the worker sees it ----------------------------------------------------------

class RestartableProxy:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL. `restart()` plays what a database restart looks
    like to a client: every open connection is cut, and new ones are refused until `resume()`; the
    test's own connections, which do not go through the proxy, are untouched."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        self.accepted = 0
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closed = False
        self.resume()

    def resume(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="db-proxy-accept", daemon=True).start()

    def restart(self) -> None:
        """Cut every connection and refuse new ones (the listening port is closed: connection refused)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            self._cut(pair)

    def close(self) -> None:
        self._closed = True
        self.restart()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by restart()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(pair,), name="db-proxy-pump", daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, server = pair
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, server)
        selector.register(server, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select(timeout=1.0):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return  # cut by restart(), or one side went away
        finally:
            selector.close()
            with self._lock:
                self._pairs.discard(pair)
            self._cut(pair)

    @staticmethod
    def _cut(pair) -> None:
        for sock in pair:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()


def terminate_backends(url: str, application_name: str) -> int:
    """pg_terminate_backend for every session a named client holds: the server's side of a restart."""
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name "
                "AND pid <> pg_backend_pid()"), {"name": application_name}).all())
    finally:
        engine.dispose()


def upstream_of(url: str) -> tuple[str, int]:
    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def through(url: str, port: int, application_name: str) -> str:
    """The same database reached through the proxy's port, with a name its sessions can be found by."""
    return (make_url(url).set(host="127.0.0.1", port=port)
            .update_query_dict({"application_name": application_name}).render_as_string(hide_password=False))


class AmpleRateBudget:
    """The fake X, except that every answer says the account has far more calls left in its window than
    a test makes. The fake's own headers (99 left in 15 minutes) rightly make the desk space one
    account's posts 9 s apart; a race of 2,000 posts is about the workers, not about X's budget."""

    def __init__(self, app, remaining: int = 1_000_000):
        self.app, self.remaining = app, remaining

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            kept = [(k, v) for k, v in headers if not k.lower().startswith("x-rate-limit-")]
            budget = [("x-rate-limit-limit", str(self.remaining)), ("x-rate-limit-remaining", str(self.remaining)),
                      ("x-rate-limit-reset", str(int(time.time()) + 900))]
            return start_response(status, kept + budget, exc_info)

        return self.app(environ, start)


@contextmanager
def desk_on_fake_x(url: str, media_dir: Path, wrap=None):
    """The fake X on its server (seen through `wrap` if given), and a desk in `url` with its people."""
    from tests.fakes.fake_x import FakeX
    from tests.fakes.server import FakeServer

    fake = FakeX()
    with FakeServer(wrap(fake) if wrap else fake) as server:
        desk = Desk(url, fake, server, media_dir)
        try:
            yield desk
        finally:
            desk.close()


@pytest.fixture
def x_desk(scratch_url, tmp_path):
    """A desk in a fresh scratch database, ready for channels on the fake X."""
    with desk_on_fake_x(scratch_url, tmp_path / "media") as desk:
        yield desk


# What every worker in these tests is told, unless a test says otherwise: a short lease kept alive by a
# heartbeat, so that a dead worker's claims are found within seconds, and a pass every second.
QUICK = {"DESK_WORKER_TICK_SECONDS": 1, "DESK_LEASE_SECONDS": 3, "DESK_WORKER_HEARTBEAT_SECONDS": 1,
         "DESK_WORKER_POOL_SIZE": 4, "DESK_RETRY_BASE_SECONDS": 1}
