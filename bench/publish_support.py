"""What bench/publish.py runs on: a scratch PostgreSQL database, a fake X with latency, worker processes,
seeded targets, and the figures read back from the database.

Posts and targets are seeded by direct inserts in the shape the use cases leave them after approval (an
approved post, its approval, one queued target), without their audit events: seeding 1,000 posts through
save_draft/submit/approve would take longer than the runs it sets up, and the worker reads none of those
events. The unit, the author and the channels are made through the admin use cases, once, in a template
database that each run copies.
"""
from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desk import crypto  # noqa: E402
from desk.db import make_engine, make_session_factory  # noqa: E402
from desk.domain import workflow as wf  # noqa: E402
from desk.models import Approval, Channel, Post, Target  # noqa: E402
from desk.services import admin  # noqa: E402
from desk.services.audit_trail import SystemActor  # noqa: E402
from tests.fakes.fake_x import FakeX  # noqa: E402
from tests.fakes.server import FakeServer  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/desk_bench"
SETUP = SystemActor("bench:setup")
FLASK = [sys.executable, "-m", "flask", "--app", "app", "desk"]
# Fixed, so that a template seeded once carries credentials every fresh fake X accepts.
TOKEN_KEY = "YmVuY2gtb25seS10b2tlbi1rZXktMzItYnl0ZXMhISE="
SECRET_KEY = "bench-only-not-secret"
TERMINAL = (wf.T_PUBLISHED, wf.T_FAILED)

# Words a press office posts every day, so that the screening each claim runs costs what it costs in life.
ROADS = ("A40", "M25", "A406", "M4", "A13", "A12", "A38", "B1234")
PLACES = ("Hanger Lane", "Acton", "Stratford", "Croydon town centre", "Wembley Park", "Hammersmith", "Bow")


def body_for(run: str, i: int) -> str:
    """A distinct, clean traffic update: X refuses identical text from one account."""
    road, place = ROADS[i % len(ROADS)], PLACES[(i // len(ROADS)) % len(PLACES)]
    return (f"Traffic update {run}-{i}: the {road} is closed near {place} after a collision. Please avoid the "
            f"area and allow extra time. Updates to follow.")


# ---- the fake platform --------------------------------------------------------------------------

class Latency:
    """Every request waits `seconds` before the fake answers, as a far platform's round trip would."""

    def __init__(self, app, seconds: float):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        if self.seconds:
            time.sleep(self.seconds)
        return self.app(environ, start_response)


def channel_credentials(i: int, account_id: str) -> dict:
    return {"mode": "oauth1", "oauth_token": f"{account_id}-bench{i:04d}",
            "oauth_token_secret": f"bench-token-secret-{i:04d}", "user_id": account_id, "screen_name": "DeskBench"}


class BenchX:
    """A fresh fake X on its own port that knows the template's channel tokens."""

    def __init__(self, latency: float, channels: int):
        self.fake = FakeX()
        for i in range(channels):
            creds = channel_credentials(i, self.fake.account.id)
            self.fake.access_tokens[creds["oauth_token"]] = creds["oauth_token_secret"]
        self.server = FakeServer(Latency(self.fake, latency)).start()
        self.latency = latency

    @property
    def url(self) -> str:
        return self.server.url

    def env(self) -> dict[str, str]:
        return {"DESK_X_API_BASE": self.url, "DESK_X_CONSUMER_KEY": self.fake.consumer_key,
                "DESK_X_CONSUMER_SECRET": self.fake.consumer_secret, "DESK_X_AUTH": "oauth1"}

    def posts_received(self) -> Counter:
        """How many times each text was posted: more than once would be a double publication."""
        texts = Counter()
        for r in self.server.received("POST", "/2/tweets"):
            texts[(r.json or {}).get("text", "")] += 1
        return texts

    def stop(self) -> None:
        self.server.stop()


# ---- the scratch database -------------------------------------------------------------------------

class ScratchDatabase:
    """`<name>_template` is migrated and given a unit, an author and the channels once; each run gets a
    fresh copy of it as `<name>` (CREATE DATABASE ... TEMPLATE), so no run sees another's rows or bloat."""

    def __init__(self, url: str):
        self.url: URL = make_url(url)
        if not self.url.drivername.startswith("postgresql"):
            sys.exit("The publishing benchmark needs PostgreSQL (several workers share one database): set "
                     "DESK_BENCH_DATABASE_URL to a postgresql+psycopg:// URL.")
        self.name = self.url.database
        self.template = f"{self.name}_template"
        self._admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def _drop(self, database: str) -> None:
        with self._admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    def _create(self, database: str, template: str | None = None) -> None:
        with self._admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else "")))

    def prepare(self, channels: int, env: dict[str, str]) -> None:
        self._drop(self.name)
        self._drop(self.template)
        self._create(self.template)
        done = subprocess.run(FLASK + ["upgrade-db"], cwd=ROOT, capture_output=True, text=True,
                              env={**env, "DESK_DATABASE_URL": self.url_of(self.template)})
        if done.returncode != 0:
            sys.exit(f"Migrating the scratch database failed:\n{done.stderr}")
        engine = make_engine(self.url_of(self.template))
        try:
            seed_channels(make_session_factory(engine), channels)
        finally:
            engine.dispose()

    def fresh(self) -> str:
        """A new copy of the template; returns its URL."""
        self._drop(self.name)
        self._create(self.name, self.template)
        return self.url_of(self.name)

    def drop(self) -> None:
        self._drop(self.name)
        self._drop(self.template)
        self._admin.dispose()


