"""Updates posted from a template whose filled-in values draw a screening warning: they go to an approver like
any post, since the template's approval covers its own words and not what was typed into it; a blocking finding
refuses them; typed fields (a choice, a time, a whole number) let the common updates carry no free text and go
out on the template's approval. The domain's rules first, then the use cases on both databases, the pages and
the API."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from test_api import api, assert_error  # noqa: F401 (the fixture)
from test_templates import BODY, FIELDS, VALUES, approved_template, one_pass, template_rows, trail, write  # noqa: F401
from test_web_posts import as_user, load_post, text_of

from desk.domain import post_templates as domain
from desk.domain import template_gate
from desk.domain import workflow as wf
from desk.domain.errors import PermissionDenied, ValidationFailed
from desk.domain.screening import Policy, screen
from desk.models import Post, PostTemplate
from desk.services import posts, screening_policy
from desk.services import templates as service

from conftest import post_form

PHONE = "07911 123456"
WARNED = {**VALUES, "advice": f"Drivers can call {PHONE}."}
LANES = [{"name": "road", "label": "Road", "type": "choice", "choices": ["A40 Westway", "Marylebone Road"]},
         {"name": "lanes", "label": "Lanes closed", "type": "number", "limit": 6},
         {"name": "until", "label": "Until", "type": "time"}]
LANES_BODY = "{road}: {lanes} lanes closed until {until}."


# ---- the domain: plain Python ---------------------------------------------------------------------

def test_a_number_field_takes_a_whole_number_up_to_its_limit():
    specs = domain.check("Lanes", LANES_BODY, LANES)
    assert specs[1].type == domain.NUMBER and specs[1].limit == 6
    assert specs[1].describe() == "a whole number from 0 to 6"
    clean = domain.validate_values(specs, {"road": "A40 Westway", "lanes": " 03 ", "until": "7:30"})
    assert clean == {"road": "A40 Westway", "lanes": "3", "until": "07:30"}
    for given, said in (("7", "Lanes closed: at most 6; this is 7."),
                        ("two", "Lanes closed: give a whole number from 0 to 6, in digits."),
                        ("-1", "Lanes closed: give a whole number from 0 to 6, in digits."),
                        ("2.5", "Lanes closed: give a whole number from 0 to 6, in digits.")):
        with pytest.raises(ValidationFailed) as refused:
            domain.validate_values(specs, {"road": "A40 Westway", "lanes": given, "until": "07:30"})
        assert refused.value.field_errors == {"values.lanes": [said]}, given
    with pytest.raises(ValidationFailed) as refused:
        domain.check("Lanes", LANES_BODY, [LANES[0], {**LANES[1], "limit": ""}, LANES[2]])
    assert refused.value.field_errors == {"fields-1-limit": ["Say the highest number allowed, from 1 to 999999."]}
    assert not domain.has_free_text(specs) and domain.has_free_text(domain.check("Road", BODY, FIELDS))


def _decide(body, specs, values, acknowledged=()):
    rendered = domain.render(body, domain.validate_values(specs, values))
    return template_gate.decide(screen(rendered.text, policy=Policy()), rendered, specs, acknowledged)


def test_the_gate_covers_only_warnings_in_the_templates_own_words_that_its_approver_read():
    specs = domain.check("Road", BODY + " Details: www.example.org/roads", FIELDS)
    body = BODY + " Details: www.example.org/roads"
    plain = _decide(body, specs, VALUES)
    assert [f.matched for f in plain.unread] == ["www.example.org/roads"] and not plain.covered
    assert plain.needs_approver and plain.reasons()[0]["where"] == "the template's own words"
    read = _decide(body, specs, VALUES, acknowledged=[{"rule": "link_domain", "matched": "WWW.example.org/roads"}])
    assert not read.needs_approver and [f.matched for f in read.covered] == ["www.example.org/roads"]
    typed = _decide(body, specs, WARNED, acknowledged=[{"rule": "link_domain", "matched": "www.example.org/roads"}])
    assert typed.needs_approver and [(r["field"], r["matched"]) for r in typed.reasons()] == [("advice", PHONE)]
    assert typed.reasons()[0]["where"] == "Advice (typed in)"
    # A value acknowledged elsewhere is still typed in: the approval covers the words the approver read.
    again = _decide(BODY, domain.check("Road", BODY, FIELDS), WARNED,
                    acknowledged=[{"rule": "phone_number", "matched": PHONE}])
    assert again.needs_approver


# ---- the use cases, on both databases ----------------------------------------------------------------

def test_a_warning_in_a_typed_in_value_sends_the_update_to_an_approver(session, world, now, one_pass):  # noqa: F811
    t = approved_template(world, now)
    with pytest.raises(ValidationFailed) as refused:
        service.publish_from_template(session, world.author, t.id, WARNED, now=now)
    assert set(refused.value.field_errors) == {"values.advice", "acknowledge_warnings"}
    assert f"“{PHONE}” (phone number) in Advice" in refused.value.message
    assert "needs an approver" in refused.value.message
    assert session.scalar(select(func.count(Post.id))) == 0

    result = service.publish_from_template(session, world.author, t.id, WARNED, acknowledge_warnings=True, now=now)
    post = result.post
    assert result.sent_for_approval and post.status == wf.IN_REVIEW and post.submitted_at == now
    assert [tg.status for tg in post.targets] == [wf.T_PENDING] and not post.approvals
    assert not trail(session, "post.published_from_template")
    [event] = trail(session, "post.submitted_from_template")
    assert event["approval"] == "approver" and "does not cover what was typed" in event["approval_reason"]
    [why] = event["warnings"]
    assert (why["rule"], why["matched"], why["field"], why["where"]) == ("phone_number", PHONE, "advice",
                                                                        "Advice (typed in)")
    assert event["values"]["advice"] == f"Drivers can call {PHONE}." and event["template_version"] == 1

    with pytest.raises(PermissionDenied):  # the author never approves it, whatever the template says
        posts.approve(session, world.author, post.id, now=now, acknowledge_warnings=True)
    with pytest.raises(ValidationFailed, match="warns about"):  # the approver acknowledges the warning
        posts.approve(session, world.approver2, post.id, now=now)
    done = posts.approve(session, world.approver2, post.id, now=now, acknowledge_warnings=True)
    assert done.status == wf.APPROVED
    assert json.loads(done.approvals[0].acknowledged_findings)[0]["matched"] == PHONE
    assert list(one_pass(now + timedelta(seconds=1)).outcomes.values()) == [wf.T_PUBLISHED]


def test_a_warned_update_needs_the_usual_approvals_of_its_channel(session, world, now):
    t = service.create_template(session, world.approver, world.unit.id, service.TemplateInput(
        "Two keys", BODY, FIELDS, [world.channel2.id]), now=now)
    service.approve_template(session, world.approver2, t.id, now=now)
    post = service.publish_from_template(session, world.author, t.id, WARNED, acknowledge_warnings=True,
                                         now=now).post
    assert posts.outstanding(post) == {world.channel2.id: 2}  # the template's approval counts for none of them
    assert posts.approve(session, world.approver, post.id, now=now, acknowledge_warnings=True).status == wf.IN_REVIEW
    assert posts.approve(session, world.approver2, post.id, now=now, acknowledge_warnings=True).status == wf.APPROVED


def test_an_update_without_warnings_goes_out_on_the_templates_approval_and_says_so(session, world, now):
    t = approved_template(world, now)
    result = service.publish_from_template(session, world.author, t.id, VALUES, now=now)
    assert not result.sent_for_approval and result.post.status == wf.APPROVED
    [event] = trail(session, "post.published_from_template")
    assert event["approval"] == "template" and event["warnings"] == []
    assert "covers this update" in event["approval_reason"]


def test_a_warning_in_the_templates_own_words_is_covered_only_when_its_approver_read_it(session, world, now):
    body = BODY + " Details: www.example.org/roads"
    t = write(world, now, body=body)
    with pytest.raises(ValidationFailed, match="warns about"):
        service.approve_template(session, world.approver2, t.id, now=now)
    service.approve_template(session, world.approver2, t.id, acknowledge_warnings=True, now=now)
    covered = service.publish_from_template(session, world.author, t.id, VALUES, now=now)
    assert covered.post.status == wf.APPROVED
    [event] = trail(session, "post.published_from_template")
    assert [f["matched"] for f in event["covered_warnings"]] == ["www.example.org/roads"]

    # The unit stops allowing Crimestoppers' number after the approval: the template's words now warn about
    # what its approver never read.
    t2 = service.create_template(session, world.approver, world.unit.id, service.TemplateInput(
        "Witnesses", "{road} is closed. Call Crimestoppers on 0800 555 111.", FIELDS[:1], [world.channel.id]),
        now=now)
    service.approve_template(session, world.approver2, t2.id, now=now)
    screening_policy.save_policy(session, world.admin, world.unit.id, {"allowed_phone_numbers": ["101"]})
    with pytest.raises(ValidationFailed, match="needs an approver"):
        service.publish_from_template(session, world.author, t2.id, {"road": "A40 Westway"}, now=now)
    sent = service.publish_from_template(session, world.author, t2.id, {"road": "A40 Westway"},
                                         acknowledge_warnings=True, now=now)
    assert sent.post.status == wf.IN_REVIEW
    assert trail(session, "post.submitted_from_template")[0]["warnings"][0]["where"] == "the template's own words"


def test_a_choice_is_screened_when_the_template_is_approved_and_covered_once_read(session, world, now):
    fields = [{**FIELDS[0], "choices": ["A40 Westway", "Marylebone Road (diversion: www.example.org/d)"]}]
    t = write(world, now, body="{road} is closed.", fields=fields)
    with pytest.raises(ValidationFailed, match="warns about"):
        service.approve_template(session, world.approver2, t.id, now=now)
    service.approve_template(session, world.approver2, t.id, acknowledge_warnings=True, now=now)
    post = service.publish_from_template(session, world.author, t.id, {"road": "marylebone road (diversion: "
                                                                               "www.example.org/d)"}, now=now).post
    assert post.status == wf.APPROVED


def test_typed_fields_carry_no_free_text_and_go_out_at_once(session, world, now):
    t = write(world, now, body=LANES_BODY, fields=LANES)
    service.approve_template(session, world.approver2, t.id, now=now)
    post = service.publish_from_template(session, world.author, t.id,
                                         {"road": "A40 Westway", "lanes": "2", "until": "18:00"}, now=now).post
    assert post.status == wf.APPROVED and post.body == "A40 Westway: 2 lanes closed until 18:00."


# ---- the pages ------------------------------------------------------------------------------------------

def test_the_page_sends_a_warned_update_to_an_approver_who_sees_why(app, web_world):
    w = web_world
    with app.extensions["desk.sessions"]() as s:
        t = service.create_template(s, w.approver, w.unit.id, service.TemplateInput(
            "Road closure update", BODY, FIELDS, [w.channel.id]))
        service.approve_template(s, w.approver2, t.id)
        template_id = t.id
    author, approver2 = as_user(app, w.author.email), as_user(app, w.approver2.email)
    url = f"/templates/{template_id}/post"
    assert "unless the screening warns" in text_of(author.get(url))
    form = {"values.road": "A40 Westway", "values.direction": "eastbound", "values.time": "09:05",
            "values.advice": f"Drivers can call {PHONE}.", "when": "now"}
    warned = post_form(author, url, form)
    page = text_of(warned)
    assert warned.status_code == 400 and "needs an approver" in page and "Send it to an approver" in page
    assert f"Phone number: “{PHONE}”" in page and PHONE in page  # next to the field, and what was typed is kept
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(func.count(Post.id))) == 0

    sent = post_form(author, url, {**form, "acknowledge_warnings": "y"})
    assert sent.status_code == 302, text_of(sent)
    post_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    post = load_post(app, post_id)
    assert post.status == wf.IN_REVIEW and post.template_id == template_id
    shown = text_of(author.get(sent.headers["Location"]))
    assert "Sent for approval" in shown and "sent to an approver" in shown and PHONE in shown
    assert f'href="/approvals/{post_id}"' in approver2.get("/approvals/").get_data(as_text=True)
    review = text_of(approver2.get(f"/approvals/{post_id}"))
    assert "Road closure update" in review and "sent to an approver" in review
    approved = post_form(approver2, f"/approvals/{post_id}/approve",
                         {"expected_hash": post.content_hash, "acknowledge_warnings": "y"},
                         page_url=f"/approvals/{post_id}")
    assert approved.status_code == 302 and load_post(app, post_id).status == wf.APPROVED


def test_the_pages_write_a_number_field_and_say_a_bad_number_next_to_it(app, web_world):
    w = web_world
    approver, approver2, author = (as_user(app, u.email) for u in (w.approver, w.approver2, w.author))
    saved = post_form(approver, f"/templates/units/{w.unit.id}/new", {
        "name": "Lanes", "body": LANES_BODY, "channel_ids": [w.channel.id], **template_rows(LANES)})
    assert saved.status_code == 302, text_of(saved)
    with app.extensions["desk.sessions"]() as s:
        t = s.scalars(select(PostTemplate)).one()
        template_id, content_hash = t.id, t.content_hash
    assert "a whole number from 0 to 6" in text_of(approver.get(saved.headers["Location"]))
    post_form(approver2, f"/templates/{template_id}/approve", {"expected_hash": content_hash},
              page_url=saved.headers["Location"])
    url = f"/templates/{template_id}/post"
    assert 'inputmode="numeric"' in author.get(url).get_data(as_text=True)
    bad = post_form(author, url, {"values.road": "A40 Westway", "values.lanes": "seven", "values.until": "18:00",
                                  "when": "now"})
    assert bad.status_code == 400
    assert "Lanes closed: give a whole number from 0 to 6, in digits." in text_of(bad) and "seven" in text_of(bad)
    good = post_form(author, url, {"values.road": "A40 Westway", "values.lanes": "2", "values.until": "18:00",
                                   "when": "now"})
    assert good.status_code == 302
    assert load_post(app, int(good.headers["Location"].rsplit("/", 1)[1])).status == wf.APPROVED


# ---- the API ------------------------------------------------------------------------------------------------

def test_the_api_sends_a_warned_update_to_an_approver(api, app):  # noqa: F811
    w = api.world
    with app.extensions["desk.sessions"]() as s:
        t = service.create_template(s, w.approver, w.unit.id,
                                    service.TemplateInput("Road closure update", BODY, FIELDS, [w.channel.id]))
        service.approve_template(s, w.approver2, t.id)
        template_id = t.id
    body = assert_error(api.post(f"/templates/{template_id}/publish", "author", {"values": WARNED}), 400, "invalid")
    assert "needs an approver" in body["message"] and {"values.advice", "acknowledge_warnings"} <= set(body["fields"])
    made = api.post(f"/templates/{template_id}/publish", "author", {"values": WARNED, "acknowledge_warnings": True})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["state"] == "in_review"
    document = api.client.get("/api/v1/openapi.json").get_json()
    publish = document["paths"]["/templates/{template_id}/publish"]["post"]
    assert "in_review" in publish["responses"]["201"]["description"]
    assert "number" in document["components"]["schemas"]["TemplateField"]["properties"]["type"]["enum"]
