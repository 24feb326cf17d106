"""In the browser: the buttons next to a post the desk could not settle, the dashboard's list of them, the
publishing status page, and a channel's 'how late is too late'."""
from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select
from test_web_admin import field_block, value_of
from test_worker import approved

from desk.domain import lateness
from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.models import AuditEvent, Channel, PublishAttempt, Target, Worker
from desk.services import admin

from conftest import OPERATOR, login, post_form


def seed(app, world, *, status, held_reason=None, code="needs-person"):
    post = approved(world, utcnow() - timedelta(hours=3), body=f"A post now {status}.")
    with app.extensions["desk.sessions"]() as s:
        t = s.get(Target, post.targets[0].id)
        t.status, t.held_reason, t.attempts = status, held_reason, 1
        t.error_code = code if status == wf.T_UNKNOWN else None
        s.add(PublishAttempt(target_id=t.id, number=1, worker="w:1", started_at=utcnow() - timedelta(minutes=1)))
        s.commit()
        return post.id, t.id


def target(app, target_id):
    with app.extensions["desk.sessions"]() as s:
        return s.get(Target, target_id)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_an_approver_settles_an_unknown_outcome_from_the_post_page(app, client, web_world):
    post_id, tid = seed(app, web_world, status=wf.T_UNKNOWN)
    login(client, web_world.approver.email)
    page = text(client.get(f"/posts/{post_id}"))
    assert "The desk cannot tell whether this went out." in page
    assert f"/targets/{tid}/not-published" in page and f"/targets/{tid}/published" in page

    r = post_form(client, f"/targets/{tid}/published", {"url": "ftp://x"}, page_url=f"/posts/{post_id}",
                  follow_redirects=True)
    assert "Nothing was changed: Paste the full link to the published post" in text(r)
    assert target(app, tid).status == wf.T_UNKNOWN

    r = post_form(client, f"/targets/{tid}/published", {"url": "https://desk.example/training/1#trn_seen"},
                  page_url=f"/posts/{post_id}", follow_redirects=True)
    assert "Recorded as published on DPA training feed, with the link you gave." in text(r)
    t = target(app, tid)
    assert (t.status, t.remote_id) == (wf.T_PUBLISHED, "trn_seen")
    assert "The desk cannot tell" not in text(client.get(f"/posts/{post_id}"))

    # The other button, from a page opened before the decision: told plainly, nothing changes.
    r = post_form(client, f"/targets/{tid}/not-published", {}, page_url="/dashboard", follow_redirects=True)
    assert "Someone has decided on this post already: reload the page" in text(r)
    assert target(app, tid).status == wf.T_PUBLISHED


def test_not_published_sends_it_again(app, client, web_world):
    post_id, tid = seed(app, web_world, status=wf.T_UNKNOWN)
    login(client, web_world.approver.email)
    r = post_form(client, f"/targets/{tid}/not-published", {}, page_url=f"/posts/{post_id}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/posts/{post_id}#target-{web_world.channel.id}")
    assert target(app, tid).status == wf.T_QUEUED


def test_a_late_post_is_sent_or_dropped_and_listed_on_the_dashboard(app, client, web_world):
    late_reason = lateness.late_reason("Mon 01 Jun 2026 06:00 BST", None)
    send_id, send_tid = seed(app, web_world, status=wf.T_HELD, held_reason=late_reason)
    drop_id, drop_tid = seed(app, web_world, status=wf.T_HELD, held_reason=late_reason)
    login(client, web_world.approver.email)
    board = text(client.get("/dashboard"))
    assert "Posts waiting for a person" in board and "Too late to go by itself" in board
    assert f"/posts/{send_id}#target-" in board and f"/posts/{drop_id}#target-" in board
    page = text(client.get(f"/posts/{send_id}"))
    assert "Its time has long passed." in page and "Send it now" in page and "Don&#39;t send" not in page

    r = post_form(client, f"/targets/{send_tid}/send-late", {}, page_url=f"/posts/{send_id}", follow_redirects=True)
    assert f"Post {send_id} goes to DPA training feed now, late." in text(r)
    r = post_form(client, f"/targets/{drop_tid}/drop-late", {}, page_url=f"/posts/{drop_id}", follow_redirects=True)
    assert f"Post {drop_id} will not go to DPA training feed." in text(r)
    assert (target(app, send_tid).status, target(app, drop_tid).status) == (wf.T_QUEUED, wf.T_CANCELLED)
    assert "Posts waiting for a person" not in text(client.get("/dashboard"))