def seed_channels(sessions, channels: int) -> None:
    account_id = FakeX().account.id
    crypto.configure({"DESK_TOKEN_KEY": TOKEN_KEY})
    with sessions() as s:
        unit = admin.create_unit(s, SETUP, "BENCH", "Benchmark unit")
        unit.roles_grant_access = True
        s.commit()
        admin.create_user(s, SETUP, "author@bench.test", "Bea Bench", "bench bench bench bench")
        admin.create_user(s, SETUP, "approver@bench.test", "Abe Approver", "bench bench bench bench")
        for i in range(channels):
            channel = admin.create_channel(s, SETUP, unit.id, "x", f"Bench X {i:03d}")
            channel.credentials = crypto.encrypt_json(channel_credentials(i, account_id))
            channel.remote_account_id, channel.remote_name = account_id, "Desk Bench"
            channel.remote_handle = "@DeskBench"
        s.commit()


def seed_targets(sessions, run: str, schedule: list[datetime | None], accounts: int) -> datetime:
    """One approved post with one queued target per entry of `schedule` (None: due at once), spread
    round-robin over the first `accounts` channels, in one transaction; returns when it committed."""
    from desk.models import User

    with sessions() as s:
        channel_ids = s.scalars(select(Channel.id).where(Channel.platform == "x").order_by(Channel.id)
                                .limit(accounts)).all()
        author_id = s.scalar(select(User.id).where(User.email == "author@bench.test"))
        approver_id = s.scalar(select(User.id).where(User.email == "approver@bench.test"))
        now = datetime.now(UTC)
        for i, when in enumerate(schedule):
            channel_id = channel_ids[i % len(channel_ids)]
            body = body_for(run, i)
            digest = wf.content_hash(body, None, [wf.TargetSpec(channel_id, None, when, "{}", ())])
            post = Post(author_id=author_id, body=body, status=wf.APPROVED, version=1, content_hash=digest,
                        created_at=now, updated_at=now, submitted_at=now)
            post.targets = [Target(channel_id=channel_id, scheduled_at=when, status=wf.T_QUEUED, attempts=0,
                                   extra="{}")]
            post.approvals = [Approval(approver_id=approver_id, decision="approve", content_hash=digest,
                                       scope=str(channel_id), decided_at=now)]
            s.add(post)
        s.commit()
    return datetime.now(UTC)


# ---- the workers ----------------------------------------------------------------------------------

