"""Repeating posts through the pages: the Repeat field, what a rejected form keeps, the series' page with
its next times, and an occurrence's page naming its series and approvers."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from test_web_posts import as_user, field_block, post_data, text_of

from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.models import Post
from desk.services import posts, recurring

from conftest import post_form


def _series(app, web_world, rule="weekdays 07:30", **extra):
    author = as_user(app, web_world.author.email)
    data = post_data([web_world.channel], when="", recurrence_rule=rule, **extra)
    return author, post_form(author, "/posts/new", data)


def test_a_rule_that_cannot_be_read_is_refused_and_everything_typed_is_kept(app, web_world):
    _author, resp = _series(app, web_world, rule="every five minutes", recurrence_until="2030-01-31")
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    block = field_block(page, "recurrence_rule")
    assert 'value="every five minutes"' in block and "is not a rule the desk reads" in text_of(resp)
    assert 'value="2030-01-31"' in field_block(page, "recurrence_until")
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(Post.id)) is None  # nothing saved


def test_too_often_and_a_proposed_time_are_refused_beside_their_fields(app, web_world):
    _author, resp = _series(app, web_world, rule="*/5 * * * *")
    assert resp.status_code == 400 and "at most every 15 minutes" in field_block(resp.get_data(as_text=True),
                                                                                 "recurrence_rule")
    author = as_user(app, web_world.author.email)
    resp = post_form(author, "/posts/new", post_data([web_world.channel], recurrence_rule="daily 08:00"))
    assert resp.status_code == 400
    assert "leave the proposed time empty" in field_block(resp.get_data(as_text=True), "scheduled_at")


def test_a_saved_series_shows_its_rule_in_words_and_next_times(app, web_world):
    author, resp = _series(app, web_world)
    assert resp.status_code == 302
    page = text_of(author.get(resp.headers["Location"]))
    assert "Repeats: Weekdays (Monday to Friday) at 07:30" in page
    assert "Next times" in page and page.count(" 07:30 ") >= 5
    assert "times that pass before the approval are not made up" in page
    post_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    edit = author.get(f"/posts/{post_id}/edit")
    assert 'value="weekdays 07:30"' in field_block(edit.get_data(as_text=True), "recurrence_rule")
    assert "Next times" in text_of(edit)  # the preview beside the field, once saved


def test_an_approved_series_lists_its_occurrences_and_each_names_its_approval(app, web_world):
    author, resp = _series(app, web_world, rule="daily 08:00")
    post_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    sessions = app.extensions["desk.sessions"]
    now = utcnow()
    with sessions() as s:
        posts.submit(s, web_world.author, post_id, now=now)
        posts.approve(s, web_world.approver, post_id, now=now)
        recurring.generate(s, now, horizon=timedelta(hours=48), zone=app.config["DESK_SETTINGS"].zone)
        occ_id = s.scalars(select(Post.id).where(Post.series_id == post_id).order_by(Post.id)).first()
    page = text_of(author.get(f"/posts/{post_id}"))
    assert "Series running" in page and "Occurrences made so far" in page and f"Post {occ_id}" in page
    assert "Stop this series" in page
    occ_page = re.sub(r"\s*<[^>]+>\s*", " ", text_of(author.get(f"/posts/{occ_id}")))  # words only
    assert f"Occurrence of repeating post {post_id} (Every day at 08:00)" in occ_page
    assert f"Approved by {web_world.approver.name}" in occ_page
    assert f'href="/posts/{occ_id}/edit"' not in author.get(f"/posts/{occ_id}").get_data(as_text=True)
    refused = author.get(f"/posts/{occ_id}/edit", follow_redirects=True)
    assert "edit the series instead" in text_of(refused)

    approver = as_user(app, web_world.approver.email)
    resp = post_form(approver, f"/posts/{post_id}/withdraw", {"reason": "Roadworks over"},
                     page_url=f"/posts/{post_id}")
    assert resp.status_code == 302
    with sessions() as s:
        assert s.get(Post, post_id).status == wf.WITHDRAWN
        assert s.get(Post, occ_id).status == wf.WITHDRAWN


def test_the_approver_sees_the_rule_before_approving(app, web_world):
    _author, resp = _series(app, web_world, rule="weekly MON 09:00")
    post_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    with app.extensions["desk.sessions"]() as s:
        posts.submit(s, web_world.author, post_id)
    approver = as_user(app, web_world.approver.email)
    page = text_of(approver.get(f"/approvals/{post_id}"))
    assert "A repeating post: Mondays at 09:00" in page and "approves every occurrence" in page
    assert "Goes out: at each occurrence (Mondays at 09:00)." in page and "as soon as approved" not in page


# ---- the API: recurrence in and out, checked against the OpenAPI document ---------------------------

from test_openapi import call, contract  # noqa: E402,F401 (fixtures)


def test_the_api_takes_and_returns_a_series_and_its_occurrences(app, web_world, call):
    channel = web_world.channel.id
    bad = call("POST", "/posts", "author", status=400,
               json={"body": "Appeal", "targets": [{"channel_id": channel}], "recurrence": {"rule": "*/5 * * * *"}})
    assert "at most every 15 minutes" in bad["fields"]["recurrence.rule"][0]
    body = {"body": "Weekly appeal for witnesses.", "targets": [{"channel_id": channel}],
            "recurrence": {"rule": "weekly MON 09:00", "until": "2099-12-31T23:00:00Z"}}
    made = call("POST", "/posts", "author", json=body, status=201)
    series = made["recurrence"]
    assert series["rule"] == "weekly MON 09:00" and series["description"] == "Mondays at 09:00"
    assert len(series["next_occurrences"]) == 5 and made["problems"] == {} and made["series_id"] is None
    post_id = made["id"]
    call("POST", "/posts/{post_id}/submit", "author", json={}, post_id=post_id)
    approved = call("POST", "/posts/{post_id}/approve", "approver", json={}, post_id=post_id)
    assert approved["state"] == wf.RECURRING and approved["targets"][0]["state"] == wf.T_PATTERN
    with app.extensions["desk.sessions"]() as s:
        recurring.generate(s, utcnow(), zone=app.config["DESK_SETTINGS"].zone)
        occ_id = s.scalar(select(Post.id).where(Post.series_id == post_id))
    occ = call("GET", "/posts/{post_id}", "author", post_id=occ_id)
    assert occ["series_id"] == post_id and occ["recurrence"] is None and occ["occurrence_at"]
    assert "edit" not in occ["allowed_actions"] and "withdraw" in occ["allowed_actions"]
    refused = call("PATCH", "/posts/{post_id}", "author", json={"body": "Changed"}, status=409, post_id=occ_id)
    assert "edit that series instead" in refused["message"]
    one_off = call("PATCH", "/posts/{post_id}", "author", json={"recurrence": None}, post_id=post_id)
    assert one_off["recurrence"] is None and one_off["state"] == wf.DRAFT
