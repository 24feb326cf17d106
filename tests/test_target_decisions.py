"""A person's decisions on what the worker could not settle: an unknown outcome and a post too late to go
by itself. The rules plainly; the use cases on both engines: who may decide (refusals audited), a decision
someone already took, and the post's state afterwards."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from test_worker import approved, fresh

from desk.domain import lateness
from desk.domain import person_decisions as rules
from desk.domain import workflow as wf
from desk.domain.errors import PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AuditEvent, Post, PublishAttempt, Target
from desk.services import admin
from desk.services import target_decisions as decide

from conftest import OPERATOR

# ---- the rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform, url, remote_id", [
    ("x", "https://x.com/MetPoliceUK/status/1790000000000000001", "1790000000000000001"),
    ("x", "https://mobile.twitter.com/MetPoliceUK/status/17?s=20", "17"),
    ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3", "dQw4w9WgXcQ"),
    ("youtube", "https://youtu.be/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("youtube", "https://www.youtube.com/shorts/abcDEF12345", "abcDEF12345"),
    ("facebook", "https://www.facebook.com/CroydonMPS/posts/pfbid02abc", "pfbid02abc"),
    ("facebook", "https://m.facebook.com/permalink.php?story_fbid=123&id=9", "123"),
    ("flickr", "https://www.flickr.com/photos/metpoliceuk/53012345678/", "53012345678"),
    ("facebook", "https://www.facebook.com/CroydonMPS", None),
    ("training", "http://desk.local/training/3#trn_0a1b2c3d", "trn_0a1b2c3d"),
])
def test_a_pasted_link_gives_the_posts_id_where_it_carries_one(platform, url, remote_id):
    assert rules.read_published_link(f"  {url} ", platform) == (url, remote_id)


@pytest.mark.parametrize("platform, url, words", [
    ("x", "x.com/MetPoliceUK/status/1", "starting with https://"),
    ("x", "javascript:alert(1)", "starting with https://"),
    ("x", "", "starting with https://"),
    ("x", "https://desk.local/posts/4", "on desk.local, not on x.com"),
    ("youtube", "https://notyoutube.com/watch?v=abc", "not on youtube.com"),
])
def test_a_link_that_cannot_be_the_post_is_refused(platform, url, words):
    with pytest.raises(ValidationFailed) as refused:
        rules.read_published_link(url, platform)
    assert words in refused.value.message and refused.value.field_errors["url"]


def test_which_decision_is_offered(now):
    late = lateness.late_reason("09:00", None)
    fresh_call = now - timedelta(minutes=1)
    assert rules.offered(wf.T_UNKNOWN, None, rules.NEEDS_PERSON, fresh_call, now) == rules.UNKNOWN
    assert rules.offered(wf.T_UNKNOWN, None, None, fresh_call, now) is None  # the worker is still asking
    assert rules.offered(wf.T_UNKNOWN, None, None, now - timedelta(minutes=5), now) == rules.UNKNOWN
    assert rules.offered(wf.T_HELD, late, None, None, now) == rules.LATE
    assert rules.offered(wf.T_HELD, "The channel is dormant.", None, None, now) is None
    assert rules.offered(wf.T_QUEUED, late, None, None, now) is None


# ---- the use cases --------------------------------------------------------------------------------

def actions(session, post_id):
    return [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.post_id == post_id)
                                              .order_by(AuditEvent.seq))]


def unknown_post(world, now, *, code=rules.NEEDS_PERSON, called_ago=timedelta(minutes=1), body="Unknown."):
    post = approved(world, now - timedelta(minutes=10), body=body)
    s = world.session
    t = s.get(Target, post.targets[0].id)
    t.status, t.attempts, t.error_code = wf.T_UNKNOWN, 1, code
    t.error_message = "A worker stopped while sending this."
    s.add(PublishAttempt(target_id=t.id, number=1, worker="w:1", started_at=now - called_ago))
    s.commit()
    return post, t.id


def late_post(world, now, channel=None, body="Late."):
    post = approved(world, now - timedelta(hours=5), body=body, channel=channel)
    s = world.session
    t = s.get(Target, post.targets[0].id)
    t.status, t.held_reason = wf.T_HELD, lateness.late_reason("04:00", None)
    s.commit()
    return post, t.id


@pytest.fixture
def unit_admin(world):
    admin.add_membership(world.session, OPERATOR, world.manager.id, world.unit.id, "unit_admin")
    world.session.refresh(world.manager)
    return world.manager


def test_not_published_sends_it_again_keeping_the_attempts(world, session, now):
    post, tid = unknown_post(world, now)
    decide.not_published(session, world.approver, tid, now=now)
    t = fresh(session, Target, tid)
    assert (t.status, t.attempts, t.error_code, t.error_message) == (wf.T_QUEUED, 1, None, None)
    assert actions(session, post.id)[-1] == "target.confirmed_not_published"
    with pytest.raises(WorkflowConflict, match="Someone has decided on this post already"):
        decide.not_published(session, world.approver2, tid, now=now)


def test_published_with_a_link_records_it_and_rolls_the_post_up(world, session, now):
    post, tid = unknown_post(world, now)
    with pytest.raises(ValidationFailed):
        decide.published(session, world.approver, tid, "not a link", now=now)
    assert fresh(session, Target, tid).status == wf.T_UNKNOWN
    decide.published(session, world.approver, tid, "https://desk.local/training/1#trn_feed", now=now)
    t = fresh(session, Target, tid)
    assert (t.status, t.remote_id, t.remote_url, t.published_at) == (
        wf.T_PUBLISHED, "trn_feed", "https://desk.local/training/1#trn_feed", now)
    assert fresh(session, Post, post.id).status == wf.PUBLISHED
    assert actions(session, post.id)[-2:] == ["target.confirmed_published", "post.published"]
    with pytest.raises(WorkflowConflict):
        decide.not_published(session, world.approver, tid, now=now)  # it must never be sent again now


def test_an_unknown_the_worker_is_still_checking_waits_a_few_minutes(world, session, now):
    post, tid = unknown_post(world, now, code=None, called_ago=timedelta(minutes=2))
    with pytest.raises(WorkflowConflict, match="still asking the platform"):
        decide.not_published(session, world.approver, tid, now=now)
    [waiting] = decide.waiting_for_person(session, world.approver, now)
    assert waiting.kind == rules.UNKNOWN and not waiting.decidable
    assert decide.offers_for(session, world.approver, fresh(session, Post, post.id), now) == {}
    later = now + timedelta(minutes=4)
    assert decide.offers_for(session, world.approver, fresh(session, Post, post.id), later) == {tid: rules.UNKNOWN}
    decide.not_published(session, world.approver, tid, now=later)
    assert fresh(session, Target, tid).status == wf.T_QUEUED


def test_only_approvers_and_administrators_decide_and_refusals_are_audited(world, session, now, unit_admin):
    post, tid = unknown_post(world, now)
    for who in (world.author, world.outsider):  # the author of a post does not approve it; nor does CO11
        with pytest.raises(PermissionDenied, match="Only approvers of DPA training feed"):
            decide.published(session, who, tid, "https://desk.local/t#x", now=now)
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused",
                                                       AuditEvent.post_id == post.id)).all()
    assert len(refused) == 2 and all("target.decide_published" in e.details for e in refused)
    assert fresh(session, Target, tid).status == wf.T_UNKNOWN
    assert decide.waiting_for_person(session, world.outsider, now) == []
    assert decide.offers_for(session, world.author, fresh(session, Post, post.id), now) == {}
    decide.not_published(session, unit_admin, tid, now=now)
    _, other = unknown_post(world, now, body="Another.")
    decide.not_published(session, world.admin, other, now=now)


def test_a_late_post_sent_now_goes_back_to_the_queue(world, session, now):
    post, tid = late_post(world, now)
    [waiting] = decide.waiting_for_person(session, world.approver, now)
    assert (waiting.target_id, waiting.kind, waiting.decidable) == (tid, rules.LATE, True)
    decide.send_late(session, world.approver, tid, now=now)
    t = fresh(session, Target, tid)
    assert (t.status, t.held_reason) == (wf.T_QUEUED, None)
    assert actions(session, post.id)[-1] == "target.confirmed_late"
    with pytest.raises(WorkflowConflict, match="Someone has decided"):
        decide.drop_late(session, world.approver, tid, now=now)


def test_a_late_post_is_not_sent_while_its_channel_still_cannot_publish(world, session, now):
    post, tid = late_post(world, now)
    admin.update_channel(session, OPERATOR, world.channel.id, status="dormant")
    with pytest.raises(WorkflowConflict, match="cannot publish just now"):
        decide.send_late(session, world.approver, tid, now=now)
    assert fresh(session, Target, tid).status == wf.T_HELD


def test_dont_send_withdraws_a_post_left_with_nothing_to_send(world, session, now):
    post, tid = late_post(world, now)
    decide.drop_late(session, world.approver, tid, now=now)
    assert fresh(session, Target, tid).status == wf.T_CANCELLED
    assert fresh(session, Post, post.id).status == wf.WITHDRAWN
    assert actions(session, post.id)[-2:] == ["target.withdrawn_late", "post.withdrawn"]


def test_dont_send_leaves_a_post_published_elsewhere_partly_published(world, session, now):
    from desk.services import posts
    from desk.services.posts import PostInput, TargetInput

    data = PostInput(body="Two channels.", targets=[TargetInput(world.channel.id, None, None),
                                                    TargetInput(world.channel2.id, None, None)])
    post = posts.save_draft(session, world.author, data, now=now).post
    posts.submit(session, world.author, post.id, now=now)
    posts.approve(session, world.approver, post.id, now=now)
    posts.approve(session, world.approver2, post.id, now=now)
    one, two = (session.get(Target, t.id) for t in post.targets)
    one.status, one.remote_id, one.published_at = wf.T_PUBLISHED, "trn_1", now
    two.status, two.held_reason = wf.T_HELD, lateness.late_reason("09:00", 5)
    session.get(Post, post.id).status = wf.PARTLY_PUBLISHED
    session.commit()
    decide.drop_late(session, world.approver, two.id, now=now)
    assert fresh(session, Target, two.id).status == wf.T_CANCELLED
    assert fresh(session, Post, post.id).status == wf.PARTLY_PUBLISHED
