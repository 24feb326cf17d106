"""The post and target workflow: states, transitions, four-eyes arithmetic, content hashes.

Plain Python, no database: the services feed it what they loaded and act on its answers.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import ValidationFailed, WorkflowConflict

# Post states
DRAFT, IN_REVIEW, APPROVED, REJECTED = "draft", "in_review", "approved", "rejected"
PUBLISHED, PARTLY_PUBLISHED, FAILED = "published", "partly_published", "failed"
WITHDRAWN, RETRACTED = "withdrawn", "retracted"
# A recurring series, once approved, runs (its occurrences are posts of their own) until it ends.
RECURRING, ENDED = "recurring", "ended"

# Target states (pending: not yet approved; cancelled: its post was withdrawn)
T_PENDING, T_QUEUED, T_SENDING, T_PUBLISHED = "pending", "queued", "sending", "published"
T_RETRYING, T_FAILED, T_HELD, T_UNKNOWN = "retrying", "failed", "held", "unknown"
T_CANCELLED, T_RETRACTED = "cancelled", "retracted"
T_PATTERN = "pattern"  # a running series' own target: never sent itself, copied into each occurrence

TARGET_IN_FLIGHT = {T_QUEUED, T_SENDING, T_RETRYING, T_HELD, T_UNKNOWN}
EDITABLE = {DRAFT, REJECTED, IN_REVIEW, APPROVED, RECURRING}

POST_STATE_LABELS = {
    DRAFT: "Draft", IN_REVIEW: "Awaiting approval", APPROVED: "Approved", REJECTED: "Rejected",
    PUBLISHED: "Published", PARTLY_PUBLISHED: "Partly published", FAILED: "Failed",
    WITHDRAWN: "Withdrawn", RETRACTED: "Retracted", RECURRING: "Series running", ENDED: "Series ended",
}
TARGET_STATE_LABELS = {
    T_PENDING: "Not yet approved", T_QUEUED: "Queued", T_SENDING: "Sending", T_PUBLISHED: "Published",
    T_RETRYING: "Retrying", T_FAILED: "Failed", T_HELD: "Held", T_UNKNOWN: "Outcome unknown",
    T_CANCELLED: "Cancelled", T_RETRACTED: "Retracted", T_PATTERN: "Pattern of the series",
}

# action -> states it may start from
TRANSITIONS = {
    "edit": EDITABLE,
    "submit": {DRAFT, REJECTED},
    "approve": {IN_REVIEW},
    "reject": {IN_REVIEW},
    "withdraw": {IN_REVIEW, APPROVED, RECURRING},
    "retract": {PUBLISHED, PARTLY_PUBLISHED},
}

_ACTION_WORDS = {
    "edit": "edited", "submit": "submitted for approval", "approve": "approved", "reject": "rejected",
    "withdraw": "withdrawn", "retract": "retracted",
}


def require_transition(status: str, action: str) -> None:
    if status not in TRANSITIONS[action]:
        label = POST_STATE_LABELS.get(status, status).lower()
        raise WorkflowConflict(f"A post that is {label} cannot be {_ACTION_WORDS[action]}.")


@dataclass(frozen=True)
class TargetSpec:
    channel_id: int
    text: str | None
    scheduled_at: datetime | None  # UTC; None means as soon as approved
    extra: str = "{}"               # canonical JSON of the per-platform fields
    media: tuple[str, ...] = ()     # content hashes of the attached files, in order


def content_hash(body: str, link: str | None, targets: Iterable[TargetSpec],
                 recurrence: tuple[str, datetime | None] | None = None) -> str:
    """What an approval is bound to: the words, the link, the files, and where and when they go.
    A series' rule and end are part of it: approving a series approves when it repeats."""
    material = {
        "body": body or "",
        "link": link or "",
        "targets": sorted(
            [t.channel_id, t.text or "", t.scheduled_at.isoformat() if t.scheduled_at else None,
             t.extra or "{}", list(t.media)] for t in targets
        ),
    }
    if recurrence is not None:  # only then, so that the hashes of one-off posts stay as they were
        rule, until = recurrence
        material["recurrence"] = [rule, until.isoformat() if until else None]
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def check_schedule(scheduled_at: datetime | None, now: datetime, field: str = "scheduled_at") -> None:
    if scheduled_at is not None and scheduled_at <= now:
        raise ValidationFailed(
            "That time has already passed. Choose a later time, or tick 'As soon as approved'.",
            field_errors={field: ["That time has already passed: choose a later time, or 'As soon as approved'."]},
        )


@dataclass(frozen=True)
class ApprovalVote:
    approver_id: int
    channel_ids: frozenset[int]


def outstanding_approvals(
    requirements: dict[int, int], votes: Sequence[ApprovalVote], author_id: int
) -> dict[int, int]:
    """Per channel, how many more distinct approvers (never the author) it still needs."""
    remaining = {}
    for channel_id, required in requirements.items():
        approvers = {v.approver_id for v in votes if channel_id in v.channel_ids and v.approver_id != author_id}
        left = max(required, 1) - len(approvers)
        if left > 0:
            remaining[channel_id] = left
    return remaining


def rollup(target_statuses: Sequence[str], current: str) -> str:
    """The post's state once its targets have moved: still going, or how it ended."""
    if not target_statuses or current not in {APPROVED, PUBLISHED, PARTLY_PUBLISHED, FAILED}:
        return current
    if any(s in TARGET_IN_FLIGHT for s in target_statuses):
        # Some went out already while others wait: show that honestly.
        return PARTLY_PUBLISHED if any(s == T_PUBLISHED for s in target_statuses) else APPROVED
    published = sum(1 for s in target_statuses if s == T_PUBLISHED)
    if published == len(target_statuses):
        return PUBLISHED
    if published:
        return PARTLY_PUBLISHED
    return FAILED


def is_due(status: str, scheduled_at: datetime | None, next_attempt_at: datetime | None, now: datetime) -> bool:
    if status == T_QUEUED:
        return scheduled_at is None or scheduled_at <= now
    if status == T_RETRYING:
        return next_attempt_at is None or next_attempt_at <= now
    return False


def backoff(attempt: int, base_seconds: float, now: datetime, rng: random.Random | None = None,
            cap_seconds: float = 3600.0) -> datetime:
    """Exponential backoff with full jitter in [delay/2, delay]: spreads retries from many workers."""
    rng = rng or random.Random()
    delay = min(cap_seconds, base_seconds * (2 ** max(0, attempt - 1)))
    return now + timedelta(seconds=rng.uniform(delay / 2, delay))


def channel_block_reason(status: str, live_from: datetime | None, live_until: datetime | None,
                         now: datetime) -> str | None:
    """Why a channel cannot take a post now, in words; None when it can."""
    if status == "needs_reconnect":
        return "The channel's authorisation has lapsed: an administrator must reconnect it. The post waits."
    if status == "dormant":
        return "The channel is dormant. The post waits until an administrator makes it active."
    if status == "archived":
        return "The channel is archived and publishes nothing."
    if live_from and now < live_from:
        return "The event feed is not live yet. The post waits until the event window opens."
    if live_until and now >= live_until:
        return "The event feed's window has closed. The post is held for a person to decide."
    return None
