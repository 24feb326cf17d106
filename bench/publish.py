"""How fast do the workers publish, and how late? Real worker processes against a fake X, on PostgreSQL.

    .venv/bin/python bench/publish.py [--quick] [--scenarios throughput,ceiling,lateness,burst]
                                      [--workers 1,2,4] [--latencies 0,200]

Throughput: N worker processes (`flask --app app desk worker`, the desk's default settings unless
DESK_WORKER_* variables are set) drain M targets that all fall due at once, spread over 64 X channels,
against the fake X served in this process with 0 ms and 200 ms of added latency per request. The clock
starts when the targets are committed and stops at the last `published_at`, so it includes the wait
for a worker to notice them. The ceiling is a bare OAuth 1.0a-signed `requests.Session` posting the
same number of posts one after another to the same endpoint; at 200 ms it is also "one sequential
caller", which four workers must beat tenfold.

Lateness: 1,000 targets scheduled across one minute (`lateness`), or all in the same second (`burst`),
starting a few seconds after the workers are up; lateness is `published_at - scheduled_at`, and
`published_at` is set when the outcome is recorded, after the platform answered.

Every run gets a fresh copy of a scratch database (DESK_BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/desk_bench), dropped at the end. Prints figures only.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from publish_support import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    ROOT,
    BenchX,
    ScratchDatabase,
    cpu_seconds,
    cpu_used,
    database_backends,
    database_counters,
    desk_env,
    machine,
    make_engine,
    make_session_factory,
    now_utc,
    postgres_version,
    seconds,
    seed_targets,
    sequential_posts,
    spread,
    start_workers,
    wait_until_settled,
    worker_settings,
)

SCENARIOS = ("throughput", "ceiling", "pacing", "lateness", "burst")
PACING_PER_ACCOUNT = 4


@dataclass
class Run:
    """One run of the workers: what was asked, what came out."""

    label: str
    workers: int
    latency_ms: int
    targets: int
    accounts: int
    published: int = 0
    first_s: float = 0.0  # from due (or committed) to the first publication
    drain_s: float = 0.0  # from due to the last publication
    lateness: dict | None = None
    states: str = ""
    double_posts: int = 0
    errors: int = 0
    note: str = ""
    cpu: tuple[float, float] = (0.0, 0.0)  # seconds used by the worker processes, by their database backends
    connections: int = 0  # database connections the workers opened during the run
    transactions: int = 0  # and the transactions they ran

    @property
    def rate(self) -> float:
        return self.published / self.drain_s if self.drain_s > 0 else 0.0


def run_workers(db: ScratchDatabase, args, label: str, workers: int, latency_ms: int, schedule, accounts: int,
                timeout: float, log_dir: Path) -> Run:
    """Fresh database and fake, N workers up, targets seeded to `schedule(now)`, wait, read the figures."""
    url = db.fresh()
    fake = BenchX(latency_ms / 1000, args.accounts)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    pool = start_workers(workers, desk_env(url, fake), log_dir, f"{label}-{workers}w-{latency_ms}ms")
    run = Run(label, workers, latency_ms, 0, accounts)
    try:
        pool.wait_started()
        workers_cpu, database_cpu = cpu_seconds(pool.pids()), cpu_seconds(database_backends(sessions))
        counted = database_counters(sessions)
        times = schedule(now_utc())
        run.targets = len(times)
        committed = seed_targets(sessions, f"{label}{workers}w{latency_ms}", times, accounts)
        due_from = min((t for t in times if t is not None), default=committed)
        if due_from < committed:
            run.note = f"seeding ended {seconds(committed - due_from):.1f} s after the first due time"
            due_from = committed
        outcome = wait_until_settled(sessions, run.targets, timeout)
        run.cpu = (cpu_used(workers_cpu, cpu_seconds(pool.pids())),
                   cpu_used(database_cpu, cpu_seconds(database_backends(sessions))))
        run.connections, run.transactions = (b - a for a, b in zip(counted, database_counters(sessions)))
    finally:
        pool.stop()
        engine.dispose()
        fake.stop()
    published_at = [p for _, p in outcome.published]
    run.published = len(published_at)
    if published_at:
        run.first_s = seconds(min(published_at) - due_from)
        run.drain_s = seconds(max(published_at) - due_from)
        run.lateness = spread([seconds(p - (s or committed)) for s, p in outcome.published])
    run.states = ", ".join(f"{k} {v}" for k, v in sorted(outcome.states.items()))
    run.double_posts = sum(n - 1 for n in fake.posts_received().values() if n > 1)
    run.errors = len(pool.errors())
    if outcome.timed_out:
        run.note = (run.note + "; " if run.note else "") + f"not settled after {timeout:.0f} s"
    return run


def all_due_now(count: int):
    return lambda now: [None] * count


def scheduled(count: int, lead: float, window: float):
    """`count` due times evenly across `window` seconds, the first `lead` seconds from now."""
    def times(now):
        start = now + timedelta(seconds=lead)
        return [start + timedelta(seconds=window * i / count) for i in range(count)]
    return times


def ceiling(args, latency_ms: int, count: int) -> float:
    fake = BenchX(latency_ms / 1000, args.accounts)
    try:
        return count / sequential_posts(fake, count, f"ceiling{latency_ms}")
    finally:
        fake.stop()


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small runs, a smoke test of the benchmark itself")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--workers", default="1,2,4", help="worker counts for the throughput runs")
    parser.add_argument("--latencies", default="0,200", help="added platform latency, in ms")
    parser.add_argument("--targets", type=int, help="targets per throughput run (default 400, quick 100)")
    parser.add_argument("--lateness-targets", type=int, help="targets per lateness run (default 1000, quick 200)")
    parser.add_argument("--window", type=float, help="seconds the lateness run's due times span (60, quick 20)")
    parser.add_argument("--lateness-workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=1000,
                        help="X channels seeded; a run spreads its targets over at most this many")
    parser.add_argument("--pacing-accounts", type=int, default=64, help="accounts the pacing run shares")
    parser.add_argument("--lead", type=float, default=8.0, help="seconds from seeding to the first due time")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    args.workers, args.latencies = _ints(args.workers), _ints(args.latencies)
    args.targets = args.targets or (100 if args.quick else 400)
    args.lateness_targets = args.lateness_targets or (200 if args.quick else 1000)
    args.window = args.window or (20.0 if args.quick else 60.0)
    return args


def print_throughput(runs: list[Run], ceilings: dict[int, float]) -> None:
    print("\nThroughput: targets all due at once, spread round-robin over the accounts")
    print(f"{'run':>8} {'workers':>7} {'latency':>8} {'targets':>7} {'accounts':>8} {'published':>9} {'first s':>8} "
          f"{'drain s':>8} {'targets/s':>9} {'ceiling/s':>9} {'ratio':>6}")
    for r in runs:
        top = ceilings.get(r.latency_ms)
        ratio = f"{r.rate / top:6.2f}" if top else "     -"
        top_text = f"{top:9.1f}" if top else "        -"
        print(f"{r.label:>8} {r.workers:>7} {r.latency_ms:>6}ms {r.targets:>7} {r.accounts:>8} {r.published:>9} "
              f"{r.first_s:>8.2f} {r.drain_s:>8.2f} {r.rate:>9.1f} {top_text} {ratio}")
    for r in runs:
        if r.label == "pacing":
            print(f"pacing: {PACING_PER_ACCOUNT} targets per account, due at once; each account's calls are spaced "
                  f"as X's rate-limit headers ask (the fake says 99 of 100 calls left, reset in 15 minutes)")
    for latency, top in sorted(ceilings.items()):
        print(f"ceiling at {latency} ms: one requests.Session posting one after another, {top:.1f} posts/s")
    slow = max(ceilings) if ceilings else None
    best = max((r for r in runs if r.latency_ms == slow and r.label == "drain"), key=lambda r: r.workers,
               default=None)
    if slow and best and slow > 0:
        times = best.rate / ceilings[slow]
        print(f"{best.workers} workers at {slow} ms vs one sequential caller: {times:.1f}x "
              f"(target: at least 10x) {'MET' if times >= 10 else 'MISSED'}")


def print_lateness(runs: list[Run]) -> None:
    print("\nLateness: published_at - scheduled_at, per target")
    print(f"{'run':>9} {'workers':>7} {'latency':>8} {'targets':>7} {'accounts':>8} {'published':>9} {'median s':>8} "
          f"{'p99 s':>7} {'max s':>7}  p99 < 2 s")
    for r in runs:
        late = r.lateness or {"median": float("nan"), "p99": float("nan"), "max": float("nan")}
        verdict = "MET" if r.lateness and late["p99"] < 2 and r.published == r.targets else "MISSED"
        print(f"{r.label:>9} {r.workers:>7} {r.latency_ms:>6}ms {r.targets:>7} {r.accounts:>8} {r.published:>9} "
              f"{late['median']:>8.2f} {late['p99']:>7.2f} {late['max']:>7.2f}  {verdict}")


def print_checks(runs: list[Run]) -> None:
    print("\nChecks")
    for r in runs:
        per = 1000 / max(r.published, 1)
        line = (f"{r.label} {r.workers}w {r.latency_ms}ms: states {r.states or '-'}; posted twice {r.double_posts}; "
                f"error lines in worker logs {r.errors}; CPU per target: workers {r.cpu[0] * per:.1f} ms, "
                f"database {r.cpu[1] * per:.1f} ms (backends alive at the end); database transactions per "
                f"target {r.transactions / max(r.published, 1):.1f}; connections opened {r.connections}")
        print(line + (f"; {r.note}" if r.note else ""))


def main(argv=None) -> None:
    args = parse_args(argv)
    url = os.environ.get("DESK_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    db = ScratchDatabase(url)
    log_dir = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    print("Publishing benchmark: worker processes against a fake X on 127.0.0.1")
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    print(f"command     {' '.join([python, 'bench/publish.py'] + (argv or sys.argv[1:]))}")
    print(f"machine     {machine()}; PostgreSQL {postgres_version(url)} on the same machine")
    print(f"settings    {worker_settings(dict(os.environ))}")
    print(f"platform    fake X in this process, OAuth 1.0a signatures checked; up to {args.accounts} X accounts, "
          f"targets assigned round-robin")
    print(f"worker logs {log_dir}")
    print(f"load        {_load()} (other work on the machine slows every rate; CPU per target shows less of it)",
          flush=True)
    started = time.monotonic()
    throughput, lateness, ceilings = [], [], {}
    db.prepare(args.accounts, desk_env(db.url_of(db.template), None))
    try:
        if "ceiling" in args.scenarios:
            for latency in args.latencies:
                ceilings[latency] = ceiling(args, latency, args.targets)
                print(f"  ... ceiling at {latency} ms: {ceilings[latency]:.1f} posts/s", flush=True)
        if "throughput" in args.scenarios:
            for latency in args.latencies:
                for n in args.workers:
                    timeout = 60 + args.targets * (latency / 1000 + 0.05) * 1.5
                    throughput.append(run_workers(db, args, "drain", n, latency, all_due_now(args.targets),
                                                  min(args.accounts, args.targets), timeout, log_dir))
                    print(f"  ... {n} worker(s) at {latency} ms: {throughput[-1].rate:.1f} targets/s", flush=True)
        if "pacing" in args.scenarios:
            count = args.pacing_accounts * PACING_PER_ACCOUNT
            throughput.append(run_workers(db, args, "pacing", args.lateness_workers, 0, all_due_now(count),
                                          args.pacing_accounts, 300, log_dir))
            print(f"  ... pacing: {throughput[-1].rate:.1f} targets/s", flush=True)
        for name, window in (("lateness", args.window), ("burst", 0.0)):
            if name in args.scenarios:
                for latency in args.latencies:
                    timeout = window + args.lead + 120
                    lateness.append(run_workers(db, args, name, args.lateness_workers, latency,
                                                scheduled(args.lateness_targets, args.lead, window),
                                                min(args.accounts, args.lateness_targets), timeout, log_dir))
                    late = lateness[-1].lateness or {}
                    print(f"  ... {name} at {latency} ms: p99 {late.get('p99', float('nan')):.2f} s", flush=True)
    finally:
        db.drop()
    if throughput or ceilings:
        print_throughput(throughput, ceilings)
    if lateness:
        print_lateness(lateness)
    print_checks(throughput + lateness)
    print(f"\ntotal time {time.monotonic() - started:.0f} s; load at the end {_load()}")

if __name__ == "__main__":
    main()
