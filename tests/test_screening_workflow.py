"""The screening in the workflow: findings come back with the saved draft, a blocking finding refuses
submission in its own words, and an approver must tick that they read the warnings (recorded with the
approval and in its audit event). On both databases for the services; then the web pages and the API."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_api import api, assert_error  # noqa: F401 (the fixture)
from test_web_posts import as_user, load_post, post_data, post_id_of, text_of, write_post

from desk.domain import workflow as wf
from desk.domain.errors import PermissionDenied, ValidationFailed
from desk.models import Approval, AuditEvent, Post, Unit
from desk.services import post_screening, posts, screening_policy
from desk.services.posts import PostInput, TargetInput, target_field

from conftest import OPERATOR, in_hours, post_form

OPSEC = "Op Nightjar"
PHONE = "07911 123456"  # a mobile number: a warning by default


def with_opsec(session, world, terms=(OPSEC,)):
    screening_policy.save_policy(session, world.admin, world.unit.id, {"opsec_terms": list(terms)})


def draft(world, now, body, channel=None, **target):
    data = PostInput(body=body, targets=[TargetInput((channel or world.channel).id, scheduled_at=in_hours(now, 24),
                                                     **target)])
    return posts.save_draft(world.session, world.author, data, now=now)


def events(session, action):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


# ---- the services, on both databases ---------------------------------------------------------------

def test_a_blocking_finding_comes_back_with_the_draft_and_refuses_submission(session, world, now):
    with_opsec(session, world)
    result = draft(world, now, f"Officers from {OPSEC} will brief the press at noon.")
    assert result.post.status == wf.DRAFT and result.post.id  # the draft is kept
    [message] = result.problems["body"]
    assert message.startswith("Operational security term: “Op Nightjar”.") and "compromise an operation" in message
    with pytest.raises(ValidationFailed) as refused:
        posts.submit(session, world.author, result.post.id, now=now)
    assert "“Op Nightjar” (operational security term)" in refused.value.message
    assert "The draft is kept" in refused.value.message
    assert refused.value.field_errors["body"] == [message]
    session.expire_all()
    assert session.get(Post, result.post.id).status == wf.DRAFT
    assert not events(session, "post.submitted")


def test_findings_are_placed_on_the_field_whose_words_matched(session, world, now):
    with_opsec(session, world)
    result = draft(world, now, "Road closed on the A40.", text=f"Tailored: {OPSEC} at Kestrel Road.",
                   extra={"title": f"Briefing on {OPSEC}"})
    cid = world.channel.id
    assert set(result.problems) >= {target_field(cid, "text"), target_field(cid, "title")}
    assert "body" not in result.problems
    found = post_screening.screen_post(result.post, now)
    assert {(i.field, i.where, i.finding.matched) for i in found.items} == {
        (target_field(cid, "text"), "the text", OPSEC), (target_field(cid, "title"), "the title", OPSEC)}


def test_warnings_do_not_stop_submission_but_the_approver_must_tick_them(session, world, now):
    post = draft(world, now, f"Call the incident room on {PHONE} with information.").post
    assert post_screening.screen_post(post, now).gate().needs_acknowledgement
    posts.submit(session, world.author, post.id, now=now)
    with pytest.raises(ValidationFailed) as refused:
        posts.approve(session, world.approver, post.id, now=now)
    assert "“07911 123456” (phone number)" in refused.value.message
    assert refused.value.field_errors == {"acknowledge_warnings": [
        "Tick this to confirm you have read the warnings shown above."]}
    session.expire_all()
    assert session.get(Post, post.id).status == wf.IN_REVIEW and not session.scalars(select(Approval)).all()

    posts.approve(session, world.approver, post.id, now=now, acknowledge_warnings=True)
    session.expire_all()
    approval = session.scalars(select(Approval)).one()
    [recorded] = json.loads(approval.acknowledged_findings)
    assert recorded["rule"] == "phone_number" and recorded["matched"] == PHONE and recorded["severity"] == "warn"
    assert recorded["channel_id"] == world.channel.id and recorded["field"] == "body" and recorded["why"]
    [event] = events(session, "post.approved")
    assert json.loads(event.details)["acknowledged_findings"] == [recorded]
    assert session.get(Post, post.id).status == wf.APPROVED


def test_a_post_without_findings_is_approved_as_before_and_records_nothing(session, world, now):
    post = draft(world, now, "The A40 is open again after this morning's collision.").post
    posts.submit(session, world.author, post.id, now=now)
    posts.approve(session, world.approver, post.id, now=now)
    approval = session.scalars(select(Approval)).one()
    assert approval.acknowledged_findings is None
    assert "acknowledged_findings" not in json.loads(events(session, "post.approved")[0].details)


def test_a_term_added_after_submission_stops_the_approval(session, world, now):
    post = draft(world, now, "Kestrel House will be open to visitors on Saturday.").post
    posts.submit(session, world.author, post.id, now=now)
    with_opsec(session, world, ["Kestrel House"])
    with pytest.raises(ValidationFailed) as refused:
        posts.approve(session, world.approver, post.id, now=now, acknowledge_warnings=True)
    assert "cannot be approved" in refused.value.message and "“Kestrel House”" in refused.value.message


def test_a_unit_can_make_a_warning_block(session, world, now):
    screening_policy.save_policy(session, world.admin, world.unit.id, {"severities": {"phone_number": "block"}})
    post = draft(world, now, f"Ring {PHONE}.").post
    with pytest.raises(ValidationFailed, match="07911 123456"):
        posts.submit(session, world.author, post.id, now=now)


def test_each_channel_is_screened_with_its_own_units_policy(session, world, now):
    with_opsec(session, world)
    outsider_post = posts.save_draft(session, world.outsider, PostInput(
        body=f"{OPSEC} is not a secret in CO11.", targets=[TargetInput(world.other_channel.id)]), now=now)
    assert outsider_post.problems == {}


def test_a_damaged_policy_holds_posts_back_rather_than_letting_them_pass(session, world, now):
    post = draft(world, now, "Road closed.").post
    session.get(Unit, world.unit.id).screening_policy = '{"opsec_patterns": ["(unclosed"]}'
    session.commit()
    with pytest.raises(ValidationFailed, match="cannot be read"):
        posts.submit(session, world.author, post.id, now=now)
    with_opsec(session, world)  # an administrator can still repair it
    assert screening_policy.policy_of(session.get(Unit, world.unit.id)).opsec_terms == (OPSEC,)


def test_the_worker_screens_again_with_the_policy_of_the_day(session, sessions, world, now):
    from desk.config import Settings
    from desk.models import Target, TrainingPublication
    from desk.platforms import PlatformContext
    from desk.worker import run_pass

    settings = Settings(database_url="(the test engine)", secret_key="test", max_attempts=3,
                        retry_base_seconds=30, worker_batch_size=10, lease_seconds=60)
    one_pass = lambda at: run_pass(sessions, PlatformContext(settings, sessions), "w:1", settings, now=at)  # noqa: E731
    post = draft(world, now, "Kestrel House opens to visitors on Saturday.").post
    posts.submit(session, world.author, post.id, now=now)
    posts.approve(session, world.approver, post.id, now=now)
    with_opsec(session, world, ["Kestrel House"])  # it came under watch after the approval

    due = in_hours(now, 25)
    assert one_pass(due).outcomes == {}
    session.expire_all()
    target = session.get(Target, post.targets[0].id)
    assert target.status == wf.T_HELD and "now blocks “Kestrel House”" in target.held_reason
    assert one_pass(due + timedelta(minutes=1)).outcomes == {}  # held, and not released by the next pass
    assert len(events(session, "target.held")) == 1 and not session.scalars(select(TrainingPublication)).all()

    with_opsec(session, world, [])  # the term is taken off the list again: it goes out by itself
    released = one_pass(due + timedelta(minutes=2))
    assert released.released == 1 and list(released.outcomes.values()) == [wf.T_PUBLISHED]


# ---- the unit's policy ----------------------------------------------------------------------------

def test_a_bad_pattern_is_refused_next_to_its_field_and_nothing_is_saved(session, world):
    with pytest.raises(ValidationFailed) as refused:
        screening_policy.save_policy(session, world.admin, world.unit.id, {
            "opsec_patterns": ["\\bTango-\\d+", "(unclosed"], "allowed_link_domains": ["not a domain"]})
    errors = refused.value.field_errors
    assert "'(unclosed' is not a valid regular expression" in errors["opsec_patterns"][0]
    assert "'not a domain' is not a domain name" in errors["allowed_link_domains"][0]
    session.expire_all()
    assert session.get(Unit, world.unit.id).screening_policy == "{}"
    assert not events(session, "unit.screening_policy_changed")


def test_policy_changes_are_audited_with_what_changed_and_only_managers_may_make_them(session, world):
    with pytest.raises(PermissionDenied):
        screening_policy.save_policy(session, world.approver, world.unit.id, {"opsec_terms": ["x"]})
    [refusal] = events(session, "access.refused")
    assert json.loads(refusal.details)["attempted"] == "unit.screening_policy"

    screening_policy.save_policy(session, world.admin, world.unit.id, {
        "opsec_terms": [" Op Nightjar ", ""], "severities": {"postcode": "block", "email_address": ""}})
    screening_policy.save_policy(session, world.admin, world.unit.id, {"opsec_terms": ["Op Nightjar"]})  # no change
    [event] = events(session, "unit.screening_policy_changed")
    changes = json.loads(event.details)["changes"]
    assert changes == {"opsec_terms": {"before": [], "after": ["Op Nightjar"]},
                       "severities": {"before": {}, "after": {"postcode": "block"}}}
    assert event.unit_id == world.unit.id
    with pytest.raises(ValidationFailed) as fixed:
        screening_policy.save_policy(session, world.admin, world.unit.id,
                                     {"severities": {"operational_security": "warn"}})
    assert fixed.value.field_errors == {"severities": ["Operational security term findings always block."]}


# ---- the web pages ------------------------------------------------------------------------------------

def plain(resp) -> str:
    """The page's words only: tags taken out, so marked words read as the text around them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(resp))).replace(" .", ".")


