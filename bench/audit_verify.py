"""What the keyed chain costs: verify's speed over a large trail with and without DESK_AUDIT_KEY, and record()'s.

    .venv/bin/python bench/audit_verify.py [--rows 200000] [--database-url postgresql+psycopg://...]

Fills a fresh database (SQLite in a temporary folder, or the PostgreSQL database given, which is EMPTIED
first) with a chain of rows made by the domain's own functions, half of them keyed, then times
`audit_trail.verify` without the key (the plain chain) and with it (the chain and every HMAC), then 2,000
calls of `audit_trail.record` on the keyed trail, and the HMAC alone. Prints figures only.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from desk.db import make_engine, make_session_factory  # noqa: E402
from desk.domain import audit, audit_keys  # noqa: E402
from desk.migrate import upgrade  # noqa: E402
from desk.models import AuditEvent  # noqa: E402
from desk.services import audit_trail  # noqa: E402
from desk.services.audit_trail import SystemActor  # noqa: E402

KEY = audit_keys.key_bytes("bench-" * 8)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fill(engine, rows: int) -> None:
    """`rows` rows; the first half unkeyed, as on a desk that set its key half way through its life."""
    prev, batch = audit.GENESIS, []
    with engine.begin() as conn:
        for seq in range(1, rows + 1):
            row = {"seq": seq, "prev_hash": prev, "actor_id": seq % 50, "actor": f"person{seq % 50}@force.example",
                   "at": audit.canonical_time(T0 + timedelta(seconds=seq)), "action": "post.approved",
                   "object_type": "post", "object_id": str(seq), "unit_id": seq % 7, "channel_id": seq % 300,
                   "post_id": seq, "details": audit.canonical_details({"comment": "fine", "channels": [1, 2]})}
            prev = audit.row_hash(row)
            batch.append({**row, "at": T0 + timedelta(seconds=seq), "hash": prev,
                          "mac": audit_keys.row_mac(KEY, prev) if seq > rows // 2 else None})
            if len(batch) == 5000:
                conn.execute(insert(AuditEvent), batch)
                batch = []
        if batch:
            conn.execute(insert(AuditEvent), batch)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", help="a PostgreSQL database to EMPTY and use (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(args.database_url or f"sqlite:///{folder}/bench.sqlite")
        if args.database_url:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        fill(engine, args.rows)
        print(f"{engine.dialect.name}, {args.rows:,} rows (the second half keyed)")
        for label, key in (("without the key (chain only)", None), ("with the key (chain and HMACs)", KEY)):
            with make_session_factory(engine, audit_key=key)() as s:
                seconds, report = timed(lambda s=s: audit_trail.verify(s))
            assert report.ok, report.problem
            print(f"  verify {label}: {seconds:.2f} s, {args.rows / seconds:,.0f} rows/s")
        with make_session_factory(engine, audit_key=KEY)() as s:
            seconds, _ = timed(lambda s=s: [audit_trail.record(s, SystemActor("bench"), "bench.row", "bench", i)
                                            for i in range(2000)] and s.commit())
        print(f"  record() on the keyed trail: {seconds / 2000 * 1e3:.3f} ms a row")
        digest = audit.GENESIS
        per_row = min(timeit.repeat(lambda: audit_keys.row_mac(KEY, digest), number=100_000, repeat=3)) / 100_000
        print(f"  of which the HMAC: {per_row * 1e6:.1f} µs a row")
        engine.dispose()


if __name__ == "__main__":
    main()
