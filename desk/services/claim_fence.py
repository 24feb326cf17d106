"""The fence before the call that creates a post, and what is recorded when a worker does not pass it.

A worker frozen past its lease (a paused virtual machine, a long garbage collection, a machine cut off
from the database but not from the platform) still holds its claim in memory, while another worker may
have taken the target over and published it. Media uploads can be repeated without harm; the call that
creates the post cannot. So right before that call the worker asks the database, in one statement, whether
the claim is still its own and the target still `sending`, and renews the lease if so (desk.domain.leases
says for how long the call may then run, and why). If not, or if the database does not answer, nothing is
sent, and the attempt is recorded and audited as `target.claim_lost`.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..domain import leases, rate_limits
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..models import Post, PublishAttempt, Target
from ..platforms.base import TRANSIENT
from .audit_trail import SystemActor, record_target
from .common import lock
from .publishing import Claim, _pace


def fence(session: Session, claim: Claim, worker: str, *, lease_seconds: int, now: datetime | None = None
          ) -> str | None:
    """Renew the claim for a whole lease if it is still ours and the target still `sending`: None, the worker
    may send. Otherwise leases.TAKEN_OVER, and the worker must not.

    One conditional UPDATE, so the check and the renewal are one step. Whether another worker took the target
    over is told by the row, not by the clock: taking it over changes its state (to `unknown`, then queued,
    sending by another, published), under the row's lock, so a row still `sending` and ours was taken by no
    one, even if our lease ran out by our clock while the process was stopped. The renewed lease is what
    the creating call runs under (leases.create_timeout fits the call in it)."""
    now = now or utcnow()
    renewed = session.execute(
        update(Target)
        .where(Target.id == claim.target_id, Target.claimed_by == worker, Target.status == wf.T_SENDING)
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return None if renewed else leases.TAKEN_OVER


def record_claim_lost(session: Session, claim: Claim, worker: str, reason: str, now: datetime | None = None,
                      pacing: rate_limits.Pacing | None = None) -> str:
    """The worker did not make the creating call: audit it (`target.claim_lost`). A target still ours (the
    database or the heartbeat did not answer in time) goes back to the queue at once, since nothing was
    sent; one taken over is left to whoever has it. Returns the target's state."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    lock(session, Post, claim.post_id, bare=True)  # the lock order: posts, targets, channels, audit chain
    target = lock(session, Target, claim.target_id)
    ours = target.status == wf.T_SENDING and target.claimed_by == worker
    if ours:  # a channel taken over is paced by whoever has it now: what we saw must not shorten its wait
        _pace(session, target.channel_id, pacing, now)
    attempt = session.get(PublishAttempt, claim.attempt_id)
    words = leases.REASONS.get(reason, leases.REASONS[leases.TAKEN_OVER])
    attempt.finished_at, attempt.outcome, attempt.error_code, attempt.message = now, "claim_lost", reason, words
    details = {"attempt": claim.attempt_no, "reason": reason, "sent": False, "status_now": target.status,
               "claimed_by_now": target.claimed_by}
    if ours:
        target.status, target.next_attempt_at = wf.T_RETRYING, now
        target.claimed_by, target.lease_until = None, None
        target.error_class, target.error_code, target.error_message = TRANSIENT, reason, words
        details["then"] = wf.T_RETRYING
    record_target(session, actor, "target.claim_lost", target, now, **details)
    session.commit()
    return target.status
