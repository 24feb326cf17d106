"""Pre-approved templates: the domain's fields and values (plain Python), then the use cases on both
databases (four-eyes, editing resets the approval, suspension stops publishing at once, publishing
goes out through the worker on the training channel, screening stops a blocking value), then the
pages and the API."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from test_api import api, assert_error  # noqa: F401 (the fixture)
from test_web_posts import as_user, load_post, text_of

from desk.config import Settings
from desk.domain import post_templates as domain
from desk.domain import workflow as wf
from desk.domain.errors import NotFound, PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AuditEvent, Post, PostTemplate, Target, TrainingPublication
from desk.platforms import PlatformContext
from desk.services import screening_policy
from desk.services import templates as service
from desk.worker import run_pass

from conftest import OPERATOR, post_form

BODY = "{road} is closed {direction} from {time}. {advice}"
FIELDS = [
    {"name": "road", "label": "Road", "type": "choice", "choices": ["A40 Westway", "Marylebone Road"]},
    {"name": "direction", "label": "Direction", "type": "choice", "choices": ["eastbound", "westbound", "both ways"]},
    {"name": "time", "label": "From", "type": "time"},
    {"name": "advice", "label": "Advice", "type": "text", "limit": 80},
]
VALUES = {"road": "a40 westway", "direction": "eastbound", "time": "9:05", "advice": "Use the A406 instead."}
TEXT = "A40 Westway is closed eastbound from 09:05. Use the A406 instead."


# ---- the domain: plain Python ---------------------------------------------------------------------

def test_placeholders_are_plain_names_and_literal_braces_are_doubled():
    assert domain.placeholders("{road} then {time}, {road} again {{not a field}}") == ["road", "time"]
    for bad, words in (("{road", "not closed"), ("{Road}", "{Road} is not a field"),
                       ("{road:>10}", "{road:>10} is not a field"), ("{road!r}", "{road!r}"), ("{0}", "{0}")):
        with pytest.raises(ValidationFailed) as refused:
            domain.placeholders(bad)
        assert words in refused.value.field_errors["body"][0]


def test_a_definition_is_checked_whole_with_each_problem_on_its_field():
    specs = domain.check("Road closure", BODY, FIELDS)
    assert [s.name for s in specs] == ["road", "direction", "time", "advice"] and specs[3].limit == 80
    with pytest.raises(ValidationFailed) as refused:
        domain.check("", "{road} until {until}", [
            {"name": "road", "type": "choice", "choices": "A40\n"}, {"name": "Bad Name", "type": "text", "limit": 5},
            {"name": "note", "type": "text", "limit": 900}, {"name": "x", "type": "colour"}])
    errors = refused.value.field_errors
    assert errors["name"] and "{until}" in errors["body"][0]
    assert errors["fields-0-choices"] == ["List at least two choices, one per line."]
    assert "lower-case name" in errors["fields-1-name"][0]
    assert "from 1 to 280" in errors["fields-2-limit"][0] and "{note} is not in the text" in errors["fields-2-name"][0]
    assert errors["fields-3-type"] == ["Choose a type: choice, time, number, text."]


def test_values_are_made_clean_or_refused_each_with_its_own_words():
    specs = domain.check("Road closure", BODY, FIELDS)
    assert domain.validate_values(specs, VALUES) == {
        "road": "A40 Westway", "direction": "eastbound", "time": "09:05", "advice": "Use the A406 instead."}
    with pytest.raises(ValidationFailed) as refused:
        domain.validate_values(specs, {"road": "M25", "time": "25:00", "advice": "x " * 60, "colour": "red"})
    errors = refused.value.field_errors
    assert errors["values.road"] == ["Road: choose one of the approved values (A40 Westway; Marylebone Road)."]
    assert errors["values.direction"] == ["Direction: fill it in (one of: eastbound; westbound; both ways)."]
    assert errors["values.time"] == ["From: give a time as HH:MM on the 24-hour clock, such as 14:30."]
    assert errors["values.advice"] == ["Advice: at most 80 characters; this has 119. Shorten it by 39."]
    assert errors["values.colour"] == ["This template has no field called colour."]


def test_rendering_knows_where_each_value_went():
    specs = domain.check("Road closure", BODY, FIELDS)
    rendered = domain.render(BODY, domain.validate_values(specs, VALUES))
    assert rendered.text == TEXT
    start = TEXT.index("A406")
    assert domain.field_at(rendered, start, start + 4) == "advice"
    assert domain.field_at(rendered, TEXT.index("is closed"), TEXT.index("is closed") + 2) is None
    assert domain.sample(BODY, specs).text == "[Road] is closed [Direction] from [From]. [Advice]"
    one = domain.content_hash("Road closure", BODY, specs, [2, 1])
    assert one == domain.content_hash("Road closure", BODY, specs, [1, 2])
    assert one != domain.content_hash("Road closure", BODY + " ", specs, [1, 2])


# ---- the use cases, on both databases ----------------------------------------------------------------

def write(world, now, who=None, body=BODY, fields=FIELDS):
    return service.create_template(world.session, who or world.approver, world.unit.id, service.TemplateInput(
        "Road closure update", body, fields, [world.channel.id]), now=now)


def approved_template(world, now):
    t = write(world, now)
    return service.approve_template(world.session, world.approver2, t.id, expected_hash=t.content_hash, now=now)


def trail(session, action):
    return [json.loads(e.details) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))]


@pytest.fixture
def one_pass(sessions):
    settings = Settings(database_url="(the test engine)", secret_key="test", max_attempts=3,
                        retry_base_seconds=30, worker_batch_size=10, lease_seconds=60)
    context = PlatformContext(settings, sessions)
    return lambda now: run_pass(sessions, context, "test-host:1", settings, now=now)


def test_four_eyes_the_writer_of_a_version_never_approves_it(session, world, now):
    t = write(world, now)
    assert t.status == service.DRAFT and t.version == 1 and t.content_hash
    with pytest.raises(PermissionDenied, match="another approver must approve it"):
        service.approve_template(session, world.approver, t.id, now=now)
    assert trail(session, "access.refused")[-1]["attempted"] == "template.approve"
    with pytest.raises(PermissionDenied):
        write(world, now, who=world.author)  # an author is not an approver of the channel
    done = service.approve_template(session, world.approver2, t.id, expected_hash=t.content_hash, now=now)
    assert done.status == service.APPROVED and done.approved_by_id == world.approver2.id
    with pytest.raises(WorkflowConflict, match="already approved"):
        service.approve_template(session, world.approver2, t.id, now=now)


def test_an_unknown_template_is_a_clear_not_found(session, world, now):
    with pytest.raises(NotFound, match="There is no template 999"):
        service.approve_template(session, world.approver2, 999, now=now)
    with pytest.raises(NotFound, match="There is no template 999"):
        service.suspend_template(session, world.approver2, 999, "Operation over", now=now)


def test_editing_makes_a_new_draft_version_that_someone_else_must_approve(session, world, now):
    t = approved_template(world, now)
    same = service.update_template(session, world.approver2, t.id, service.TemplateInput(
        t.name, BODY, FIELDS, [world.channel.id]), now=now)
    assert same.status == service.APPROVED and same.version == 1  # nothing changed: the approval stands
    edited = service.update_template(session, world.approver2, t.id, service.TemplateInput(
        t.name, BODY + " Thank you.", FIELDS, [world.channel.id]), now=now)
    assert edited.status == service.DRAFT and edited.version == 2 and edited.approved_by_id is None
    with pytest.raises(WorkflowConflict, match="not been approved"):
        service.publish_from_template(session, world.author, t.id, VALUES, now=now)
    with pytest.raises(PermissionDenied):  # approver2 approved v1 but wrote v2
        service.approve_template(session, world.approver2, t.id, now=now)
    with pytest.raises(WorkflowConflict, match="changed after you opened it"):
        service.approve_template(session, world.approver, t.id, expected_hash="0" * 64, now=now)
    again = service.approve_template(session, world.approver, t.id, expected_hash=edited.content_hash, now=now)
    assert again.status == service.APPROVED and again.version == 2
    [edit] = trail(session, "template.edited")
    assert edit["previous_status"] == "approved" and edit["version"] == 2 and edit["body"].endswith("Thank you.")


def test_publishing_goes_out_through_the_worker_without_a_second_approval(session, world, now, one_pass):
    t = approved_template(world, now)
    result = service.publish_from_template(session, world.author, t.id, VALUES, now=now)
    post = result.post
    assert post.status == wf.APPROVED and post.body == TEXT and not post.approvals
    assert [tg.status for tg in post.targets] == [wf.T_QUEUED]
    assert (post.template_id, post.template_version) == (t.id, 1)
    assert json.loads(post.template_values)["time"] == "09:05"
    [event] = trail(session, "post.published_from_template")
    assert event["template_version"] == 1 and event["template_hash"] == t.content_hash
    assert event["values"] == {"road": "A40 Westway", "direction": "eastbound", "time": "09:05",
                               "advice": "Use the A406 instead."}
    assert event["template_approved_by"] == world.approver2.email and event["text"] == TEXT

    outcome = one_pass(now + timedelta(seconds=1))
    assert list(outcome.outcomes.values()) == [wf.T_PUBLISHED]
    session.expire_all()
    assert session.get(Post, post.id).status == wf.PUBLISHED
    published = session.scalars(select(TrainingPublication)).one()
    assert published.text == TEXT and published.channel_id == world.channel.id


def test_an_update_at_a_time_waits_for_it(session, world, now, one_pass):
    t = approved_template(world, now)
    post = service.publish_from_template(session, world.author, t.id, VALUES,
                                         scheduled_at=now + timedelta(hours=2), now=now).post
    assert one_pass(now + timedelta(minutes=1)).outcomes == {}
    assert list(one_pass(now + timedelta(hours=2, seconds=1)).outcomes.values()) == [wf.T_PUBLISHED]
    with pytest.raises(ValidationFailed, match="already passed"):
        service.publish_from_template(session, world.author, t.id, VALUES, scheduled_at=now - timedelta(minutes=1),
                                      now=now)
    assert session.scalar(select(func.count(Post.id))) == 1 and post.id


def test_suspending_stops_publishing_at_once_with_the_reason_on_record(session, world, now):
    t = approved_template(world, now)
    with pytest.raises(ValidationFailed, match="Say why"):
        service.suspend_template(session, world.approver, t.id, "  ", now=now)
    with pytest.raises(PermissionDenied):
        service.suspend_template(session, world.author, t.id, "Mine.", now=now)
    service.suspend_template(session, world.approver, t.id, "The road has reopened; the wording is out of date.",
                             now=now)
    with pytest.raises(WorkflowConflict, match="it is suspended"):
        service.publish_from_template(session, world.author, t.id, VALUES, now=now)
    assert session.scalar(select(func.count(Post.id))) == 0
    assert trail(session, "template.suspended")[0]["reason"].startswith("The road has reopened")
    assert service.suspension(session, session.get(PostTemplate, t.id)) is not None
    # Approving it again (another approver than its writer) lifts the suspension.
    assert service.approve_template(session, world.approver2, t.id, now=now).status == service.APPROVED


def test_a_blocking_finding_in_a_value_stops_the_update_naming_the_words(session, world, now):
    t = approved_template(world, now)
    screening_policy.save_policy(session, world.admin, world.unit.id, {"opsec_terms": ["Kestrel House"]})
    with pytest.raises(ValidationFailed) as refused:
        service.publish_from_template(session, world.author, t.id, {**VALUES, "advice": "Avoid Kestrel House."},
                                      now=now)
    assert "“Kestrel House” (operational security term) in Advice" in refused.value.message
    assert refused.value.field_errors["values.advice"][0].startswith("Operational security term: “Kestrel House”.")
    assert session.scalar(select(func.count(Post.id))) == 0
    assert not trail(session, "post.published_from_template")


# A warning in a value sends the update to an approver: tests/test_template_warnings.py.


def test_only_staff_who_may_draft_for_its_channels_may_post_from_it(session, world, now):
    t = approved_template(world, now)
    with pytest.raises(PermissionDenied):
        service.publish_from_template(session, world.outsider, t.id, VALUES, now=now)
    assert trail(session, "access.refused")[-1]["attempted"] == "template.publish"
    with pytest.raises(ValidationFailed) as refused:
        service.publish_from_template(session, world.author, t.id, {**VALUES, "road": "M25"}, now=now)
    assert list(refused.value.field_errors) == ["values.road"]


# ---- the pages ------------------------------------------------------------------------------------------

def template_rows(rows):
    data = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"fields-{i}-{key}"] = "\n".join(value) if isinstance(value, list) else str(value)
    return data


def test_the_pages_write_approve_post_and_suspend(app, web_world):
    w = web_world
    approver, approver2, author = (as_user(app, u.email) for u in (w.approver, w.approver2, w.author))
    url = f"/templates/units/{w.unit.id}/new"
    form = {"name": "Road closure update", "body": "{road} closed until {until}.", "channel_ids": [w.channel.id],
            **template_rows(FIELDS[:1])}
    refused = post_form(approver, url, form)
    assert refused.status_code == 400
    assert "The text uses {until}, which is not a field" in text_of(refused)
    saved = post_form(approver, url, {**form, "body": BODY, **template_rows(FIELDS)})
    assert saved.status_code == 302
    view_url = saved.headers["Location"]
    mine = text_of(approver.get(view_url))
    assert "You wrote this version: another approver must approve it." in mine
    assert "[Road] is closed [Direction] from [From]. [Advice]" in mine

    with app.extensions["desk.sessions"]() as s:
        t = s.scalars(select(PostTemplate)).one()
        content_hash, template_id = t.content_hash, t.id
    approved = post_form(approver2, f"/templates/{template_id}/approve", {"expected_hash": content_hash},
                         page_url=view_url)
    assert approved.status_code == 302
    assert "Post an update" in text_of(author.get("/templates/"))

    fast = text_of(author.get(f"/templates/{template_id}/post"))
    assert "Road" in fast and "Marylebone Road" in fast and "Body" not in fast
    bad = post_form(author, f"/templates/{template_id}/post", {"values.road": "A40 Westway", "when": "now"})
    assert bad.status_code == 400 and "Direction: fill it in" in text_of(bad)
    posted = post_form(author, f"/templates/{template_id}/post", {
        "values.road": "A40 Westway", "values.direction": "eastbound", "values.time": "09:05",
        "values.advice": "Use the A406 instead.", "when": "now"})
    assert posted.status_code == 302
    post = load_post(app, int(posted.headers["Location"].rsplit("/", 1)[1]))
    assert post.status == wf.APPROVED and post.body == TEXT and post.template_id == template_id
    shown = " ".join(re.sub(r"<[^>]+>", " ", text_of(author.get(posted.headers["Location"]))).split())
    assert "Posted from the template “Road closure update” , version 1, without a second approval" in shown
    assert "time = “09:05”" in shown

    suspended = post_form(approver, f"/templates/{template_id}/suspend", {"reason": "Road reopened."},
                          page_url=view_url)
    assert suspended.status_code == 302
    page = text_of(author.get(view_url))
    assert "Suspended" in page and "“Road reopened.”" in page
    assert author.get(f"/templates/{template_id}/post").status_code == 302  # nothing to post from
    late = post_form(author, f"/templates/{template_id}/post", {
        "values.road": "A40 Westway", "values.direction": "eastbound", "values.time": "09:05",
        "values.advice": "Use the A406.", "when": "now"}, page_url="/templates/")
    assert late.status_code == 409 and "it is suspended" in text_of(late)


def test_the_outsider_cannot_see_another_units_templates(app, web_world):
    w = web_world
    with app.extensions["desk.sessions"]() as s:
        t = service.create_template(s, w.approver, w.unit.id, service.TemplateInput("Road closure", BODY, FIELDS,
                                                                                     [w.channel.id]))
        template_id = t.id
    outsider = as_user(app, w.outsider.email)
    assert outsider.get(f"/templates/{template_id}").status_code == 403
    assert "Road closure" not in text_of(outsider.get("/templates/"))


# ---- the API ------------------------------------------------------------------------------------------------

def test_the_api_lists_templates_and_publishes_from_one(api, app):  # noqa: F811
    w = api.world
    with app.extensions["desk.sessions"]() as s:
        t = service.create_template(s, w.approver, w.unit.id,
                                    service.TemplateInput("Road closure update", BODY, FIELDS, [w.channel.id]))
        service.approve_template(s, w.approver2, t.id)
        template_id = t.id
    [listed] = api.get("/templates", "author").get_json()["templates"]
    assert listed["id"] == template_id and listed["may_publish"] and listed["fields"][2]["type"] == "time"
    assert api.get("/templates", "outsider").get_json()["templates"] == []

    made = api.post(f"/templates/{template_id}/publish", "author", {"values": VALUES, "scheduled_at": None})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["state"] == "approved" and made.get_json()["targets"][0]["effective_text"] == TEXT
    assert made.headers["Location"].endswith(f"/api/v1/posts/{made.get_json()['id']}")

    with app.extensions["desk.sessions"]() as s:
        screening_policy.save_policy(s, OPERATOR, w.unit.id, {"opsec_terms": ["Kestrel House"]})
    body = assert_error(api.post(f"/templates/{template_id}/publish", "author",
                                 {"values": {**VALUES, "advice": "Avoid Kestrel House."}}), 400, "invalid")
    assert "“Kestrel House”" in body["message"] and "values.advice" in body["fields"]
    assert_error(api.post(f"/templates/{template_id}/publish", "author", {"values": "x"}), 400, "invalid")
    assert_error(api.post(f"/templates/{template_id}/publish", "outsider", {"values": VALUES}), 403, "forbidden")
    with app.extensions["desk.sessions"]() as s:
        service.suspend_template(s, w.approver, template_id, "Reopened.")
    assert_error(api.post(f"/templates/{template_id}/publish", "author", {"values": VALUES}), 409, "conflict")
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(func.count(Target.id))) == 1


def test_the_demo_template_lets_co11_staff_post_an_update_at_once(session, now, one_pass):
    from zoneinfo import ZoneInfo

    from desk import demo
    from desk.services import accounts

    demo.load(session, OPERATOR, ZoneInfo("Europe/London"), now=now)
    t = session.scalars(select(PostTemplate)).one()
    assert t.status == service.APPROVED and t.name == "Road closure update"
    assert not domain.has_free_text(service.fields_of(t))  # the common update carries no free text
    constable = accounts.find_user(session, "co11@desk.example")
    post = service.publish_from_template(session, constable, t.id, {
        "road": "Park Lane", "direction": "westbound", "until": "18:00", "advice": "use edgware road instead."},
        now=now).post
    assert post.targets[0].channel.approvals_required == 2 and post.status == wf.APPROVED  # no second key needed
    assert list(one_pass(now + timedelta(seconds=1)).outcomes.values()) == [wf.T_PUBLISHED]
    published = session.scalars(select(TrainingPublication)).one()
    assert published.text.startswith("Operation Meadow: Park Lane is closed westbound until about 18:00.")