def test_an_author_sees_no_buttons_and_is_refused(app, client, web_world):
    post_id, tid = seed(app, web_world, status=wf.T_UNKNOWN)
    login(client, web_world.author.email)
    page = text(client.get(f"/posts/{post_id}"))
    assert "Outcome unknown" in page and f"/targets/{tid}/not-published" not in page
    assert "Posts waiting for a person" not in text(client.get("/dashboard"))
    r = post_form(client, f"/targets/{tid}/not-published", {}, page_url=f"/posts/{post_id}")
    assert r.status_code == 403 and "Only approvers of DPA training feed" in text(r)
    assert target(app, tid).status == wf.T_UNKNOWN
    # Without the page's CSRF token nothing happens either.
    assert client.post(f"/targets/{tid}/not-published").status_code == 400


# ---- the publishing status page ---------------------------------------------------------------------

def test_the_status_page_for_administrators(app, client, web_world):
    post_id, tid = seed(app, web_world, status=wf.T_UNKNOWN)
    approved(web_world, utcnow() - timedelta(minutes=5), body="Due, nobody sending.")
    login(client, web_world.admin.email)
    assert "/admin/workers/" in text(client.get("/admin/"))
    page = text(client.get("/admin/workers/"))
    assert '<meta http-equiv="refresh" content="15">' in page
    assert "No worker has ever reported: nothing is being published, and 1 post is due." in page
    assert "flask --app app desk worker" in page and "Oldest overdue" in page
    assert f"/posts/{post_id}#target-" in page  # waiting for a person

    with app.extensions["desk.sessions"]() as s:
        now = utcnow()
        s.add(Worker(id="web1:42:ab", host="web1", pid=42, pool_size=8, started_at=now - timedelta(hours=1),
                     heartbeat_at=now - timedelta(seconds=2), in_flight=0))
        s.commit()
    page = text(client.get("/admin/workers/"))
    assert "1 worker is publishing; 1 post is due now." in page and "web1:42:ab" in page


def test_the_status_page_is_refused_to_an_author_and_scoped_for_a_unit_administrator(app, client, web_world):
    login(client, web_world.author.email)
    r = client.get("/admin/workers/")
    assert r.status_code == 403 and "Only desk administrators and unit administrators" in text(r)
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "access.refused",
                                                 AuditEvent.details.contains("workers.view")))
        admin.add_membership(s, OPERATOR, web_world.manager.id, web_world.other_unit.id, "unit_admin")
    approved(web_world, utcnow() - timedelta(minutes=5), body="A DPA post due now.")
    unit_admin = app.test_client()
    login(unit_admin, web_world.manager.email)
    page = text(unit_admin.get("/admin/workers/"))
    assert "Counts, posts and channels are those of your units" in page
    assert "Nothing is due now." in page  # DPA's due post is not CO11's business


# ---- how late is too late, per channel ----------------------------------------------------------------

def test_a_channels_lateness_is_set_on_its_edit_page_and_audited(app, client, web_world):
    login(client, web_world.admin.email)
    url = f"/admin/channels/{web_world.channel.id}"
    page = text(client.get(url))
    assert "How late is too late (minutes)" in page and "desk's default (60 minutes)" in page
    assert value_of(page, "late_after_minutes") in (None, "")
    base = {"name": "DPA training feed", "status": "active", "approvals_required": 1}
    r = post_form(client, url, {**base, "late_after_minutes": "-5"})
    assert "Give a whole number of minutes from 0" in field_block(text(r), "late_after_minutes")
    r = post_form(client, url, {**base, "late_after_minutes": "90"})
    assert r.status_code == 302
    with app.extensions["desk.sessions"]() as s:
        assert s.get(Channel, web_world.channel.id).late_after_minutes == 90
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel.updated")
                          .order_by(AuditEvent.seq.desc())).first()
        assert re.search(r'"late_after_minutes":\[null,90\]', event.details)
    assert value_of(text(client.get(url)), "late_after_minutes") == "90"
    assert post_form(client, url, {**base, "late_after_minutes": ""}).status_code == 302
    with app.extensions["desk.sessions"]() as s:
        assert s.get(Channel, web_world.channel.id).late_after_minutes is None
