"""The approver's pages through Flask's test client, CSRF on: the queue, the review, four-eyes, conflicts."""
from __future__ import annotations

import re

from test_web_posts import (
    approve_via_web,
    as_user,
    field_block,
    load_post,
    post_data,
    refusals,
    submitted_post,
    text_of,
)

from desk.domain import workflow as wf

from conftest import post_form


def hash_on(page: str) -> str:
    return re.search(r'name="expected_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)


def test_queue_shows_what_still_needs_my_vote(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    post_id = submitted_post(app, author, [w.channel], body="Appeal for witnesses in Peckham.")
    submitted_post(app, as_user(app, w.outsider.email), [w.other_channel], body="Camp briefing at noon.")
    write_draft = post_form(author, "/posts/new", post_data([w.channel], body="A draft nobody reviews."))
    assert write_draft.status_code == 302

    approver = as_user(app, w.approver.email)
    queue = text_of(approver.get("/approvals/"))
    assert "Appeal for witnesses in Peckham." in queue and f"/approvals/{post_id}" in queue
    assert "Camp briefing" not in queue and "A draft nobody reviews" not in queue
    assert "Sat 01 Jun 2030 10:00 BST" in queue
    assert "Appeal for witnesses" in text_of(as_user(app, w.approver2.email).get("/approvals/"))
    assert "not an approver in any unit" in text_of(author.get("/approvals/"))
    assert "Appeal for witnesses" not in text_of(as_user(app, w.outsider.email).get("/approvals/"))
    assert "1 post waiting for your approval" in text_of(approver.get("/dashboard"))
    assert "waiting for your approval" not in text_of(author.get("/dashboard"))

    approve_via_web(approver, post_id)
    assert "Nothing is waiting for you" in text_of(approver.get("/approvals/"))
    assert "No post is waiting for your approval" in text_of(approver.get("/dashboard"))


def test_review_shows_each_channels_preview_and_approve_publishes_the_version_read(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel], body="Road closed on the A40.", **{
        f"target-{w.channel.id}-text": "A40 closed. Use the A406.", "link": "https://example.police.uk/a40"})
    page = text_of(approver.get(f"/approvals/{post_id}"))
    assert "A40 closed. Use the A406." in page and "Training · DPA" in page
    assert "https://example.police.uk/a40" in page and "Goes out: Sat 01 Jun 2030 10:00 BST" in page
    assert hash_on(page) == load_post(app, post_id).content_hash
    resp = post_form(approver, f"/approvals/{post_id}/approve", {"expected_hash": hash_on(page), "comment": "Good."},
                     page_url=f"/approvals/{post_id}")
    assert resp.headers["Location"].endswith(f"/posts/{post_id}")
    after = text_of(approver.get(resp.headers["Location"]))
    assert "Approved. It goes out at its time" in after and "Good." in after
    post = load_post(app, post_id)
    assert post.status == wf.APPROVED and post.targets[0].status == wf.T_QUEUED
    decisions = text_of(author.get("/dashboard"))
    assert "Sam Senior" in decisions and "Good." in decisions


def test_two_key_channel_needs_two_different_approvers(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    approver, approver2 = as_user(app, w.approver.email), as_user(app, w.approver2.email)
    post_id = submitted_post(app, author, [w.channel2])
    resp = approve_via_web(approver, post_id)
    assert "It still needs 1 more from another approver" in text_of(approver.get(resp.headers["Location"]))
    assert load_post(app, post_id).status == wf.IN_REVIEW
    assert f"/approvals/{post_id}" not in text_of(approver.get("/approvals/"))
    again = text_of(approver.get(f"/approvals/{post_id}"))
    assert "You have approved this version" in again and "Approve this version" not in again
    assert f"/approvals/{post_id}" in text_of(approver2.get("/approvals/"))
    approve_via_web(approver2, post_id)
    assert load_post(app, post_id).status == wf.APPROVED


def test_reject_needs_a_comment_and_the_author_is_told(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel])
    version = load_post(app, post_id).content_hash
    empty = post_form(approver, f"/approvals/{post_id}/reject", {"expected_hash": version, "comment": "   "},
                      page_url=f"/approvals/{post_id}")
    page = text_of(empty)
    assert empty.status_code == 400
    assert "Say why it is rejected" in field_block(page, "reject-comment", attr="id")
    assert "Say why" not in field_block(page, "approve-comment", attr="id")
    assert load_post(app, post_id).status == wf.IN_REVIEW
    resp = post_form(approver, f"/approvals/{post_id}/reject",
                     {"expected_hash": version, "comment": "Name the road and the diversion."},
                     page_url=f"/approvals/{post_id}")
    assert resp.headers["Location"].endswith("/approvals/")
    assert load_post(app, post_id).status == wf.REJECTED
    dashboard = text_of(author.get("/dashboard"))
    assert "Rejected by Sam Senior: “Name the road and the diversion.”" in dashboard
    assert f'href="/posts/{post_id}/edit"' in dashboard


def test_a_post_changed_meanwhile_is_not_approved_and_the_approver_is_told(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel])
    read = hash_on(text_of(approver.get(f"/approvals/{post_id}")))
    # The author changes the words and submits again while the approver is reading.
    post_form(author, f"/posts/{post_id}/edit", post_data([w.channel], body="Different words.", action="submit"))
    resp = post_form(approver, f"/approvals/{post_id}/approve", {"expected_hash": read, "comment": ""},
                     page_url=f"/approvals/{post_id}")
    assert resp.headers["Location"].endswith(f"/approvals/{post_id}")
    page = text_of(approver.get(resp.headers["Location"]))
    assert "The post changed after you opened it" in page and "Different words." in page
    assert load_post(app, post_id).status == wf.IN_REVIEW
    rejected = post_form(approver, f"/approvals/{post_id}/reject", {"expected_hash": read, "comment": "No."},
                         page_url=f"/approvals/{post_id}")
    assert "changed after you opened it" in text_of(approver.get(rejected.headers["Location"]))
    assert load_post(app, post_id).status == wf.IN_REVIEW


