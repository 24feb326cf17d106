"""The JSON API at /api/v1: the whole flow with personal access tokens, and every refusal in JSON."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from desk.models import AuditEvent, Post, TrainingPublication
from desk.platforms import PlatformContext, publisher_for
from desk.services import accounts, publishing

from conftest import OPERATOR, login

PERSONAS = ("admin", "author", "approver", "approver2", "auditor", "outsider")


class Api:
    def __init__(self, client, tokens, world):
        self.client, self.tokens, self.world = client, tokens, world

    def call(self, method, path, who=None, json=None, **kw):
        headers = dict(kw.pop("headers", {}))
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.open("/api/v1" + path, method=method, json=json, headers=headers, **kw)

    def get(self, path, who=None, **kw):
        return self.call("GET", path, who, **kw)

    def post(self, path, who=None, json=None, **kw):
        return self.call("POST", path, who, json, **kw)

    def patch(self, path, who=None, json=None, **kw):
        return self.call("PATCH", path, who, json, **kw)

    def new_post(self, who="author", channels=None, body="Road closed on the A40 until 6pm.", when=None):
        channels = channels or [self.world.channel]
        response = self.post("/posts", who, {"body": body, "targets": [
            {"channel_id": c.id, "scheduled_at": when} for c in channels]})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def submitted(self, who="author", **kw):
        post = self.new_post(who, **kw)
        response = self.post(f"/posts/{post['id']}/submit", who)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def api(app, web_world):
    tokens = {name: accounts.create_token(web_world.session, OPERATOR, getattr(web_world, name)) for name in PERSONAS}
    return Api(app.test_client(), tokens, web_world)


def later(hours=24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def refusals(app, post_id=None):
    with app.extensions["desk.sessions"]() as s:
        stmt = select(AuditEvent).where(AuditEvent.action == "access.refused")
        if post_id:
            stmt = stmt.where(AuditEvent.post_id == post_id)
        return [(e.actor, e.post_id) for e in s.scalars(stmt)]


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code and body["message"]
    return body


def publish_due(app):
    sessions = app.extensions["desk.sessions"]
    context = PlatformContext(settings=app.config["DESK_SETTINGS"], session_factory=sessions)
    with sessions() as s:
        for claim in publishing.claim_due(s, "test-worker"):
            ref = publisher_for(claim.channel, context).publish(claim.request)
            publishing.record_success(s, claim, "test-worker", ref)


def test_the_whole_flow_draft_submit_approve_publish_retract(api, app):
    w = api.world
    created = api.post("/posts", "author", {"body": "The A40 is open again.", "link": "https://example.org/a40",
                                            "targets": [{"channel_id": w.channel.id, "scheduled_at": None}]})
    assert created.status_code == 201
    post = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/posts/{post['id']}")
    assert post["state"] == "draft" and post["problems"] == {} and post["version"] == 1
    assert post["targets"][0]["state"] == "pending" and post["targets"][0]["scheduled_at"] is None
    assert post["allowed_actions"] == ["edit", "submit"]

    submitted = api.post(f"/posts/{post['id']}/submit", "author").get_json()
    assert submitted["state"] == "in_review"
    assert submitted["outstanding_approvals"] == [{"channel_id": w.channel.id, "approvals_needed": 1}]

    seen = api.get(f"/posts/{post['id']}", "approver").get_json()
    assert "approve" in seen["allowed_actions"] and "edit" not in seen["allowed_actions"]
    approved = api.post(f"/posts/{post['id']}/approve", "approver",
                        {"expected_hash": seen["content_hash"], "comment": "Fine.",
                         "acknowledge_warnings": True})  # example.org is outside the allowed link domains
    assert approved.status_code == 200
    approved = approved.get_json()
    assert approved["state"] == "approved" and approved["targets"][0]["state"] == "queued"
    assert approved["approvals"][0]["approver"]["email"] == w.approver.email and approved["approvals"][0]["counts"]

    publish_due(app)
    published = api.get(f"/posts/{post['id']}", "author").get_json()
    target = published["targets"][0]
    assert published["state"] == "published" and target["state"] == "published"
    assert target["remote_id"].startswith("trn_") and target["remote_url"] and target["published_at"].endswith("Z")

    assert_error(api.post(f"/posts/{post['id']}/retract", "approver", {}), 400, "invalid")
    assert_error(api.post(f"/posts/{post['id']}/retract", "author", {"reason": "Mine."}), 403, "forbidden")
    retracted = api.post(f"/posts/{post['id']}/retract", "approver", {"reason": "Published too early."})
    assert retracted.status_code == 200
    assert retracted.get_json()["state"] == "retracted"
    assert retracted.get_json()["retraction_reason"] == "Published too early."
    with app.extensions["desk.sessions"]() as s:
        publication = s.scalar(select(TrainingPublication).where(TrainingPublication.remote_id == target["remote_id"]))
        assert publication.deleted_at is not None


def test_approving_a_version_that_changed_is_a_conflict(api):
    w = api.world
    post = api.submitted(when=later())
    read_hash = api.get(f"/posts/{post['id']}", "approver").get_json()["content_hash"]
    edited = api.patch(f"/posts/{post['id']}", "author", {"body": "The A40 closes at 7pm, not 6pm."}).get_json()
    assert edited["state"] == "draft" and edited["version"] == 2
    # Partial: what the PATCH did not mention kept its value, down to the target's time.
    assert edited["targets"][0]["channel_id"] == w.channel.id
    assert edited["targets"][0]["scheduled_at"] == post["targets"][0]["scheduled_at"]
    api.post(f"/posts/{post['id']}/submit", "author")
    body = assert_error(api.post(f"/posts/{post['id']}/approve", "approver", {"expected_hash": read_hash}),
                        409, "conflict")
    assert "changed" in body["message"]
    fresh = api.get(f"/posts/{post['id']}", "approver").get_json()
    assert fresh["state"] == "in_review"
    ok = api.post(f"/posts/{post['id']}/approve", "approver", {"expected_hash": fresh["content_hash"]})
    assert ok.get_json()["state"] == "approved"
    assert_error(api.post(f"/posts/{post['id']}/approve", "approver2"), 409, "conflict")


def test_two_key_channel_needs_two_approvers(api):
    post = api.submitted(channels=[api.world.channel2])
    assert post["outstanding_approvals"][0]["approvals_needed"] == 2
    once = api.post(f"/posts/{post['id']}/approve", "approver").get_json()
    assert once["state"] == "in_review" and once["outstanding_approvals"][0]["approvals_needed"] == 1
    assert api.post(f"/posts/{post['id']}/approve", "approver2").get_json()["state"] == "approved"


def test_reject_needs_a_comment_then_the_author_edits_and_resubmits(api):
    post = api.submitted()
    body = assert_error(api.post(f"/posts/{post['id']}/reject", "approver", {}), 400, "invalid")
    assert body["fields"] == {"comment": ["Required."]}
    body = assert_error(api.post(f"/posts/{post['id']}/reject", "approver", {"comment": "  "}), 400, "invalid")
    assert "comment" in body["fields"]
    assert api.get(f"/posts/{post['id']}", "author").get_json()["state"] == "in_review"
    rejected = api.post(f"/posts/{post['id']}/reject", "approver", {"comment": "Say which junction."}).get_json()
    assert rejected["state"] == "rejected" and rejected["rejection_comment"] == "Say which junction."
    api.patch(f"/posts/{post['id']}", "author", {"body": "The A40 is closed at junction 3 until 6pm."})
    again = api.post(f"/posts/{post['id']}/submit", "author").get_json()
    assert again["state"] == "in_review" and again["rejection_comment"] is None


def test_author_may_not_approve_own_post_even_as_an_approver(api, app):
    post = api.submitted(who="approver")
    body = assert_error(api.post(f"/posts/{post['id']}/approve", "approver"), 403, "forbidden")
    assert "another approver" in body["message"]
    assert (api.world.approver.email, post["id"]) in refusals(app, post["id"])
    assert api.get(f"/posts/{post['id']}", "approver").get_json()["state"] == "in_review"


def test_outsider_is_refused_and_the_refusals_are_audited(api, app):
    w = api.world
    post = api.submitted()
    assert_error(api.get(f"/posts/{post['id']}", "outsider"), 403, "forbidden")
    assert_error(api.post(f"/posts/{post['id']}/approve", "outsider"), 403, "forbidden")
    assert_error(api.post(f"/posts/{post['id']}/withdraw", "outsider"), 403, "forbidden")
    assert_error(api.patch(f"/posts/{post['id']}", "outsider", {"body": "Hijacked."}), 403, "forbidden")
    assert [a for a, _ in refusals(app, post["id"])] == [w.outsider.email] * 4
    refused = assert_error(api.post("/posts", "outsider", {"body": "Hi", "targets": [{"channel_id": w.channel.id}]}),
                           403, "forbidden")
    assert w.channel.name in refused["message"]
    assert api.get(f"/posts/{post['id']}", "author").get_json()["body"] == post["body"]


def test_without_a_valid_token_the_api_answers_401(api, client, web_world):
    for headers in ({}, {"Authorization": "Bearer desk_not-a-real-token"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}):
        response = api.get("/me", headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in api.get("/me", headers={"Authorization": "Bearer desk_x"}).headers[
        "WWW-Authenticate"]
    # A refused token is on the record by its prefix only, as a failed sign-in is.
    with api.world.session.begin():
        details = [e.details for e in api.world.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.token_refused"))]
    assert len(details) == 2 and all("not-a-real-token" not in d for d in details)
    # A browser's session cookie is no credential here: that is what makes the CSRF exemption safe.
    login(client, web_world.author.email)
    assert client.get("/dashboard").status_code == 200
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")
    assert_error(client.post("/api/v1/posts", json={"body": "x", "targets": []}), 401, "unauthorized")


def test_a_disabled_account_loses_its_token(api, web_world):
    web_world.author.active = False
    web_world.session.commit()
    assert_error(api.get("/me", "author"), 401, "unauthorized")


def test_me_and_channels(api):
    w = api.world
    me = api.get("/me", "approver").get_json()
    assert me["email"] == w.approver.email and not me["is_admin"]
    assert {(r["unit_code"], r["role"]) for r in me["roles"]} == {("DPA", "approver"), ("DPA", "author")}

    def names(who):
        return {c["name"]: c for c in api.get("/channels", who).get_json()["channels"]}

    author = names("author")
    assert set(author) == {w.channel.name, w.channel2.name}
    assert author[w.channel.name]["may_draft"] and not author[w.channel.name]["may_approve"]
    assert author[w.channel2.name]["approvals_required"] == 2 and author[w.channel2.name]["unit"]["code"] == "DPA"
    assert set(names("outsider")) == {w.other_channel.name}
    auditor = names("auditor")
    assert set(auditor) == {w.channel.name, w.channel2.name, w.other_channel.name}
    assert not any(c["may_draft"] for c in auditor.values())


def test_not_found_and_wrong_method_answer_in_json(api):
    assert_error(api.get("/posts/99999", "author"), 404, "not_found")
    assert_error(api.post("/posts/99999/submit", "author"), 404, "not_found")
    assert_error(api.get("/no-such-thing", "author"), 404, "not_found")
    assert_error(api.client.get("/api/v2/posts"), 404, "not_found")
    response = api.call("DELETE", "/posts/1", "author")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH"}
    assert_error(api.call("PUT", "/posts", "author"), 405, "method_not_allowed")


def test_a_time_without_its_offset_is_refused_and_nothing_is_saved(api, app):
    w = api.world
    with app.extensions["desk.sessions"]() as s:
        before = s.scalar(select(func.count(Post.id)))
    body = assert_error(api.post("/posts", "author", {"body": "Road closed.", "targets": [
        {"channel_id": w.channel.id, "scheduled_at": "2030-03-30T01:30:00"}]}), 400, "invalid")
    assert "offset" in body["fields"]["targets[0].scheduled_at"][0]
    assert "nothing was changed" in body["message"]
    body = assert_error(api.post("/posts", "author", {"body": "Road closed.", "targets": [
        {"channel_id": w.channel.id, "scheduled_at": "next Tuesday"}]}), 400, "invalid")
    assert "ISO 8601" in body["fields"]["targets[0].scheduled_at"][0]
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(func.count(Post.id))) == before


def test_a_past_time_is_kept_in_the_draft_but_refused_at_submit(api):
    w = api.world
    past = (datetime.now(UTC) - timedelta(hours=2)).astimezone(timezone(timedelta(hours=1))).isoformat()
    post = api.new_post(when=past)
    key = f"targets.{w.channel.id}.scheduled_at"
    assert "already passed" in post["problems"][key][0]
    body = assert_error(api.post(f"/posts/{post['id']}/submit", "author"), 400, "invalid")
    assert key in body["fields"]
    assert api.get(f"/posts/{post['id']}", "author").get_json()["state"] == "draft"
    fixed = api.patch(f"/posts/{post['id']}", "author", {"targets": [{"channel_id": w.channel.id,
                                                                       "scheduled_at": None}]}).get_json()
    assert fixed["problems"] == {} and fixed["body"] == post["body"]
    assert api.post(f"/posts/{post['id']}/submit", "author").get_json()["state"] == "in_review"


def test_draft_problems_come_back_with_the_saved_draft(api):
    w = api.world
    response = api.post("/posts", "author", {"body": "a" * 501, "link": "ftp://nope",
                                             "targets": [{"channel_id": w.channel.id, "text": None}]})
    assert response.status_code == 201
    post = response.get_json()
    assert set(post["problems"]) == {"body", "link"}
    tailored = api.patch(f"/posts/{post['id']}", "author", {"link": None, "targets": [
        {"channel_id": w.channel.id, "text": "   "}, {"channel_id": w.channel2.id, "text": "Short."}]}).get_json()
    assert tailored["problems"] == {"body": [f"{w.channel.name}: The training channel takes at most 500 characters; "
                                             "this text has 501. Shorten it by 1."]}
    assert [t["effective_text"] for t in tailored["targets"]] == ["a" * 501, "Short."]


@pytest.mark.parametrize("payload, where", [
    ({"body": 5, "targets": []}, "body"),
    ({"body": None, "targets": []}, "body"),
    ({"targets": []}, "body"),
    ({"body": "x"}, "targets"),
    ({"body": "x", "targets": {"channel_id": 1}}, "targets"),
    ({"body": "x", "targets": ["1"]}, "targets[0]"),
    ({"body": "x", "targets": [{"channel_id": "1"}]}, "targets[0].channel_id"),
    ({"body": "x", "targets": [{"channel_id": True}]}, "targets[0].channel_id"),
    ({"body": "x", "targets": [{}]}, "targets[0].channel_id"),
    ({"body": "x", "targets": [{"channel_id": 1, "text": 3}]}, "targets[0].text"),
    ({"body": "x", "targets": [{"channel_id": 1, "scheduled_at": 1700000000}]}, "targets[0].scheduled_at"),
    ({"body": "x", "targets": [{"channel_id": 1}, {"channel_id": 1}]}, "targets[1].channel_id"),
    ({"body": "x", "targets": [], "title": "?"}, "title"),
    ({"body": "x", "targets": [{"channel_id": 1, "when": "now"}]}, "targets[0].when"),
    ({"body": "x", "link": ["a"], "targets": []}, "link"),
])
def test_the_shape_of_a_new_post_is_checked_with_clear_messages(api, payload, where):
    body = assert_error(api.post("/posts", "author", payload), 400, "invalid")
    assert where in body["fields"] and body["fields"][where][0]


def test_malformed_json_is_a_400_in_json(api):
    for raw in ("{not json", "[1, 2]", '"body"', ""):
        response = api.post("/posts", "author", data=raw, headers={"Content-Type": "application/json"})
        body = assert_error(response, 400, "invalid_json")
        assert body["fields"] is None
    body = assert_error(api.post("/posts", "author", data="{oops", headers={"Content-Type": "application/json"}),
                        400, "invalid_json")
    assert "line 1, column 2" in body["message"]
    post = api.new_post()
    assert_error(api.post(f"/posts/{post['id']}/submit", "author", {"please": True}), 400, "invalid")
    assert_error(api.post(f"/posts/{post['id']}/approve", "approver", {"expected_hash": 7}), 400, "invalid")
    assert_error(api.patch(f"/posts/{post['id']}", "author", data="[]",
                           headers={"Content-Type": "application/json"}), 400, "invalid_json")


def test_withdraw_an_approved_post_before_it_goes_out(api, app):
    post = api.submitted(when=later())
    api.post(f"/posts/{post['id']}/approve", "approver")
    withdrawn = api.post(f"/posts/{post['id']}/withdraw", "author", {"reason": "The road reopened early."})
    assert withdrawn.status_code == 200
    withdrawn = withdrawn.get_json()
    assert withdrawn["state"] == "withdrawn" and withdrawn["targets"][0]["state"] == "cancelled"
    assert withdrawn["allowed_actions"] == []
    assert_error(api.post(f"/posts/{post['id']}/withdraw", "author"), 409, "conflict")
    assert_error(api.patch(f"/posts/{post['id']}", "author", {"body": "Again"}), 409, "conflict")
    with app.extensions["desk.sessions"]() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "post.withdrawn")).one()
        assert "The road reopened early." in event.details


def test_the_audit_trail_is_for_auditors_with_filters_and_paging(api, app):
    w = api.world
    first = api.submitted()
    api.post(f"/posts/{first['id']}/approve", "approver")
    second = api.submitted(who="approver")

    page = api.get(f"/audit?post_id={first['id']}", "auditor").get_json()
    assert [e["action"] for e in page["events"]] == ["post.approved", "post.submitted", "post.created"]
    assert page["total"] == 3 and page["pages"] == 1 and page["next_page"] is None
    assert page["events"][0]["details"]["content_hash"] == first["content_hash"]

    mine = api.get(f"/audit?actor_id={w.approver.id}&action=post.*", "admin").get_json()
    assert {(e["action"], e["post_id"]) for e in mine["events"]} == {
        ("post.approved", first["id"]), ("post.created", second["id"]), ("post.submitted", second["id"])}

    everything = api.get("/audit?per_page=200", "auditor").get_json()
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == sorted(seqs, reverse=True) and everything["total"] == len(seqs)
    p2 = api.get("/audit?per_page=2&page=2", "auditor").get_json()
    assert [e["seq"] for e in p2["events"]] == seqs[2:4] and p2["next_page"] == 3

    newest = everything["events"][0]["at"]
    assert api.get(f"/audit?since={newest}", "auditor").get_json()["total"] >= 1
    assert api.get(f"/audit?until={newest}&channel_id={w.other_channel.id}", "auditor").get_json()["total"] == 1
    assert api.get(f"/audit?unit_id={w.other_unit.id}&action=post.*", "auditor").get_json()["total"] == 0

    for query, field in (("per_page=500", "per_page"), ("page=0", "page"), ("post_id=abc", "post_id"),
                         ("since=2026-06-01T09:00", "since"), ("actor=3", "actor")):
        body = assert_error(api.get(f"/audit?{query}", "auditor"), 400, "invalid")
        assert field in body["fields"]

    assert_error(api.get("/audit", "author"), 403, "forbidden")
    with app.extensions["desk.sessions"]() as s:
        refusal = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")
                            .order_by(AuditEvent.seq.desc())).first()
        assert refusal.actor == w.author.email and "audit.read" in refusal.details