def desk_env(database_url: str, fake: BenchX | None) -> dict[str, str]:
    """The workers' environment: the caller's (so DESK_WORKER_* settings pass through), plus the bench's."""
    env = {**os.environ, "DESK_DATABASE_URL": database_url, "DESK_ENV": "development",
           "DESK_SECRET_KEY": SECRET_KEY, "DESK_TOKEN_KEY": TOKEN_KEY, "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    if fake is not None:
        env.update(fake.env())
    return env


@dataclass
class Workers:
    procs: list[subprocess.Popen]
    logs: list[Path]

    def wait_started(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for proc, log in zip(self.procs, self.logs):
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker stopped at start:\n{log.read_text()[-3000:]}")
            if all(re.search(r"worker \S+ started", log.read_text()) for log in self.logs):
                return
            time.sleep(0.1)
        raise RuntimeError("the workers did not start in time")

    def stop(self) -> list[int]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes

    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs if proc.poll() is None]

    def errors(self) -> list[str]:
        """Error lines the workers logged (an attempt that failed, a pass that failed)."""
        found = []
        for log in self.logs:
            found += [line for line in log.read_text().splitlines() if " ERROR " in line or "Traceback" in line]
        return found


def start_workers(count: int, env: dict[str, str], log_dir: Path, label: str) -> Workers:
    procs, logs = [], []
    for n in range(count):
        log = log_dir / f"{label}-worker{n + 1}.log"
        procs.append(subprocess.Popen(FLASK + ["worker"], cwd=ROOT, env=env, stdout=log.open("w"),
                                      stderr=subprocess.STDOUT))
        logs.append(log)
    return Workers(procs, logs)


# ---- reading the outcome back -----------------------------------------------------------------------

@dataclass
class Outcome:
    states: Counter
    published: list[tuple[datetime | None, datetime]] = field(default_factory=list)  # (scheduled_at, published_at)
    timed_out: bool = False


def wait_until_settled(sessions, expected: int, timeout: float) -> Outcome:
    """Poll until every target is published or failed (or the time is up)."""
    deadline = time.monotonic() + timeout
    timed_out = True
    while time.monotonic() < deadline:
        with sessions() as s:
            done = s.scalar(select(func.count(Target.id)).where(Target.status.in_(TERMINAL)))
        if done >= expected:
            timed_out = False
            break
        time.sleep(0.2)
    with sessions() as s:
        states = Counter(dict(s.execute(select(Target.status, func.count(Target.id)).group_by(Target.status)).all()))
        published = s.execute(select(Target.scheduled_at, Target.published_at)
                              .where(Target.status == wf.T_PUBLISHED)).all()
    return Outcome(states, [tuple(row) for row in published], timed_out)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system CPU seconds each process has used so far (Linux /proc): a cost per target that does
    not depend on what else the machine is running, unlike the rates."""
    tick, used = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between the two readings (a process that appeared meanwhile counts in full)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def database_backends(sessions) -> list[int]:
    """The server processes serving the workers' connections to the scratch database."""
    with sessions() as s:
        return list(s.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND pid <> pg_backend_pid()")))


def database_counters(sessions) -> tuple[int, int]:
    """Connections made to the scratch database so far, and transactions run in it (PostgreSQL 14+)."""
    with sessions() as s:
        row = s.execute(text("SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database "
                             "WHERE datname = current_database()")).one()
    return int(row[0] or 0), int(row[1] or 0)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the value at or below which p % of them lie."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p99": percentile(values, 99), "max": max(values)}


# ---- the ceiling: a bare requests.Session loop --------------------------------------------------------

def sequential_posts(fake: BenchX, count: int, run: str) -> float:
    """Seconds a single OAuth 1.0a-signed requests.Session takes to post `count` tweets one after another."""
    import requests
    from requests_oauthlib import OAuth1

    creds = channel_credentials(0, fake.fake.account.id)
    with requests.Session() as session:
        session.auth = OAuth1(fake.fake.consumer_key, fake.fake.consumer_secret, creds["oauth_token"],
                              creds["oauth_token_secret"])
        started = time.perf_counter()
        for i in range(count):
            response = session.post(fake.url + "/2/tweets", json={"text": body_for(run, i)}, timeout=(5, 30))
            if response.status_code != 201:
                raise RuntimeError(f"the fake refused post {i}: {response.status_code} {response.text[:200]}")
        return time.perf_counter() - started


def machine() -> str:
    import platform

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cores} cores, {platform.machine()}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def postgres_version(url: str) -> str:
    engine = create_engine(make_url(url).set(database="postgres"))
    try:
        with engine.connect() as c:
            return c.scalar(text("SHOW server_version"))
    finally:
        engine.dispose()


def worker_settings(env: dict[str, str]) -> str:
    """The worker settings in effect (what DESK_* variables say, else the desk's defaults)."""
    from desk.config import settings_from_env

    settings = settings_from_env(str(ROOT / "instance"), env)
    shown = {k: v for k, v in vars(settings).items()
             if k.startswith("worker_") or k in ("lease_seconds", "max_attempts")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def now_utc() -> datetime:
    return datetime.now(UTC)


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()

