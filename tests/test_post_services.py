"""The post use cases through the real services and database (SQLite, and PostgreSQL in CI)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from desk.domain import workflow as wf
from desk.domain.errors import PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AuditEvent, Post, TrainingPublication
from desk.platforms import PlatformContext
from desk.services import posts, publishing
from desk.services.audit_trail import verify
from desk.services.posts import PostInput, TargetInput


def draft(world, now, channels=None, body="Road closed on the A40 until 6pm.", when=None, author=None):
    channels = channels or [world.channel]
    data = PostInput(body=body, targets=[TargetInput(c.id, None, when) for c in channels])
    return posts.save_draft(world.session, author or world.author, data, now=now).post


def actions(session, post_id):
    return [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.post_id == post_id)
                                              .order_by(AuditEvent.seq))]


def test_draft_submit_approve_publish(world, sessions, now):
    s = world.session
    post = draft(world, now, when=now + timedelta(hours=1))
    posts.submit(s, world.author, post.id, now=now)
    posts.approve(s, world.approver, post.id, expected_hash=post.content_hash, now=now)
    assert post.status == wf.APPROVED and post.targets[0].status == wf.T_QUEUED
    assert publishing.claim_due(s, "w1", now=now) == []  # not due yet
    later = now + timedelta(hours=1, seconds=1)
    claims = publishing.claim_due(s, "w1", now=later)
    assert [c.target_id for c in claims] == [post.targets[0].id]
    ctx = PlatformContext(settings=None, session_factory=sessions)
    from desk.platforms import publisher_for
    ref = publisher_for(claims[0].channel, ctx).publish(claims[0].request)
    publishing.record_success(s, claims[0], "w1", ref, now=later)
    s.refresh(post)
    assert post.status == wf.PUBLISHED
    assert post.targets[0].remote_id == ref.id
    assert s.scalar(select(TrainingPublication).where(TrainingPublication.remote_id == ref.id)).text.startswith("Road")
    assert actions(s, post.id) == ["post.created", "post.submitted", "post.approved", "target.sending",
                                   "target.published", "post.published"]
    assert verify(s).ok


def test_author_never_approves_own_post_even_as_approver(world, now):
    s = world.session
    post = draft(world, now, author=world.approver)
    posts.submit(s, world.approver, post.id, now=now)
    with pytest.raises(PermissionDenied):
        posts.approve(s, world.approver, post.id, now=now)
    refusal = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert refusal.actor == world.approver.email and refusal.post_id == post.id


def test_two_approvals_from_two_people(world, now):
    s = world.session
    post = draft(world, now, channels=[world.channel2])
    posts.submit(s, world.author, post.id, now=now)
    posts.approve(s, world.approver, post.id, now=now)
    assert post.status == wf.IN_REVIEW
    with pytest.raises(WorkflowConflict):
        posts.approve(s, world.approver, post.id, now=now)
    posts.approve(s, world.approver2, post.id, now=now)
    assert post.status == wf.APPROVED


def test_edit_withdraws_approval(world, now):
    s = world.session
    post = draft(world, now, channels=[world.channel2])
    posts.submit(s, world.author, post.id, now=now)
    old_hash = post.content_hash
    posts.approve(s, world.approver, post.id, now=now)
    posts.save_draft(s, world.author, PostInput("Changed words", None, [TargetInput(world.channel2.id)]),
                     post_id=post.id, now=now)
    assert post.status == wf.DRAFT
    posts.submit(s, world.author, post.id, now=now)
    with pytest.raises(WorkflowConflict):
        posts.approve(s, world.approver2, post.id, expected_hash=old_hash, now=now)
    posts.approve(s, world.approver2, post.id, expected_hash=post.content_hash, now=now)
    assert post.status == wf.IN_REVIEW  # the first approval was for the old words


def test_reject_then_edit_and_resubmit(world, now):
    s = world.session
    post = draft(world, now)
    posts.submit(s, world.author, post.id, now=now)
    with pytest.raises(ValidationFailed):
        posts.reject(s, world.approver, post.id, "  ", now=now)
    posts.reject(s, world.approver, post.id, "Name the road.", now=now)
    assert post.status == wf.REJECTED and post.rejection_comment == "Name the road."
    posts.save_draft(s, world.author, PostInput("A40 Western Avenue closed", None, [TargetInput(world.channel.id)]),
                     post_id=post.id, now=now)
    posts.submit(s, world.author, post.id, now=now)
    assert post.status == wf.IN_REVIEW


def test_outsider_cannot_draft_or_approve(world, now):
    s = world.session
    with pytest.raises(PermissionDenied):
        draft(world, now, author=world.outsider)
    post = draft(world, now)
    posts.submit(s, world.author, post.id, now=now)
    with pytest.raises(PermissionDenied):
        posts.approve(s, world.outsider, post.id, now=now)


def test_submit_checks_limits_and_time(world, now):
    s = world.session
    result = posts.save_draft(s, world.author, PostInput("x" * 501, None, [TargetInput(world.channel.id, None,
                                                                                       now - timedelta(minutes=5))]),
                              now=now)
    assert "body" in result.problems and result.post.body == "x" * 501  # kept, and the problem shown
    with pytest.raises(ValidationFailed) as exc:
        posts.submit(s, world.author, result.post.id, now=now)
    assert f"target-{world.channel.id}-scheduled_at" in exc.value.field_errors


def test_withdraw_and_retract(world, sessions, now):
    s = world.session
    ctx = PlatformContext(settings=None, session_factory=sessions)
    post = draft(world, now)
    posts.submit(s, world.author, post.id, now=now)
    posts.approve(s, world.approver, post.id, now=now)
    posts.withdraw(s, world.author, post.id, now=now)
    assert post.status == wf.WITHDRAWN and post.targets[0].status == wf.T_CANCELLED
    assert publishing.claim_due(s, "w1", now=now) == []

    post2 = draft(world, now)
    posts.submit(s, world.author, post2.id, now=now)
    posts.approve(s, world.approver, post2.id, now=now)
    [claim] = publishing.claim_due(s, "w1", now=now)
    from desk.platforms import publisher_for
    publishing.record_success(s, claim, "w1", publisher_for(claim.channel, ctx).publish(claim.request), now=now)
    with pytest.raises(WorkflowConflict):
        posts.withdraw(s, world.author, post2.id, now=now)
    with pytest.raises(PermissionDenied):
        posts.retract(s, world.author, post2.id, "wrong", ctx, now=now)
    posts.retract(s, world.approver, post2.id, "Wrong road named", ctx, now=now)
    s.refresh(post2)
    assert post2.status == wf.RETRACTED
    pub = s.scalar(select(TrainingPublication).where(TrainingPublication.target_id == claim.target_id))
    assert pub.deleted_at is not None
    assert verify(s).ok
