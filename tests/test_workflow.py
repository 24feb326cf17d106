"""The workflow's rules as plain Python: transitions, content hashes, four-eyes, roll-up, backoff."""
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from desk.domain import workflow as wf
from desk.domain.errors import ValidationFailed, WorkflowConflict

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("status, action, allowed", [
    (wf.DRAFT, "submit", True), (wf.REJECTED, "submit", True), (wf.IN_REVIEW, "submit", False),
    (wf.IN_REVIEW, "approve", True), (wf.DRAFT, "approve", False), (wf.APPROVED, "approve", False),
    (wf.IN_REVIEW, "reject", True), (wf.APPROVED, "reject", False),
    (wf.IN_REVIEW, "withdraw", True), (wf.APPROVED, "withdraw", True), (wf.PUBLISHED, "withdraw", False),
    (wf.PUBLISHED, "retract", True), (wf.PARTLY_PUBLISHED, "retract", True), (wf.APPROVED, "retract", False),
    (wf.DRAFT, "edit", True), (wf.APPROVED, "edit", True), (wf.PUBLISHED, "edit", False),
    (wf.WITHDRAWN, "edit", False), (wf.RETRACTED, "retract", False),
])
def test_transitions(status, action, allowed):
    if allowed:
        wf.require_transition(status, action)
    else:
        with pytest.raises(WorkflowConflict) as exc:
            wf.require_transition(status, action)
        assert "cannot be" in exc.value.message


def test_content_hash_covers_words_link_channels_and_times():
    base = dict(body="Road closed", link="https://example.police.uk",
                targets=[wf.TargetSpec(1, None, None), wf.TargetSpec(2, "Short", NOW)])
    h = wf.content_hash(**base)
    assert h == wf.content_hash(base["body"], base["link"], list(reversed(base["targets"])))  # order-free
    assert h != wf.content_hash("Road closed.", base["link"], base["targets"])
    assert h != wf.content_hash(base["body"], None, base["targets"])
    assert h != wf.content_hash(base["body"], base["link"], [wf.TargetSpec(1, None, None)])
    assert h != wf.content_hash(base["body"], base["link"],
                                [wf.TargetSpec(1, None, None), wf.TargetSpec(2, "Short", NOW + timedelta(hours=1))])
    assert h != wf.content_hash(base["body"], base["link"],
                                [wf.TargetSpec(1, None, None), wf.TargetSpec(2, "Shorter", NOW)])


def vote(approver, *channels):
    return wf.ApprovalVote(approver, frozenset(channels))


def test_four_eyes_arithmetic():
    req = {1: 1, 2: 2}
    assert wf.outstanding_approvals(req, [], author_id=9) == {1: 1, 2: 2}
    assert wf.outstanding_approvals(req, [vote(5, 1, 2)], author_id=9) == {2: 1}
    assert wf.outstanding_approvals(req, [vote(5, 1, 2), vote(5, 1, 2)], author_id=9) == {2: 1}  # same person twice
    assert wf.outstanding_approvals(req, [vote(5, 1, 2), vote(6, 2)], author_id=9) == {}
    assert wf.outstanding_approvals(req, [vote(9, 1, 2), vote(5, 1)], author_id=9) == {2: 2}  # author never counts
    assert wf.outstanding_approvals({1: 0}, [], author_id=9) == {1: 1}  # at least one, always


@pytest.mark.parametrize("targets, current, expected", [
    ([wf.T_PUBLISHED, wf.T_PUBLISHED], wf.APPROVED, wf.PUBLISHED),
    ([wf.T_PUBLISHED, wf.T_QUEUED], wf.APPROVED, wf.PARTLY_PUBLISHED),
    ([wf.T_RETRYING, wf.T_QUEUED], wf.APPROVED, wf.APPROVED),
    ([wf.T_PUBLISHED, wf.T_FAILED], wf.APPROVED, wf.PARTLY_PUBLISHED),
    ([wf.T_FAILED, wf.T_FAILED], wf.APPROVED, wf.FAILED),
    ([wf.T_PUBLISHED, wf.T_PUBLISHED], wf.PARTLY_PUBLISHED, wf.PUBLISHED),
    ([wf.T_PUBLISHED], wf.WITHDRAWN, wf.WITHDRAWN),   # only live posts roll up
    ([], wf.APPROVED, wf.APPROVED),
])
def test_rollup(targets, current, expected):
    assert wf.rollup(targets, current) == expected


def test_due():
    assert wf.is_due(wf.T_QUEUED, None, None, NOW)
    assert wf.is_due(wf.T_QUEUED, NOW, None, NOW)
    assert not wf.is_due(wf.T_QUEUED, NOW + timedelta(seconds=1), None, NOW)
    assert wf.is_due(wf.T_RETRYING, NOW, NOW - timedelta(seconds=1), NOW)
    assert not wf.is_due(wf.T_RETRYING, NOW, NOW + timedelta(seconds=1), NOW)
    assert not wf.is_due(wf.T_HELD, None, None, NOW)


def test_backoff_grows_within_jitter_bounds_and_caps():
    rng = random.Random(7)
    for attempt in range(1, 12):
        delay = min(3600, 30 * 2 ** (attempt - 1))
        for _ in range(50):
            when = wf.backoff(attempt, 30, NOW, rng)
            assert delay / 2 <= (when - NOW).total_seconds() <= delay


def test_schedule_in_the_past_is_refused_with_the_alternative():
    wf.check_schedule(None, NOW)
    wf.check_schedule(NOW + timedelta(minutes=1), NOW)
    with pytest.raises(ValidationFailed) as exc:
        wf.check_schedule(NOW - timedelta(minutes=1), NOW)
    assert "As soon as approved" in exc.value.message


def test_channel_block_reasons():
    assert wf.channel_block_reason("active", None, None, NOW) is None
    assert "reconnect" in wf.channel_block_reason("needs_reconnect", None, None, NOW)
    assert "dormant" in wf.channel_block_reason("dormant", None, None, NOW)
    assert "not live yet" in wf.channel_block_reason("active", NOW + timedelta(hours=1), None, NOW)
    assert wf.channel_block_reason("active", NOW, NOW + timedelta(hours=1), NOW) is None
    assert "closed" in wf.channel_block_reason("active", NOW - timedelta(hours=2), NOW, NOW)