def test_author_cannot_approve_own_post_even_as_an_approver(app, web_world):
    w = web_world
    own = as_user(app, w.approver.email)  # an approver of DPA who is also an author there
    post_id = submitted_post(app, own, [w.channel], body="My own words.")
    assert f"/approvals/{post_id}" not in text_of(own.get("/approvals/"))
    review = text_of(own.get(f"/approvals/{post_id}"))
    assert "You wrote this post: another approver must approve it." in review
    assert "Approve this version" not in review and 'action="/approvals/' not in review
    assert f"/approvals/{post_id}" not in text_of(own.get(f"/posts/{post_id}"))

    version = load_post(app, post_id).content_hash
    forged = post_form(own, f"/approvals/{post_id}/approve", {"expected_hash": version, "comment": ""},
                       page_url=f"/posts/{post_id}")
    assert forged.status_code == 403 and "another approver must approve it" in text_of(forged)
    forged_reject = post_form(own, f"/approvals/{post_id}/reject", {"expected_hash": version, "comment": "x"},
                              page_url=f"/posts/{post_id}")
    assert forged_reject.status_code == 403
    [refusal] = refusals(app, "post.approve")
    assert refusal.actor == w.approver.email and refusal.post_id == post_id
    assert refusals(app, "post.reject")
    assert load_post(app, post_id).status == wf.IN_REVIEW and load_post(app, post_id).approvals == []
    # Another approver sees it in the queue and may approve it.
    other = as_user(app, w.approver2.email)
    assert f"/approvals/{post_id}" in text_of(other.get("/approvals/"))
    approve_via_web(other, post_id)
    assert load_post(app, post_id).status == wf.APPROVED


def test_outsider_may_not_open_a_review(app, web_world):
    w = web_world
    post_id = submitted_post(app, as_user(app, w.author.email), [w.channel])
    outsider = as_user(app, w.outsider.email)
    assert outsider.get(f"/approvals/{post_id}").status_code == 403
    forged = post_form(outsider, f"/approvals/{post_id}/approve",
                       {"expected_hash": load_post(app, post_id).content_hash}, page_url="/dashboard")
    assert forged.status_code == 403 and refusals(app, "post.approve")
