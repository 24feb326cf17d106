"""A post sent twice: a worker frozen inside the call that creates a post finished it after another worker had
taken the post over and published it. The second copy is audited (`target.sent_after_takeover`), shown on the
post's page and the status page with its link, and removed from the platform with one button by someone who
decides on the channel's posts. On the training channel, which publishes into the desk's own table."""
from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select
from test_worker import approved

from desk.config import Settings
from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.models import AuditEvent, StrayCopy, Target, TrainingPublication
from desk.platforms import PlatformContext, publisher_for
from desk.services import publishing
from desk.worker import run_pass

from conftest import login, post_form

ME, OTHER = "host-a:10:aaaaaa", "host-b:20:bbbbbb"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def sent_twice(app, world):
    """ME claims and starts its call; frozen past its lease, OTHER takes the post over and publishes it;
    then ME's call, which had passed its fence, completes and ME records it. (post id, target id)."""
    sessions = app.extensions["desk.sessions"]
    settings = Settings(database_url="(the app's)", secret_key="test", lease_seconds=60)
    context = PlatformContext(settings, sessions)
    start = utcnow() - timedelta(minutes=5)
    post = approved(world, start - timedelta(minutes=1), body="Road reopened after the collision.")
    with sessions() as s:
        [claim] = publishing.claim_due(s, ME, now=start, lease_seconds=60)
    run_pass(sessions, context, OTHER, settings, now=start + timedelta(seconds=61))  # lease out, not found: queued
    run_pass(sessions, context, OTHER, settings, now=start + timedelta(seconds=62))  # published by OTHER
    channel = world.session.get(type(world.channel), world.channel.id)
    late = publisher_for(channel, context).publish(claim.request)  # the frozen call, completing
    with sessions() as s:
        assert publishing.record_success(s, claim, ME, late, now=start + timedelta(seconds=63)) == wf.T_PUBLISHED
    return post.id, claim.target_id, late


def publication(app, remote_id) -> TrainingPublication:
    with app.extensions["desk.sessions"]() as s:
        return s.scalars(select(TrainingPublication).where(TrainingPublication.remote_id == remote_id)).one()


def test_a_post_sent_twice_is_shown_and_its_second_copy_removed(app, client, web_world):
    post_id, target_id, late = sent_twice(app, web_world)
    with app.extensions["desk.sessions"]() as s:
        kept = s.get(Target, target_id).remote_id
        assert kept != late.id
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "target.sent_after_takeover")).all()
        assert late.id in event.details and kept in event.details

    login(client, web_world.approver.email)
    page = text(client.get(f"/posts/{post_id}"))
    assert "This post went out twice on DPA training feed." in page
    assert f'href="{late.url}"' in page and "Remove the second copy from Training" in page

    r = post_form(client, f"/targets/copies/{1}/remove", {}, page_url=f"/posts/{post_id}", follow_redirects=True)
    assert "The second copy was deleted from DPA training feed; the post is there once." in text(r)
    assert publication(app, late.id).deleted_at is not None  # gone from the platform
    assert publication(app, kept).deleted_at is None  # the post itself stays
    assert "went out twice" not in text(client.get(f"/posts/{post_id}"))
    with app.extensions["desk.sessions"]() as s:
        copy = s.scalars(select(StrayCopy)).one()
        assert copy.removed_at is not None and copy.removed_by_id == web_world.approver.id
        assert s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)).one() == \
            "target.copy_removed"


def test_the_status_page_lists_it_and_only_those_who_decide_may_remove_it(app, client, web_world):
    post_id, _, late = sent_twice(app, web_world)
    login(client, web_world.admin.email)
    status = text(client.get("/admin/workers/"))
    assert "1 post(s) went out twice" in status and "Posts that went out twice: 1" in status
    assert f'href="{late.url}"' in status and f"/posts/{post_id}#copy-1" in status

    author = app.test_client()
    login(author, web_world.author.email)
    page = text(author.get(f"/posts/{post_id}"))
    assert "This post went out twice" in page and "Remove the second copy" not in page  # told, not offered
    r = post_form(author, "/targets/copies/1/remove", {}, page_url=f"/posts/{post_id}")
    assert r.status_code == 403
    assert publication(app, late.id).deleted_at is None
    with app.extensions["desk.sessions"]() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
        assert any("target.remove_copy" in e.details for e in refused)
