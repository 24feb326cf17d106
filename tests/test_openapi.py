"""The OpenAPI description matches the server: it validates, it names every route and method the app
serves under /api/v1 (and no other), and real answers fit the schemas it documents for them."""
from __future__ import annotations

import copy
import io
import re

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from desk.platforms import PlatformContext, publisher_for
from desk.services import accounts, publishing
from desk.web.api.openapi import document

from conftest import OPERATOR
from media_samples import png

DOC_URI = "urn:desk:openapi"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def test_the_document_is_valid_openapi():
    validate(document())


def test_it_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    assert response.get_json() == document()
    validate(response.get_json())


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_every_route_is_described_and_nothing_else(app):
    served = {(_openapi_path(rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - IGNORED_METHODS}
    doc = document()
    assert doc["servers"] == [{"url": "/api/v1"}]
    described = {(path, method) for path, item in doc["paths"].items()
                 for method in item if method != "parameters"}
    assert served == described
    assert len(served) >= 12


def test_path_parameters_are_declared_for_every_templated_path():
    paths = document()["paths"]
    for path, item in paths.items():
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), path
    assert any("{" in path for path in paths)  # the loop ran, and met templated paths


# ---- real answers against their documented schemas ---------------------------------------------

def _rebase(schema):
    """Point the document's local $refs at the registered document, so a fragment can be validated alone."""
    if isinstance(schema, dict):
        return {k: (DOC_URI + v if k == "$ref" and v.startswith("#/") else _rebase(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


class Contract:
    def __init__(self):
        self.doc = document()
        self.registry = Registry().with_resource(DOC_URI, Resource.from_contents(self.doc, DRAFT202012))

    def resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            target = self.doc
            for part in obj["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            obj = target
        return obj

    def validator(self, schema) -> OAS31Validator:
        return OAS31Validator(_rebase(copy.deepcopy(schema)), registry=self.registry,
                              format_checker=OAS31Validator.FORMAT_CHECKER)

    def operation(self, path: str, method: str) -> dict:
        return self.doc["paths"][path][method.lower()]

    def check_request(self, path: str, method: str, body) -> None:
        request_body = self.operation(path, method)["requestBody"]
        self.validator(request_body["content"]["application/json"]["schema"]).validate(body)

    def check_response(self, path: str, method: str, response) -> dict:
        operation = self.doc["paths"][path].get(method.lower())
        if operation is None:  # a method the route does not take: the generic error answers
            documented = self.resolve(self.doc["components"]["responses"]["Edefault"])
        else:
            responses = operation["responses"]
            documented = self.resolve(responses.get(str(response.status_code), responses["default"]))
        assert response.is_json, response.get_data(as_text=True)
        body = response.get_json()
        self.validator(documented["content"]["application/json"]["schema"]).validate(body)
        for header in documented.get("headers", {}):
            assert header in response.headers, (path, method, header)
        return body


@pytest.fixture
def contract():
    return Contract()


@pytest.fixture
def call(app, web_world, contract):
    """Make a real call and check the answer (and, when it is meant to succeed, the request) against the document."""
    client = app.test_client()
    tokens = {name: accounts.create_token(web_world.session, OPERATOR, getattr(web_world, name))
              for name in ("author", "approver", "auditor", "outsider")}

    def _call(method, template, who=None, json=None, status=200, query="", **values):
        if json is not None and status < 400:
            contract.check_request(template, method, json)
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        response = client.open("/api/v1" + template.format(**values) + query, method=method, json=json, headers=headers)
        assert response.status_code == status, response.get_data(as_text=True)
        return contract.check_response(template, method, response)

    return _call


def test_real_answers_fit_their_schemas(call, web_world):
    w = web_world
    call("GET", "/me", "approver")
    call("GET", "/channels", "auditor")
    created = call("POST", "/posts", "author", status=201, json={
        "body": "Road closed.", "link": None,
        "targets": [{"channel_id": w.channel.id, "scheduled_at": "2031-06-01T10:00:00+01:00"},
                    {"channel_id": w.channel2.id, "text": "Closed.", "scheduled_at": None}]})
    pid = created["id"]
    call("PATCH", "/posts/{post_id}", "author", json={"link": "https://example.org/roads"}, post_id=pid)
    call("POST", "/posts/{post_id}/submit", "author", json={}, post_id=pid)
    call("POST", "/posts/{post_id}/approve", "approver", json={"expected_hash": created["content_hash"]},
         status=409, post_id=pid)
    current = call("GET", "/posts/{post_id}", "approver", post_id=pid)
    assert current["screening"] and current["screening"][0]["rule"] == "link_domain"
    call("POST", "/posts/{post_id}/approve", "approver", json={"expected_hash": current["content_hash"]},
         status=400, post_id=pid)  # the screening warns about the link: the approver must say they read it
    call("POST", "/posts/{post_id}/approve", "approver", json={"expected_hash": current["content_hash"],
                                                                "comment": "Good.", "acknowledge_warnings": True},
         post_id=pid)
    call("POST", "/posts/{post_id}/reject", "approver", json={}, status=400, post_id=pid)
    call("POST", "/posts/{post_id}/withdraw", "author", json={"reason": "Reopened."}, post_id=pid)
    call("POST", "/posts/{post_id}/retract", "approver", json={"reason": "Test."}, status=409, post_id=pid)
    call("GET", "/audit", "auditor")
    call("GET", "/audit", "author", status=403)
    call("GET", "/posts/{post_id}", "outsider", status=403, post_id=pid)
    call("GET", "/posts/{post_id}", status=401, post_id=pid)
    call("GET", "/posts/{post_id}", "author", status=404, post_id=99999)
    call("PATCH", "/posts", "author", json={}, status=405)


def test_a_published_and_retracted_post_fits_too(call, app, web_world):
    post = call("POST", "/posts", "author", status=201, json={
        "body": "Road open.", "targets": [{"channel_id": web_world.channel.id}]})
    call("POST", "/posts/{post_id}/submit", "author", post_id=post["id"])
    call("POST", "/posts/{post_id}/approve", "approver", post_id=post["id"])
    sessions = app.extensions["desk.sessions"]
    with sessions() as s:
        [claim] = publishing.claim_due(s, "contract")
        context = PlatformContext(settings=app.config["DESK_SETTINGS"], session_factory=sessions)
        publishing.record_success(s, claim, "contract", publisher_for(claim.channel, context).publish(claim.request))
    published = call("GET", "/posts/{post_id}", "approver", post_id=post["id"])
    assert published["targets"][0]["remote_id"] and published["targets"][0]["published_at"]
    call("POST", "/posts/{post_id}/retract", "approver", json={"reason": "Wrong road."}, post_id=post["id"])
    trail = call("GET", "/audit", "auditor", query=f"?post_id={post['id']}&per_page=3")
    assert trail["total"] > 3 and trail["next_page"] == 2 and trail["events"][0]["action"] == "post.retracted"


def test_media_and_per_channel_fields_fit_too(call, app, web_world, contract):
    token = accounts.create_token(web_world.session, OPERATOR, web_world.author)
    client = app.test_client()

    def upload(data, name, status):
        response = client.post("/api/v1/media", headers={"Authorization": f"Bearer {token}"},
                               data={"file": (io.BytesIO(data), name), "unit_id": str(web_world.unit.id)},
                               content_type="multipart/form-data")
        assert response.status_code == status, response.get_data(as_text=True)
        return contract.check_response("/media", "post", response)

    photo = upload(png(), "map.png", 201)
    assert upload(png(), "map.png", 200)["id"] == photo["id"]
    assert upload(b"words", "map.jpg", 400)["fields"]["file"]
    call("GET", "/media", "author", query=f"?unit_id={web_world.unit.id}")
    call("GET", "/media", "outsider", query=f"?unit_id={web_world.unit.id}", status=403)
    call("GET", "/media", "author", query="?unit_id=x", status=400)
    post = call("POST", "/posts", "author", status=201, json={"body": "Road closed.", "targets": [
        {"channel_id": web_world.channel.id, "media_ids": [photo["id"]],
         "extra": {"title": "A40", "description": None, "tags": ["road closure"], "privacy": "public"}}]})
    assert post["targets"][0]["media"][0]["id"] == photo["id"]
    call("PATCH", "/posts/{post_id}", "author", post_id=post["id"], json={"targets": [
        {"channel_id": web_world.channel.id, "extra": {"privacy": None}}]})
    call("POST", "/posts", "author", status=400, json={"body": "x", "targets": [
        {"channel_id": web_world.channel.id, "media_ids": [99999]}]})
    channels = call("GET", "/channels", "author")["channels"]
    assert all({"remote_account_id", "remote_name", "remote_handle"} <= set(c) for c in channels)
