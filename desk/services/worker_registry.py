"""Workers as they report themselves: a row per process, kept alive by its heartbeat.

The heartbeat also renews the lease of each target whose platform call is in flight in that process, so a
slow upload by a live worker is never taken over, while the leases of a dead worker simply run out.
Each function is one short transaction of its own.
"""
from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..models import Target, Worker


def new_worker_id() -> str:
    """host:pid:nonce; the nonce tells apart two lives of one pid (a container restarted with pid 1)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


def register(session: Session, worker_id: str, pool_size: int, now: datetime | None = None) -> Worker:
    now = now or utcnow()
    host, pid = _host_and_pid(worker_id)
    row = Worker(id=worker_id, host=host, pid=pid, pool_size=pool_size, started_at=now, heartbeat_at=now,
                 in_flight=0)
    session.add(row)
    session.commit()
    return row


def _host_and_pid(worker_id: str) -> tuple[str, int]:
    host, _, rest = worker_id.partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else 0


def beat(session: Session, worker_id: str, in_flight: Collection[int], *, lease_seconds: int,
         pool_size: int = 1, last_error: str | None = None, now: datetime | None = None) -> int:
    """Say we are alive and renew the leases of the targets we are sending; returns how many were renewed.

    Only targets still ours and still sending are renewed: one whose lease ran out while the database
    was away belongs to reconciliation now, and a heartbeat must not pull it back. A row locked by another
    transaction is passed by (SKIP LOCKED): it is our own outcome being recorded, which may wait its turn
    for the audit chain, and the beat must not wait behind it while the other leases run out.
    """
    now = now or utcnow()
    renewed = 0
    if in_flight:
        ours = (select(Target.id)
                .where(Target.id.in_(sorted(in_flight)), Target.claimed_by == worker_id, Target.status == wf.T_SENDING)
                .with_for_update(skip_locked=True))
        renewed = session.execute(
            update(Target).where(Target.id.in_(ours))
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)).rowcount
    found = session.execute(
        update(Worker).where(Worker.id == worker_id)
        .values(heartbeat_at=now, in_flight=len(in_flight), last_error=last_error, stopped_at=None)
        .execution_options(synchronize_session=False)).rowcount
    if not found:  # someone tidied the table while we were alive: say so again
        host, pid = _host_and_pid(worker_id)
        session.add(Worker(id=worker_id, host=host, pid=pid, pool_size=pool_size, started_at=now,
                           heartbeat_at=now, in_flight=len(in_flight), last_error=last_error))
    session.commit()
    return renewed


def passed(session: Session, worker_id: str, now: datetime | None = None) -> None:
    """A pass finished: the status page shows when each worker last looked for work."""
    session.execute(update(Worker).where(Worker.id == worker_id).values(last_pass_at=now or utcnow())
                    .execution_options(synchronize_session=False))
    session.commit()


def stopped(session: Session, worker_id: str, now: datetime | None = None) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id)
                    .values(stopped_at=now or utcnow(), in_flight=0)
                    .execution_options(synchronize_session=False))
    session.commit()
