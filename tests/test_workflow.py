"""The workflow's rules as plain Python: transitions, content hashes, four-eyes, roll-up, backoff."""
import hashlib
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


def says(message: str, *facts: str) -> None:
    """A message a person reads is a sentence that carries the facts they need."""
    assert message[:1].isupper() and message.endswith("."), message
    for fact in facts:
        assert fact in message, (fact, message)


def test_a_refused_transition_names_the_posts_state_in_words_and_the_action():
    with pytest.raises(WorkflowConflict) as exc:
        wf.require_transition(wf.IN_REVIEW, "submit")
    says(exc.value.message, "awaiting approval", "submitted for approval")
    with pytest.raises(WorkflowConflict) as exc:
        wf.require_transition(wf.PUBLISHED, "edit")
    says(exc.value.message, "published", "edited")
    with pytest.raises(WorkflowConflict) as exc:  # a state without a label is named as it is
        wf.require_transition("archived", "approve")
    says(exc.value.message, "archived", "approved")


def test_a_time_equal_to_now_has_already_passed():
    with pytest.raises(ValidationFailed) as exc:
        wf.check_schedule(NOW, NOW)
    says(exc.value.message, "already passed", "As soon as approved")
    assert list(exc.value.field_errors) == ["scheduled_at"]  # shown beside the form's time field
    [words] = exc.value.field_errors["scheduled_at"]
    says(words, "already passed", "As soon as approved")
    with pytest.raises(ValidationFailed) as exc:
        wf.check_schedule(NOW - timedelta(days=1), NOW, field="live_from")
    assert list(exc.value.field_errors) == ["live_from"]


def test_a_retry_is_due_at_its_time_exactly():
    assert wf.is_due(wf.T_RETRYING, None, NOW, NOW)
    assert wf.is_due(wf.T_RETRYING, None, None, NOW)
    assert not wf.is_due(wf.T_RETRYING, None, NOW + timedelta(microseconds=1), NOW)


class Longest(random.Random):
    """Jitter that always picks the longest wait it is offered."""

    def uniform(self, a, b):
        return b


def test_the_longest_wait_between_retries_is_an_hour():
    assert wf.backoff(1, 30, NOW, Longest()) == NOW + timedelta(seconds=30)
    assert wf.backoff(3, 30, NOW, Longest()) == NOW + timedelta(seconds=120)
    assert wf.backoff(20, 30, NOW, Longest()) == NOW + timedelta(hours=1)
    assert wf.backoff(20, 30, NOW, Longest(), cap_seconds=600) == NOW + timedelta(minutes=10)
    unseeded = wf.backoff(2, 30, NOW)  # without a generator of its own: the module's, still in bounds
    assert NOW + timedelta(seconds=30) <= unseeded <= NOW + timedelta(seconds=60)


def test_no_body_and_an_empty_body_and_no_extra_fields_and_empty_ones_bind_the_same_approval():
    targets = [wf.TargetSpec(1, None, None, extra="{}")]
    blank = '{"body":"","link":"","targets":[[1,"",null,"{}",[]]]}'  # docs/hash-formats.md
    assert wf.content_hash(None, None, targets) == hashlib.sha256(blank.encode("utf-8")).hexdigest()
    assert wf.content_hash(None, None, targets) == wf.content_hash("", "", targets)
    assert wf.content_hash("Road closed", None, [wf.TargetSpec(1, None, None, extra="")]) == \
        wf.content_hash("Road closed", None, targets)


def test_why_a_channel_cannot_take_a_post_is_said_in_a_sentence():
    says(wf.channel_block_reason("needs_reconnect", None, None, NOW), "reconnect", "The post waits")
    says(wf.channel_block_reason("dormant", None, None, NOW), "dormant", "The post waits")
    says(wf.channel_block_reason("archived", None, None, NOW), "archived", "publishes nothing")
    says(wf.channel_block_reason("active", NOW + timedelta(hours=1), None, NOW), "not live yet", "The post waits")
    says(wf.channel_block_reason("active", None, NOW, NOW), "closed", "The post is held")
