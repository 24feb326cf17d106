"""The press officer's pages through Flask's test client, CSRF on: write, keep, refuse, submit, follow out."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select

from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.domain.timezones import display
from desk.models import AuditEvent, Post, TrainingPublication
from desk.platforms import PlatformContext, PlatformError, publisher_for
from desk.platforms.base import AUTH, PERMANENT, TRANSIENT
from desk.services import admin, publishing

from conftest import OPERATOR, login, post_form

LATER = "2030-06-01T10:00"  # 09:00 UTC: British Summer Time
LATER_UTC = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
GAP = "2030-03-31T01:30"  # the clocks go forward at 01:00 that night
TWICE = "2030-10-27T01:30"  # the clocks go back at 02:00 that night


# ---- helpers shared by the web test modules ------------------------------------------------

def as_user(app, email):
    """A browser of its own for one persona, signed in."""
    client = app.test_client()
    assert login(client, email).status_code == 200
    return client


def text_of(resp) -> str:
    """The page as a person reads it: entities decoded, runs of white space made one space."""
    return re.sub(r"\s+", " ", html.unescape(resp.get_data(as_text=True)))


def field_block(page: str, name: str, attr: str = "name") -> str:
    """The HTML of the form field named `name`, up to the end of its block (where its errors are shown)."""
    at = page.index(f'{attr}="{name}"')
    start = page.rindex('<div class="field', 0, at)
    return page[start:page.index("</div>", at)]


def is_checked(page: str, name: str, value) -> bool:
    inputs = re.findall(rf'<input [^>]*name="{name}"[^>]*>', page)
    return any(f'value="{value}"' in i and " checked" in i for i in inputs)


def post_data(channels, body="The A40 is closed eastbound after a collision. Use the A406.", when=LATER,
              asap=False, action="save", **extra):
    data = {"body": body, "link": "", "channels": [c.id for c in channels], "scheduled_at": when,
            "action": action, **extra}
    if asap:
        data["asap"] = "y"
    return data


def write_post(client, channels, **kw):
    """Fill in the new-post form; returns the response (not followed)."""
    return post_form(client, "/posts/new", post_data(channels, **kw))


def post_id_of(resp) -> int:
    return int(re.search(r"/posts/(\d+)", resp.headers["Location"]).group(1))


def sessions_of(app):
    return app.extensions["desk.sessions"]


def load_post(app, post_id):
    with sessions_of(app)() as s:
        post = s.get(Post, post_id)
        post.targets, post.approvals  # noqa: B018 - loaded before the session closes
        s.expunge_all()
        return post


def submitted_post(app, author, channels, **kw) -> int:
    resp = write_post(author, channels, action="submit", **kw)
    assert resp.status_code == 302, text_of(resp)
    return post_id_of(resp)


def approve_via_web(client, post_id):
    page = text_of(client.get(f"/approvals/{post_id}"))
    token = re.search(r'name="expected_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    return post_form(client, f"/approvals/{post_id}/approve", {"expected_hash": token, "comment": ""},
                     page_url=f"/approvals/{post_id}")


def refusals(app, attempted):
    with sessions_of(app)() as s:
        return [e for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused"))
                if f'"attempted":"{attempted}"' in e.details]


def publish_due(app, outcomes=None):
    """What the worker does for each due target: publish it, or fail it with the error given per channel."""
    outcomes = outcomes or {}
    sessions = sessions_of(app)
    ctx = PlatformContext(settings=app.config["DESK_SETTINGS"], session_factory=sessions)
    with sessions() as s:
        for claim in publishing.claim_due(s, "test-worker"):
            error = outcomes.get(claim.channel.id)
            if error is None:
                ref = publisher_for(claim.channel, ctx).publish(claim.request)
                publishing.record_success(s, claim, "test-worker", ref)
            else:
                publishing.record_failure(s, claim, "test-worker", error, max_attempts=5, retry_base_seconds=30)


# ---- writing and saving ----------------------------------------------------------------------

def test_new_post_offers_only_draftable_channels_grouped_by_unit(app, web_world):
    w = web_world
    page = text_of(as_user(app, w.author.email).get("/posts/new"))
    assert "Directorate of Public Affairs" in page
    assert w.channel.name in page and w.channel2.name in page and w.other_channel.name not in page
    for name in ("body", "link", "channels", "scheduled_at", "asap", f"target-{w.channel.id}-text",
                 f"target-{w.channel2.id}-scheduled_at"):
        assert f'name="{name}"' in page, name
    assert 'type="datetime-local"' in page
    assert 'name="action" value="save"' in page and 'name="action" value="submit"' in page
    outsider = text_of(as_user(app, w.outsider.email).get("/posts/new"))
    assert w.other_channel.name in outsider and w.channel.name not in outsider


def test_draft_with_problems_is_saved_and_shows_them_next_to_fields(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    long_text = "Too long. " * 60
    resp = write_post(author, [w.channel], body=long_text, link="ftp://example.org/x")
    page = text_of(resp)
    assert resp.status_code == 200 and "Saved as a draft, but it cannot be submitted" in page
    assert "at most 500 characters" in field_block(page, "body")
    assert long_text.strip() in field_block(page, "body")  # the text is kept
    assert "must start with http" in field_block(page, "link")
    assert 'value="ftp://example.org/x"' in field_block(page, "link")
    with sessions_of(app)() as s:
        post = s.scalars(select(Post)).one()
        assert post.status == wf.DRAFT and post.body == long_text
    # The form now edits the saved draft: saving again makes no second post.
    assert f'action="/posts/{post.id}/edit"' in page
    again = post_form(author, f"/posts/{post.id}/edit", post_data([w.channel], body="Shorter now."))
    assert again.status_code == 302
    with sessions_of(app)() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 1
        assert s.get(Post, post.id).body == "Shorter now."


def test_tailored_text_and_own_time_per_channel(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    resp = write_post(author, [w.channel, w.channel2], **{
        f"target-{w.channel.id}-text": "A40 closed eastbound. Use the A406.",
        f"target-{w.channel2.id}-scheduled_at": "2030-06-01T12:30"})
    assert resp.status_code == 302
    post = load_post(app, post_id_of(resp))
    by_channel = {t.channel_id: t for t in post.targets}
    assert by_channel[w.channel.id].text == "A40 closed eastbound. Use the A406."
    assert by_channel[w.channel.id].scheduled_at == LATER_UTC
    assert by_channel[w.channel2.id].text is None
    assert by_channel[w.channel2.id].scheduled_at == datetime(2030, 6, 1, 11, 30, tzinfo=UTC)
    # Opened again, the form shows what was saved, in desk time.
    page = text_of(author.get(f"/posts/{post.id}/edit"))
    assert 'value="2030-06-01T10:00"' in field_block(page, "scheduled_at")
    assert 'value="2030-06-01T12:30"' in field_block(page, f"target-{w.channel2.id}-scheduled_at")
    assert "A40 closed eastbound. Use the A406." in field_block(page, f"target-{w.channel.id}-text")
    view = text_of(author.get(f"/posts/{post.id}"))
    assert "Sat 01 Jun 2030 10:00 BST" in view and "Sat 01 Jun 2030 12:30 BST" in view


def test_clock_change_times_are_refused_and_everything_typed_is_kept(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    body = "Extra patrols in Camden tonight."
    resp = write_post(author, [w.channel], body=body, when=GAP,
                      **{f"target-{w.channel.id}-text": "Camden patrols tonight."})
    page = text_of(resp)
    assert resp.status_code == 400
    assert "does not exist in Europe/London" in field_block(page, "scheduled_at")
    assert "Choose 00:30 GMT or 02:30 BST" in field_block(page, "scheduled_at")
    assert f'value="{GAP}"' in field_block(page, "scheduled_at")
    assert body in field_block(page, "body")
    assert "Camden patrols tonight." in field_block(page, f"target-{w.channel.id}-text")
    assert is_checked(page, "channels", w.channel.id)
    assert "Nothing was saved yet" in page

    twice = text_of(write_post(author, [w.channel], body=body, when=TWICE))
    assert "happens twice" in field_block(twice, "scheduled_at")
    own = text_of(write_post(author, [w.channel], body=body, **{f"target-{w.channel.id}-scheduled_at": GAP}))
    assert "does not exist" in field_block(own, f"target-{w.channel.id}-scheduled_at")
    with sessions_of(app)() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0


def test_a_time_or_as_soon_as_approved_must_be_chosen(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    neither = text_of(write_post(author, [w.channel], when=""))
    assert "Choose a proposed time, or tick 'As soon as approved'" in field_block(neither, "scheduled_at")
    both = text_of(write_post(author, [w.channel], asap=True))
    assert "not both" in field_block(both, "scheduled_at")
    with sessions_of(app)() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0


def test_submit_sends_it_for_approval(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    resp = write_post(author, [w.channel], action="submit")
    assert resp.status_code == 302
    page = text_of(author.get(resp.headers["Location"]))
    assert "Submitted for approval" in page and "Awaiting approval" in page
    assert "1 more approval from DPA approvers" in page
    post = load_post(app, post_id_of(resp))
    assert post.status == wf.IN_REVIEW and post.targets[0].scheduled_at == LATER_UTC


def test_submit_with_a_past_time_keeps_the_draft_and_marks_the_time(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    resp = write_post(author, [w.channel], when="2020-01-01T10:00", action="submit")
    page = text_of(resp)
    assert resp.status_code == 200
    assert "already passed" in field_block(page, "scheduled_at")
    with sessions_of(app)() as s:
        assert s.scalars(select(Post)).one().status == wf.DRAFT


def test_forged_channel_is_refused_with_403_and_audited(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    resp = post_form(author, "/posts/new", post_data([w.other_channel]))
    assert resp.status_code == 403 and "may not draft for CO11 event feed" in text_of(resp)
    assert len(refusals(app, "post.save")) == 1


def test_edit_after_approval_withdraws_it(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel], asap=True, when="")
    assert approve_via_web(approver, post_id).status_code == 302
    assert load_post(app, post_id).status == wf.APPROVED

    form = text_of(author.get(f"/posts/{post_id}/edit"))
    assert "Saving a change withdraws its approvals" in form
    assert is_checked(form, "asap", "y")
    resp = post_form(author, f"/posts/{post_id}/edit", post_data([w.channel], body="Changed words.", when="",
                                                                 asap=True))
    assert resp.status_code == 302
    page = text_of(author.get(resp.headers["Location"]))
    assert "its approvals were withdrawn" in page and "an earlier version" in page
    post = load_post(app, post_id)
    assert post.status == wf.DRAFT and post.version == 2
    assert [a.withdrawn_at is not None for a in post.approvals] == [True]
    assert post.targets[0].status == wf.T_PENDING


def test_saving_an_unchanged_post_in_review_changes_nothing(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    post_id = submitted_post(app, author, [w.channel])
    resp = post_form(author, f"/posts/{post_id}/edit", post_data([w.channel]))
    assert "Nothing had changed" in text_of(author.get(resp.headers["Location"]))
    assert load_post(app, post_id).status == wf.IN_REVIEW


def test_rejected_post_is_edited_and_resubmitted_from_its_page(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel])
    post_form(approver, f"/approvals/{post_id}/reject",
              {"expected_hash": load_post(app, post_id).content_hash, "comment": "Name the road."},
              page_url=f"/approvals/{post_id}")
    page = text_of(author.get(f"/posts/{post_id}"))
    assert "Rejected by Sam Senior" in page and "Name the road." in page
    assert f'href="/posts/{post_id}/edit"' in page and f'action="/posts/{post_id}/submit"' in page
    post_form(author, f"/posts/{post_id}/edit", post_data([w.channel], body="A40 Western Avenue closed."))
    resp = post_form(author, f"/posts/{post_id}/submit", {}, page_url=f"/posts/{post_id}")
    assert resp.status_code == 302 and load_post(app, post_id).status == wf.IN_REVIEW


# ---- who sees what -----------------------------------------------------------------------------

def test_others_get_403_for_forged_actions_and_pages_they_may_not_see(app, web_world):
    w = web_world
    author = as_user(app, w.author.email)
    post_id = submitted_post(app, author, [w.channel])
    outsider = as_user(app, w.outsider.email)
    assert outsider.get(f"/posts/{post_id}").status_code == 403
    resp = post_form(outsider, f"/posts/{post_id}/withdraw", {"reason": "mine now"}, page_url="/dashboard")
    assert resp.status_code == 403 and "recorded in the audit trail" in text_of(resp)
    assert load_post(app, post_id).status == wf.IN_REVIEW
    assert refusals(app, "post.withdraw") and refusals(app, "post.view")
    # An approver may see it but not edit it, and gets no Edit button.
    approver = as_user(app, w.approver.email)
    page = text_of(approver.get(f"/posts/{post_id}"))
    assert f"/posts/{post_id}/edit" not in page and "Retract" not in page
    assert approver.get(f"/posts/{post_id}/edit").status_code == 403
    resp = post_form(approver, f"/posts/{post_id}/edit", post_data([w.channel], body="Hijacked"),
                     page_url="/dashboard")
    assert resp.status_code == 403 and load_post(app, post_id).body != "Hijacked"
    assert refusals(app, "post.edit")


def test_list_shows_the_posts_a_person_may_see_filtered_by_state(app, web_world):
    w = web_world
    author, outsider = as_user(app, w.author.email), as_user(app, w.outsider.email)
    in_review = submitted_post(app, author, [w.channel], body="Reviewed words about Camden.")
    write_post(author, [w.channel], body="Draft words about Brixton.")
    write_post(outsider, [w.other_channel], body="CO11 words about the camp.")
    mine = text_of(author.get("/posts/"))
    assert "Camden" in mine and "Brixton" in mine and "the camp" not in mine
    only_review = text_of(author.get("/posts/?state=in_review"))
    assert "Camden" in only_review and "Brixton" not in only_review
    assert f"/posts/{in_review}" in only_review
    assert "Camden" in text_of(as_user(app, w.approver2.email).get("/posts/"))
    assert "Camden" not in text_of(outsider.get("/posts/"))
    everything = text_of(as_user(app, w.auditor.email).get("/posts/"))
    assert "Camden" in everything and "the camp" in everything


# ---- following it out ---------------------------------------------------------------------------

def test_post_page_shows_where_each_channel_stands(app, web_world):
    w = web_world
    with sessions_of(app)() as s:
        extra = [admin.create_channel(s, OPERATOR, w.unit.id, "training", name).id
                 for name in ("DPA failing feed", "DPA flaky feed", "DPA lapsed feed")]
    failing, flaky, lapsed = extra
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    resp = post_form(author, "/posts/new", {
        "body": "Missing person found safe. Thank you for sharing.", "link": "https://example.police.uk/n/1",
        "channels": [w.channel.id, *extra], "asap": "y", "scheduled_at": "", "action": "submit"})
    post_id = post_id_of(resp)
    approve_via_web(approver, post_id)
    page = text_of(author.get(f"/posts/{post_id}"))
    assert page.count("goes out as soon as the publisher picks it up") == 4

    publish_due(app, {
        failing: PlatformError(PERMANENT, "The platform refused the post: it looks like spam.", code="x-400"),
        flaky: PlatformError(TRANSIENT, "The platform is busy.", code="x-503"),
        lapsed: PlatformError(AUTH, "The channel's authorisation has lapsed.", code="x-401"),
    })
    post = load_post(app, post_id)
    states = {t.channel_id: t for t in post.targets}
    assert post.status == wf.PARTLY_PUBLISHED
    page = text_of(author.get(f"/posts/{post_id}"))
    assert "Partly published" in page
    published = states[w.channel.id]
    assert f'href="/training/{w.channel.id}#{published.remote_id}"' in page
    assert "Not published: The platform refused the post: it looks like spam." in page
    zone = app.config["DESK_SETTINGS"].zone
    retry_at = display(states[flaky].next_attempt_at, zone)
    published_local = display(published.published_at, zone)
    assert f"The desk tries again at {retry_at}" in page and "The platform is busy." in page
    assert f"Published {published_local}" in page
    assert "Held: The channel's authorisation has lapsed. Nothing is lost" in page
    assert "https://example.police.uk/n/1" in page  # the preview shows the link as it will appear
    # The author may not retract; the approver may, and is told a reason is needed.
    assert "Retract" not in page
    approver_page = text_of(approver.get(f"/posts/{post_id}"))
    assert f'action="/posts/{post_id}/retract"' in approver_page


def test_queued_target_shows_its_local_time_and_can_be_withdrawn(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel])
    approve_via_web(approver, post_id)
    page = text_of(author.get(f"/posts/{post_id}"))
    assert "Queued: goes out at Sat 01 Jun 2030 10:00 BST." in page
    assert f'action="/posts/{post_id}/withdraw"' in page
    resp = post_form(author, f"/posts/{post_id}/withdraw", {"reason": "Road reopened early."},
                     page_url=f"/posts/{post_id}")
    page = text_of(author.get(resp.headers["Location"]))
    assert "Withdrawn" in page and "Cancelled: the post was withdrawn" in page
    assert f'action="/posts/{post_id}/withdraw"' not in page
    with sessions_of(app)() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "post.withdrawn")).one()
        assert "Road reopened early." in event.details


def test_retract_needs_a_reason_and_deletes_from_the_training_channel(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel], asap=True, when="")
    approve_via_web(approver, post_id)
    publish_due(app)
    assert load_post(app, post_id).status == wf.PUBLISHED
    # The author has no Retract button, and a forged retraction is refused and audited.
    forged = post_form(author, f"/posts/{post_id}/retract", {"reason": "oops"}, page_url=f"/posts/{post_id}")
    assert forged.status_code == 403 and refusals(app, "post.retract")
    empty = post_form(approver, f"/posts/{post_id}/retract", {"reason": "  "}, page_url=f"/posts/{post_id}")
    assert empty.status_code == 400
    assert "Give the reason for the retraction" in field_block(text_of(empty), "reason")
    resp = post_form(approver, f"/posts/{post_id}/retract", {"reason": "Wrong road named."},
                     page_url=f"/posts/{post_id}")
    page = text_of(approver.get(resp.headers["Location"]))
    assert "Retracted: Wrong road named." in page
    with sessions_of(app)() as s:
        assert s.scalars(select(TrainingPublication)).one().deleted_at is not None


def test_a_target_whose_worker_died_is_shown_as_unknown(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = submitted_post(app, author, [w.channel], asap=True, when="")
    approve_via_web(approver, post_id)
    with sessions_of(app)() as s:
        assert len(publishing.claim_due(s, "doomed-worker")) == 1
    assert "Being sent to Training now." in text_of(author.get(f"/posts/{post_id}"))
    with sessions_of(app)() as s:
        assert publishing.expire_leases(s, "other-worker", now=utcnow() + timedelta(hours=1)) == 1
    page = text_of(author.get(f"/posts/{post_id}"))
    assert "Outcome unknown" in page and "before any retry, so it is never posted twice" in page
    assert f'action="/posts/{post_id}/withdraw"' not in page  # it may have gone out: not withdrawable