def set_policy(app, w, **settings):
    with app.extensions["desk.sessions"]() as s:
        screening_policy.save_policy(s, OPERATOR, w.unit.id, settings)


def test_the_author_sees_findings_next_to_the_text_and_submission_is_refused_in_words(app, web_world):
    w = web_world
    set_policy(app, w, opsec_terms=[OPSEC])
    author = as_user(app, w.author.email)
    saved = write_post(author, [w.channel], body=f"Ring {PHONE} about the fire.")
    post_id = post_id_of(saved)
    page = plain(author.get(f"/posts/{post_id}"))
    assert "Warning: Phone number — 07911 123456 in the text." in page and "only the force's public numbers" in page
    edit = plain(author.get(f"/posts/{post_id}/edit"))
    assert "The screening found, in what was saved: Warning: Phone number — 07911 123456" in edit

    refused = post_form(author, f"/posts/{post_id}/edit", post_data([w.channel], body=f"{OPSEC} briefing at noon.",
                                                                       action="submit"))
    assert refused.status_code == 200  # saved as a draft, but not submitted
    page = plain(refused)
    assert "Operational security term: “Op Nightjar”." in page and "Blocks: Operational security term" in page
    assert load_post(app, post_id).status == wf.DRAFT


def test_the_approver_sees_the_marked_words_and_must_tick_that_they_read_the_warnings(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    post_id = post_id_of(write_post(author, [w.channel], body=f"Call {PHONE} with information.", action="submit"))
    assert load_post(app, post_id).status == wf.IN_REVIEW
    review = approver.get(f"/approvals/{post_id}").get_data(as_text=True)
    assert '<mark class="finding finding-warn" title="Phone number (warning)">07911 123456</mark>' in review
    assert 'name="acknowledge_warnings"' in review and "I have read the warnings" in review
    content_hash = load_post(app, post_id).content_hash

    refused = post_form(approver, f"/approvals/{post_id}/approve", {"expected_hash": content_hash},
                        page_url=f"/approvals/{post_id}")
    assert refused.status_code == 400
    page = text_of(refused)
    assert "Nothing was approved: the screening warns about “07911 123456” (phone number)" in page
    assert "Tick this to confirm you have read the warnings shown above." in page
    assert load_post(app, post_id).status == wf.IN_REVIEW

    approved = post_form(approver, f"/approvals/{post_id}/approve",
                         {"expected_hash": content_hash, "acknowledge_warnings": "y"}, page_url=f"/approvals/{post_id}")
    assert approved.status_code == 302
    post = load_post(app, post_id)
    assert post.status == wf.APPROVED
    assert json.loads(post.approvals[0].acknowledged_findings)[0]["matched"] == PHONE


def test_no_tick_box_when_nothing_warns(app, web_world):
    w = web_world
    post_id = post_id_of(write_post(as_user(app, w.author.email), [w.channel], body="Road open.", action="submit"))
    review = as_user(app, w.approver.email).get(f"/approvals/{post_id}").get_data(as_text=True)
    assert 'name="acknowledge_warnings"' not in review and "Screening for this channel" not in review


def test_the_policy_page_keeps_what_was_typed_and_shows_a_bad_pattern_next_to_its_field(app, web_world):
    w = web_world
    admin = as_user(app, w.admin.email)
    url = f"/admin/units/{w.unit.id}/screening"
    page = text_of(admin.get(url))
    assert "Screening policy of DPA" in page and "police.uk" in page
    form = {"opsec_terms": "Op Nightjar\nBravo Two Zero", "opsec_patterns": "(unclosed",
            "allowed_link_domains": "police.uk\ngov.uk", "allowed_email_domains": "police.uk",
            "allowed_phone_numbers": "101\n999", "allowed_phrases": "Cock Lane", "severity-postcode": "block"}
    refused = post_form(admin, url, form)
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    block = html[html.index('name="opsec_patterns"'):]
    assert "is not a valid regular expression" in block[:block.index("</div>")]
    assert "Bravo Two Zero" in html  # what was typed is kept
    with app.extensions["desk.sessions"]() as s:
        assert s.get(Unit, w.unit.id).screening_policy == "{}"

    saved = post_form(admin, url, {**form, "opsec_patterns": "\\bTango[- ]?\\d+\\b"})
    assert saved.status_code == 302
    assert "It applies at once" in text_of(admin.get(url))
    with app.extensions["desk.sessions"]() as s:
        policy = screening_policy.policy_of(s.get(Unit, w.unit.id))
    assert policy.opsec_terms == ("Op Nightjar", "Bravo Two Zero") and policy.severity_of("postcode") == "block"
    assert policy.allowed_phrases == ("Cock Lane",)
    assert as_user(app, w.approver.email).get(url).status_code == 403


def test_the_form_screens_while_the_author_types(app, web_world):
    w = web_world
    set_policy(app, w, opsec_terms=[OPSEC])
    author = as_user(app, w.author.email)
    answer = post_form(author, "/screening/check", {"text": f"{OPSEC} today", "channel": [w.channel.id]},
                       page_url="/posts/new").get_json()
    assert [(f["rule"], f["matched"], f["severity"]) for f in answer["findings"]] == [
        ("operational_security", OPSEC, "block")]
    other = post_form(author, "/screening/check", {"text": f"{OPSEC} today", "channel": [w.other_channel.id]},
                      page_url="/posts/new").get_json()
    assert other["findings"] == []  # CO11's policy, which the author may not read, is not applied


# ---- the API ------------------------------------------------------------------------------------------

def test_the_api_returns_findings_refuses_blocks_and_needs_the_acknowledgement(api, app):  # noqa: F811
    w = api.world
    set_policy(app, w, opsec_terms=[OPSEC])
    blocked = api.new_post(body=f"{OPSEC} starts tonight.")
    assert blocked["problems"]["body"][0].startswith("Operational security term: “Op Nightjar”.")
    assert blocked["screening"][0]["rule"] == "operational_security" and blocked["screening"][0]["field"] == "body"
    refusal = assert_error(api.post(f"/posts/{blocked['id']}/submit", "author"), 400, "invalid")
    assert "“Op Nightjar”" in refusal["message"]

    post = api.submitted(body=f"Ring {PHONE}.")
    assert post["screening"][0]["severity"] == "warn" and post["screening"][0]["matched"] == PHONE
    body = assert_error(api.post(f"/posts/{post['id']}/approve", "approver", {}), 400, "invalid")
    assert body["fields"] == {"acknowledge_warnings": ["Tick this to confirm you have read the warnings shown above."]}
    assert_error(api.post(f"/posts/{post['id']}/approve", "approver", {"acknowledge_warnings": "yes"}), 400, "invalid")
    approved = api.post(f"/posts/{post['id']}/approve", "approver", {"acknowledge_warnings": True})
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"
    trail = api.get(f"/audit?post_id={post['id']}&action=post.approved", "auditor").get_json()
    assert trail["events"][0]["details"]["acknowledged_findings"][0]["matched"] == PHONE


@pytest.mark.parametrize("channel", ["²", "99999999999", "-1", "0"])
def test_a_channel_that_names_no_row_is_passed_over_by_the_typing_check(app, web_world, channel):
    """'²' is a digit to str.isdigit but not to int(), and 99999999999 is beyond the database's integers:
    neither is a channel, and neither may turn the check into a server error."""
    w = web_world
    set_policy(app, w, opsec_terms=[OPSEC])
    author = as_user(app, w.author.email)
    answer = post_form(author, "/screening/check", {"text": f"{OPSEC} today", "channel": [channel, w.channel.id]},
                       page_url="/posts/new")
    assert answer.status_code == 200
    assert [f["rule"] for f in answer.get_json()["findings"]] == ["operational_security"]
