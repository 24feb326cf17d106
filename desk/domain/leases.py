"""How sure a worker must be of its claim before the call that creates a post, and how long that call may take.

A worker's claim on a target lasts until its lease runs out, and its heartbeat extends the lease while the
process lives. A process frozen past its lease (a paused virtual machine, a long garbage collection, a
machine cut off from the database but not from the platform) wakes up believing the claim is still its
own, while another worker may have taken the target over and published it. Media uploads can be repeated
without harm; the call that creates the post cannot be taken back. So just before it the worker checks,
twice:
- in memory: its heartbeat renewed its leases recently enough that they have not run out by its own clock
  (a process that was frozen, or whose heartbeat cannot reach the database, waits for a beat first);
- in the database (the fence): the claim is still its own and the target still `sending`; the same
  statement renews the lease, and the creating call is given no more time than that lease less the margin,
  so that the lease still has more than the call's timeout plus the margin left when the call begins, and
  the call is over before any other worker may take the target.

The margin is one heartbeat: the clock skew between machines that the leases already tolerate.
"""
from __future__ import annotations

# Why a worker did not make the creating call; recorded with the attempt and in `target.claim_lost`.
TAKEN_OVER = "taken-over"      # the target is no longer this worker's (another took it over, or it was settled)
NO_DATABASE = "no-database"    # the database did not answer the fence
NO_HEARTBEAT = "no-heartbeat"  # the heartbeat has not renewed the leases lately (frozen, or no database)
REASONS = {
    TAKEN_OVER: "Another worker took this post over while this one was frozen or cut off, so this one did not "
                "send it.",
    NO_DATABASE: "The database did not answer just before the post was to be sent, so the worker did not send "
                 "it; the desk sends it again once the database answers.",
    NO_HEARTBEAT: "The worker could not renew its hold on this post (it was frozen, or lost the database), so "
                  "it did not send it; the desk sends it again.",
}


def margin_seconds(heartbeat_seconds: float) -> float:
    """The time a lease must still have beyond the creating call: one heartbeat, the skew leases tolerate."""
    return float(heartbeat_seconds)


def renewals_fresh(renewed_at: float, now: float, lease_seconds: float, margin: float) -> bool:
    """Whether leases renewed at `renewed_at` (this process's monotonic clock) still have more than the
    margin left at `now`. A process that was frozen finds its last renewal too old, whatever it remembers."""
    return now - renewed_at < lease_seconds - margin


def create_timeout(timeout: tuple[float, float], lease_seconds: float, margin: float) -> tuple[float, float]:
    """The (connect, read) timeout of the creating call: the adapter's own, unless the lease the fence just
    renewed would not outlast it by the margin; then shortened to fit (a short lease in a test, say)."""
    connect, read = timeout
    budget = max(lease_seconds - margin, 0.1)
    if connect + read <= budget:
        return timeout
    connect = min(connect, budget / 2)
    return connect, budget - connect
