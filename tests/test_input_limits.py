"""Bad input is answered 400/404/413/415 with words, never 500: ids beyond the database's integer, texts past
their cap, JSON nested too deep, NUL characters and lone surrogates, bodies that are not JSON. On SQLite and,
where the database is what breaks, on PostgreSQL too."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from desk import create_app
from desk.domain import limits
from desk.models import AuditEvent, Post, Unit
from desk.services import accounts, audit_trail
from desk.services.posts import PostInput, TargetInput, save_draft

from conftest import OPERATOR, World, csrf_from, login

HUGE = (2**31, 2**63, 10**30)
PERSONAS = ("admin", "author", "approver", "auditor")


class Desk:
    """The app on the parametrised database (SQLite, and PostgreSQL when configured), with the personas."""

    def __init__(self, engine, tmp_path):
        self.app = create_app({
            "TESTING": True, "TWO_FACTOR_ENFORCED": False, "DESK_ENGINE": engine,
            "ENV": {"DESK_SECRET_KEY": "test-secret", "DESK_MEDIA_DIR": str(tmp_path / "media")}})
        self.app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is what these tests look for, not a traceback
        self.sessions = self.app.extensions["desk.sessions"]
        self.session = self.sessions()
        self.world = World(self.session)
        self.tokens = {p: accounts.create_token(self.session, OPERATOR, getattr(self.world, p)) for p in PERSONAS}
        self.client = self.app.test_client()

    def api(self, method, path, who="author", **kw):
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kw.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kw)

    def raw(self, method, path, body, who="author", content_type="application/json"):
        return self.api(method, path, who, data=body, headers={"Content-Type": content_type})

    def count(self, model) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def desk(engine, tmp_path):
    d = Desk(engine, tmp_path)
    yield d
    d.session.close()


def fields_of(response, status=400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert body["message"], body
    return body["fields"] or {}


# ---- ids in the path, the query string and the body ---------------------------------------------------

def _int_routes(app):
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        if ints:
            yield rule, ints


def test_an_id_beyond_the_database_integer_is_404_on_every_route(desk):
    routes = list(_int_routes(desk.app))
    assert len(routes) > 40  # every page and API route with an id in its address
    login(desk.client, desk.world.admin.email)
    for rule, names in routes:
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        for number in (*HUGE, "9" * 5000):
            path = rule.rule
            for name in names:
                path = path.replace(f"<int:{name}>", str(number))
            headers = {"Authorization": f"Bearer {desk.tokens['admin']}"} if path.startswith("/api/") else {}
            response = desk.client.open(path, method=method, headers=headers)
            assert response.status_code == 404, (method, path[:80], response.status_code)
            if path.startswith("/api/"):
                assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize("path, field, who", [
    ("/audit?post_id={n}", "post_id", "auditor"),
    ("/audit?actor_id={n}", "actor_id", "auditor"),
    ("/audit?page={n}", "page", "auditor"),
    ("/grants?scope=all&channel_id={n}", "channel_id", "admin"),
    ("/grants?scope=all&page={n}", "page", "admin"),
    ("/media?unit_id={n}", "unit_id", "author"),
])
def test_a_query_number_out_of_range_is_400_naming_it(desk, path, field, who):
    for number in (*HUGE, "²", "1" * 5000):
        assert field in fields_of(desk.api("GET", path.format(n=number), who)), number
    assert desk.api("GET", path.format(n=limits.MAX_ID), who).status_code in (200, 404)


def test_a_page_number_out_of_range_is_400_on_the_pages_too(desk):
    login(desk.client, desk.world.admin.email)
    for path in ("/posts/?page={n}", "/audit/?page={n}", "/grants/all?page={n}", "/admin/memberships?unit={n}",
                 "/grants/?channel={n}"):
        for number in (*HUGE, "x"):
            response = desk.client.get(path.format(n=number))
            assert response.status_code == 400, (path, number, response.status_code)
            assert "whole number" in response.get_data(as_text=True)
        assert desk.client.get(path.format(n=1)).status_code in (200, 400)  # a filter with nothing chosen: 400


def test_an_id_out_of_range_in_a_form_is_refused_on_its_field(desk):
    login(desk.client, desk.world.auditor.email)
    for number in HUGE:
        page = desk.client.get(f"/audit/?post={number}&person={number}")
        assert page.status_code == 400, number
        assert "A post id is a number from 1 to 2147483647" in page.get_data(as_text=True)
    author = desk.app.test_client()
    login(author, desk.world.author.email)
    token = csrf_from(author.get("/posts/new").get_data(as_text=True))
    before = desk.count(Post)
    response = author.post("/posts/new", data={"csrf_token": token, "body": "Road closed.",
                                               "channels": [str(2**63)], "asap": "y"})
    assert response.status_code in (200, 400), response.status_code
    assert desk.count(Post) == before


def test_an_id_out_of_range_in_a_json_body_is_400_at_its_path(desk):
    w = desk.world
    for number in HUGE:
        assert "targets[0].channel_id" in fields_of(desk.api("POST", "/posts", json={
            "body": "x", "targets": [{"channel_id": number}]}))
        assert "targets[0].media_ids[0]" in fields_of(desk.api("POST", "/posts", json={
            "body": "x", "targets": [{"channel_id": w.channel.id, "media_ids": [number]}]}))
        assert "channel_id" in fields_of(desk.api("POST", "/grants", json={
            "channel_id": number, "role": "author", "business_case": "For the protest camp next week, six weeks."}))
    assert desk.count(Post) == 0


# ---- lengths --------------------------------------------------------------------------------------------

def test_every_free_text_of_the_api_has_its_cap(desk):
    w = desk.world
    long_body = "a" * (limits.POST_TEXT_MAX + 1)
    assert "body" in fields_of(desk.api("POST", "/posts", json={"body": long_body, "targets": []}))
    assert "targets[0].text" in fields_of(desk.api("POST", "/posts", json={
        "body": "x", "targets": [{"channel_id": w.channel.id, "text": long_body}]}))
    assert "link" in fields_of(desk.api("POST", "/posts", json={
        "body": "x", "link": "https://example.org/" + "a" * limits.LINK_MAX, "targets": []}))
    assert "targets[0].extra.title" in fields_of(desk.api("POST", "/posts", json={
        "body": "x", "targets": [{"channel_id": w.channel.id, "extra": {"title": "t" * (limits.TITLE_MAX + 1)}}]}))
    assert "targets[0].extra.tags" in fields_of(desk.api("POST", "/posts", json={
        "body": "x", "targets": [{"channel_id": w.channel.id, "extra": {"tags": ["t"] * (limits.TAGS_MAX + 1)}}]}))
    assert "recurrence.rule" in fields_of(desk.api("POST", "/posts", json={
        "body": "x", "targets": [], "recurrence": {"rule": "daily 08:00" + " " * limits.RULE_MAX}}))
    assert "business_case" in fields_of(desk.api("POST", "/grants", json={
        "channel_id": w.channel.id, "role": "author", "business_case": "word " * limits.BUSINESS_CASE_MAX}))
    assert "action" in fields_of(desk.api("GET", "/audit?action=" + "a" * (limits.SHORT_MAX + 1), "auditor"))
    post = desk.api("POST", "/posts", json={"body": "Road closed.", "targets": [{"channel_id": w.channel.id}]})
    pid = post.get_json()["id"]
    assert desk.api("POST", f"/posts/{pid}/submit").status_code == 200
    assert "comment" in fields_of(desk.api("POST", f"/posts/{pid}/reject", "approver", json={
        "comment": "c" * (limits.NOTE_MAX + 1)}))
    assert "reason" in fields_of(desk.api("POST", f"/posts/{pid}/withdraw", json={
        "reason": "r" * (limits.NOTE_MAX + 1)}))
    # at the cap, it is taken
    at_cap = desk.api("POST", "/posts", json={"body": "a" * limits.POST_TEXT_MAX, "targets": []})
    assert at_cap.status_code == 201, at_cap.get_json()


def test_a_long_text_goes_into_the_audit_trail_by_its_hash_and_length(desk):
    w = desk.world
    body = "Appeal for witnesses. " * 3000  # 66,000 characters: over every cap but the trail's concern here
    body = body[:limits.POST_TEXT_MAX]
    result = save_draft(desk.session, w.author, PostInput(body=body, targets=[
        TargetInput(w.channel.id, text="Short words for this channel.")]))
    event = desk.session.scalars(select(AuditEvent).where(AuditEvent.action == "post.created",
                                                          AuditEvent.post_id == result.post.id)).one()
    details = json.loads(event.details)
    assert details["body"] == {"sha256": hashlib.sha256(body.encode()).hexdigest(),
                               "length": limits.POST_TEXT_MAX}
    assert details["targets"][0]["text"] == "Short words for this channel."
    assert len(event.details) < 3 * limits.AUDIT_TEXT_MAX
    assert audit_trail.verify(desk.session).ok


def test_a_json_body_over_its_cap_is_413_in_json(desk):
    huge = json.dumps({"body": "a" * (limits.BODY_MAX_BYTES + 10), "targets": []})
    response = desk.raw("POST", "/posts", huge)
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"
    assert "2 MB" in response.get_json()["message"]


def test_a_form_over_its_cap_is_refused_and_nothing_saved(desk):
    login(desk.client, desk.world.author.email)
    token = csrf_from(desk.client.get("/posts/new").get_data(as_text=True))
    response = desk.client.post("/posts/new", data={"csrf_token": token, "body": "a" * (limits.POST_TEXT_MAX + 1),
                                                    "channels": [str(desk.world.channel.id)], "asap": "y"})
    assert response.status_code in (200, 400)
    assert "63,206" in response.get_data(as_text=True) or "63206" in response.get_data(as_text=True)
    assert desk.count(Post) == 0


def test_a_unit_code_longer_than_its_column_is_a_form_error(desk):
    login(desk.client, desk.world.admin.email)
    token = csrf_from(desk.client.get("/admin/units").get_data(as_text=True))
    before = desk.count(Unit)
    response = desk.client.post("/admin/units", data={"csrf_token": token, "code": "C" * 40, "name": "N" * 300})
    assert response.status_code in (200, 400)
    assert "32 characters" in response.get_data(as_text=True)
    assert desk.count(Unit) == before


# ---- what cannot be parsed or stored ----------------------------------------------------------------

def test_json_nested_fifty_thousand_deep_is_400(desk):
    for raw in ("[" * 50_000 + "]" * 50_000, '{"body": ' + "[" * 50_000 + "]" * 50_000 + "}",
                '{"body": "x", "targets": [' + '{"a":' * 40 + "1" + "}" * 40 + "]}"):
        response = desk.raw("POST", "/posts", raw)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_json", raw[:20]
    response = desk.raw("POST", "/posts", '{"body": 1' + "0" * 5000 + "}")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_json"


@pytest.mark.parametrize("raw, where", [
    ('{"body": "a\\ud800b", "targets": []}', "body"),
    (b'{"body": "a\xed\xa0\x80b", "targets": []}', "body"),
    ('{"body": "a\\u0000b", "targets": []}', "body"),
    ('{"body": "x", "targets": [{"channel_id": 1, "extra": {"tags": ["ok", "\\udfff"]}}]}', "targets[0].extra.tags[1]"),
    ('{"body": "x", "link\\u0000": null, "targets": []}', "link\\x00"),
])
def test_a_nul_or_a_lone_surrogate_in_json_is_400_at_its_path(desk, raw, where):
    assert where in fields_of(desk.raw("POST", "/posts", raw))
    assert desk.count(Post) == 0


def test_a_nul_in_any_api_text_is_400(desk):
    w = desk.world
    pid = desk.api("POST", "/posts", json={"body": "Road closed.", "targets": [{"channel_id": w.channel.id}]}
                   ).get_json()["id"]
    assert "body" in fields_of(desk.api("PATCH", f"/posts/{pid}", json={"body": "Road\x00closed."}))
    assert "action" in fields_of(desk.api("GET", "/audit?action=post%00", "auditor"))
    assert "business_case" in fields_of(desk.api("POST", "/grants", json={
        "channel_id": w.channel.id, "role": "author", "business_case": "For the camp\x00 next week, six weeks."}))


def test_a_nul_in_the_sign_in_e_mail_is_400_not_500(desk):
    token = csrf_from(desk.client.get("/login").get_data(as_text=True))
    response = desk.client.post("/login", data={"email": "author@desk.test\x00", "password": "x",
                                                "csrf_token": token})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_or_a_surrogate_in_a_web_form_is_400_and_nothing_saved(desk):
    login(desk.client, desk.world.author.email)
    token = csrf_from(desk.client.get("/posts/new").get_data(as_text=True))
    channel = desk.world.channel.id
    response = desk.client.post("/posts/new", data={"csrf_token": token, "body": "Road\x00closed.",
                                                    "channels": [str(channel)], "asap": "y"})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    # A lone surrogate sent as its UTF-8-style bytes: not UTF-8, so it never reaches a field as itself.
    raw = f"csrf_token={token}&body=Road%ED%A0%80closed&channels={channel}&asap=y".encode()
    response = desk.client.post("/posts/new", data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code != 500
    with desk.sessions() as s:
        assert all(limits.text_problem(b) is None for b in s.scalars(select(Post.body)))
    assert desk.count(Post) <= 1


# ---- the body's type ----------------------------------------------------------------------------------

def test_a_body_that_is_not_json_is_415(desk):
    body = json.dumps({"body": "Road closed.", "targets": []})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = desk.raw("POST", "/posts", body, content_type=content_type)
        assert response.status_code == 415, (content_type, response.status_code)
        assert response.get_json()["error"] == "unsupported_media_type"
    assert desk.raw("POST", "/posts", body, content_type="application/json; charset=utf-8").status_code == 201
    assert desk.count(Post) == 1


# ---- the document says what the server enforces ------------------------------------------------------

def test_the_document_states_the_bounds_the_server_enforces():
    from desk.web.api.openapi import document

    doc = document()
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = item.get("parameters", []) if method == "parameters" else op.get("parameters", [])
            for p in params:
                if p["schema"].get("type") == "integer":
                    assert p["schema"].get("maximum") in (limits.MAX_ID, 200), (path, p["name"])
            if method != "parameters" and "application/json" in op.get("requestBody", {}).get("content", {}):
                assert "415" in op["responses"], (path, method)
    assert schemas["TargetInput"]["properties"]["channel_id"]["maximum"] == limits.MAX_ID
    assert schemas["PostCreate"]["properties"]["body"]["maxLength"] == limits.POST_TEXT_MAX
    assert schemas["GrantRequest"]["properties"]["business_case"]["minLength"] == 20
    assert schemas["RejectInput"]["properties"]["comment"]["minLength"] == 1
    assert schemas["RetractInput"]["properties"]["reason"]["minLength"] == 1
    assert schemas["GrantRevocation"]["properties"]["reason"]["minLength"] == 1
    since = next(p for p in doc["paths"]["/grants"]["get"]["parameters"] if p["name"] == "since")
    assert "Needs until" in since["description"]


def test_the_caps_are_the_longest_platform_limits():
    from desk.platforms import facebook_media, flickr, x_text

    assert limits.POST_TEXT_MAX == max(facebook_media.MAX_MESSAGE, x_text.MAX_WEIGHTED_LENGTH, 5000)
    assert limits.TITLE_MAX == max(flickr.MAX_TITLE, 100)
    assert limits.DESCRIPTION_MAX == max(flickr.MAX_DESCRIPTION, 5000)
    assert limits.TAGS_MAX == flickr.MAX_TAGS + 1
