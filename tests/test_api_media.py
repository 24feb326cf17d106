"""The API reaches what the web post form does for real platforms: uploads into a unit's media library,
and per channel its own platform fields (title, description, tags, privacy) and files, in order."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
from sqlalchemy import select
from test_api import Api, assert_error

from desk.models import AuditEvent, Channel, Media, Target
from desk.services import accounts, admin

from conftest import OPERATOR
from media_samples import mp4, png

PERSONAS = ("admin", "author", "approver", "auditor", "outsider")


@pytest.fixture
def api(app, web_world):
    tokens = {name: accounts.create_token(web_world.session, OPERATOR, getattr(web_world, name)) for name in PERSONAS}
    return Api(app.test_client(), tokens, web_world)


def upload(api, who, unit_id, data: bytes, filename: str, **extra_form):
    form = {"file": (io.BytesIO(data), filename), "unit_id": str(unit_id), **extra_form}
    return api.call("POST", "/media", who, data=form, content_type="multipart/form-data")


def uploaded(api, data: bytes, filename: str, who="author", unit=None) -> dict:
    response = upload(api, who, (unit or api.world.unit).id, data, filename)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def refusals(app, action: str):
    with app.extensions["desk.sessions"]() as s:
        return [e.actor for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused"))
                if json.loads(e.details or "{}").get("attempted") == action]


def test_a_real_photo_is_stored_and_listed_and_a_second_copy_is_not(api):
    w, image = api.world, png(40, 30)
    media = uploaded(api, image, "road-closure.png")
    assert media["sha256"] == hashlib.sha256(image).hexdigest()
    assert media["mime_type"] == "image/png" and (media["width"], media["height"]) == (40, 30)
    assert media["duration"] is None and media["size"] > 0 and media["filename"] == "road-closure.png"
    assert media["unit_id"] == w.unit.id and media["uploaded_at"].endswith("Z")

    again = upload(api, "approver", w.unit.id, image, "same-again.png")
    assert again.status_code == 200 and again.get_json()["id"] == media["id"]

    video = uploaded(api, mp4(12.5), "briefing.mp4")
    assert video["mime_type"] == "video/mp4" and video["duration"] == 12.5

    library = api.get(f"/media?unit_id={w.unit.id}", "approver").get_json()
    assert library["unit_id"] == w.unit.id
    assert [m["id"] for m in library["media"]] == [video["id"], media["id"]]  # newest first
    assert api.get(f"/media?unit_id={w.unit.id}", "admin").status_code == 200


def test_a_file_that_is_not_what_its_name_says_is_refused_by_its_content(api, app):
    w = api.world
    body = assert_error(upload(api, "author", w.unit.id, b"Not a photo at all, only words.\n", "evidence.jpg"),
                        400, "invalid")
    [message] = body["fields"]["file"]
    assert "evidence.jpg is not a photo or video" in message and "whatever its name says" in message
    assert "Nothing was stored" in body["message"]
    with app.extensions["desk.sessions"]() as s:
        assert s.scalars(select(Media)).all() == []


@pytest.mark.parametrize("form, where", [
    ({"unit_id": ""}, "unit_id"),
    ({"unit_id": "DPA"}, "unit_id"),
    ({"unit_id": "0"}, "unit_id"),
    ({"caption": "x"}, "caption"),
])
def test_the_shape_of_an_upload_is_checked(api, form, where):
    data = {"file": (io.BytesIO(png()), "a.png"), "unit_id": str(api.world.unit.id), **form}
    response = api.call("POST", "/media", "author", data=data, content_type="multipart/form-data")
    body = assert_error(response, 400, "invalid")
    assert where in body["fields"]


def test_an_upload_needs_a_file_and_multipart(api):
    w = api.world
    body = assert_error(api.call("POST", "/media", "author", data={"unit_id": str(w.unit.id)},
                                 content_type="multipart/form-data"), 400, "invalid")
    assert "Required" in body["fields"]["file"][0]
    body = assert_error(api.post("/media", "author", {"unit_id": w.unit.id}), 400, "invalid")
    assert "multipart/form-data" in body["message"]
    assert_error(upload(api, "author", 99999, png(), "a.png"), 404, "not_found")
    assert_error(api.get("/media", "author"), 400, "invalid")
    assert_error(api.call("POST", "/media", None, data={"unit_id": "1"}), 401, "unauthorized")


def test_another_units_library_is_refused_and_audited(api, app):
    w = api.world
    assert_error(upload(api, "outsider", w.unit.id, png(), "a.png"), 403, "forbidden")
    assert_error(api.get(f"/media?unit_id={w.unit.id}", "outsider"), 403, "forbidden")
    assert refusals(app, "media.upload") == [w.outsider.email]
    assert refusals(app, "media.list") == [w.outsider.email]

    # A file of CO11's library, attached to a DPA post by a DPA author: refused, on the record, nothing saved.
    theirs = uploaded(api, png(9, 9), "co11.png", who="outsider", unit=w.other_unit)
    body = assert_error(api.post("/posts", "author", {"body": "Road closed.", "targets": [
        {"channel_id": w.channel.id, "media_ids": [theirs["id"]]}]}), 403, "forbidden")
    assert "unit whose library you may not use" in body["message"]
    assert refusals(app, "post.save") == [w.author.email]
    post = api.new_post()
    assert_error(api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": w.channel.id, "media_ids": [theirs["id"]]}]}), 403, "forbidden")
    assert api.get(f"/posts/{post['id']}", "author").get_json()["targets"][0]["media"] == []


EXTRA = {"title": "  A40 closure ", "description": "Diversions via the A41.", "tags": ["road closure", " A40 ",
                                                                                         "A40", "  "],
         "privacy": "unlisted"}


def test_a_target_carries_its_own_fields_and_files_and_a_patch_keeps_them(api, app):
    w = api.world
    photo, video = uploaded(api, png(20, 10), "map.png"), uploaded(api, mp4(3), "briefing.mp4")
    created = api.post("/posts", "author", {"body": "The A40 is closed.", "targets": [
        {"channel_id": w.channel.id, "extra": EXTRA, "media_ids": [video["id"], photo["id"]]},
        {"channel_id": w.channel2.id}]})
    assert created.status_code == 201, created.get_json()
    post = created.get_json()
    assert post["problems"] == {}
    first, second = post["targets"]
    assert first["extra"] == {"title": "A40 closure", "description": "Diversions via the A41.",
                              "tags": ["road closure", "A40"], "privacy": "unlisted"}
    assert [m["id"] for m in first["media"]] == [video["id"], photo["id"]]  # the order sent, not the upload order
    assert first["media"][1] == {"id": photo["id"], "sha256": photo["sha256"], "mime_type": "image/png",
                                 "size": photo["size"], "filename": "map.png"}
    assert second["extra"] == {} and second["media"] == []

    read = api.get(f"/posts/{post['id']}", "approver").get_json()
    assert read["targets"] == post["targets"]

    # Fields and targets left out keep everything; text and time changes keep the files and fields too.
    edited = api.patch(f"/posts/{post['id']}", "author", {"body": "The A40 is closed until 6pm."}).get_json()
    assert edited["targets"][0]["extra"] == first["extra"] and edited["targets"][0]["media"] == first["media"]
    edited = api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": w.channel.id, "text": "Closed until 6pm."}, {"channel_id": w.channel2.id}]}).get_json()
    assert edited["targets"][0]["extra"] == first["extra"] and edited["targets"][0]["media"] == first["media"]
    assert edited["targets"][0]["effective_text"] == "Closed until 6pm."

    # Inside extra, keys left out are kept and null clears one; media_ids replaces the list, [] empties it.
    edited = api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": w.channel.id, "extra": {"title": "A40 closed", "privacy": None},
         "media_ids": [photo["id"]]},
        {"channel_id": w.channel2.id, "media_ids": [photo["id"], video["id"]]}]}).get_json()
    assert edited["targets"][0]["extra"] == {"title": "A40 closed", "description": "Diversions via the A41.",
                                             "tags": ["road closure", "A40"]}
    assert [m["id"] for m in edited["targets"][0]["media"]] == [photo["id"]]
    assert [m["id"] for m in edited["targets"][1]["media"]] == [photo["id"], video["id"]]
    cleared = api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": w.channel.id, "media_ids": []}, {"channel_id": w.channel2.id}]}).get_json()
    assert cleared["targets"][0]["media"] == [] and cleared["targets"][0]["extra"]["title"] == "A40 closed"
    assert [m["id"] for m in cleared["targets"][1]["media"]] == [photo["id"], video["id"]]

    with app.extensions["desk.sessions"]() as s:
        target = s.scalar(select(Target).where(Target.post_id == post["id"], Target.channel_id == w.channel.id))
        assert json.loads(target.extra)["title"] == "A40 closed"


def test_the_files_and_fields_are_part_of_what_is_approved(api):
    w = api.world
    photo = uploaded(api, png(), "a.png")
    post = api.submitted()
    approved = api.post(f"/posts/{post['id']}/approve", "approver").get_json()
    assert approved["state"] == "approved"
    changed = api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": w.channel.id, "media_ids": [photo["id"]]}]}).get_json()
    assert changed["state"] == "draft" and changed["content_hash"] != approved["content_hash"]
    again = api.post(f"/posts/{post['id']}/submit", "author").get_json()
    titled = api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": w.channel.id, "extra": {"title": "New title"}}]}).get_json()
    assert titled["state"] == "draft" and titled["content_hash"] != again["content_hash"]


@pytest.mark.parametrize("target, where", [
    ({"extra": "title"}, "targets[0].extra"),
    ({"extra": ["title"]}, "targets[0].extra"),
    ({"extra": {"title": 5}}, "targets[0].extra.title"),
    ({"extra": {"caption": "x"}}, "targets[0].extra.caption"),
    ({"extra": {"tags": "road, A40"}}, "targets[0].extra.tags"),
    ({"extra": {"tags": ["road", 40]}}, "targets[0].extra.tags[1]"),
    ({"extra": {"privacy": True}}, "targets[0].extra.privacy"),
    ({"media_ids": 3}, "targets[0].media_ids"),
    ({"media_ids": None}, "targets[0].media_ids"),
    ({"media_ids": ["3"]}, "targets[0].media_ids[0]"),
    ({"media_ids": [True]}, "targets[0].media_ids[0]"),
    ({"media_ids": [3, 3]}, "targets[0].media_ids[1]"),
])
def test_the_shape_of_fields_and_files_is_checked(api, target, where):
    body = assert_error(api.post("/posts", "author", {"body": "x", "targets": [
        {"channel_id": api.world.channel.id, **target}]}), 400, "invalid")
    assert where in body["fields"] and body["fields"][where][0]


def test_an_unknown_file_is_keyed_to_its_channel(api):
    w = api.world
    body = assert_error(api.post("/posts", "author", {"body": "x", "targets": [
        {"channel_id": w.channel.id, "media_ids": [99999]}]}), 400, "invalid")
    assert body["fields"] == {f"targets.{w.channel.id}.media": ["Unknown media file."]}


@pytest.fixture
def youtube(web_world):
    return admin.create_channel(web_world.session, OPERATOR, web_world.unit.id, "youtube", "Met briefings")


def test_the_platforms_own_rules_come_back_keyed_by_channel_and_field(api, youtube):
    photo = uploaded(api, png(), "map.png")
    post = api.post("/posts", "author", {"body": "Briefing on the A40.", "targets": [
        {"channel_id": youtube.id, "extra": {"title": "A40 <closed>", "tags": ["a<b"], "privacy": "friends"},
         "media_ids": [photo["id"]]}]}).get_json()
    problems = post["problems"]
    key = f"targets.{youtube.id}."
    assert "refuses \u201c<\u201d and \u201c>\u201d in a title" in problems[key + "title"][0]
    assert "in tags" in problems[key + "tags"][0]
    assert problems[key + "privacy"] == ["Choose public, unlisted or private for the video."]
    assert any("attach one video" in m for m in problems[key + "media"])
    body = assert_error(api.post(f"/posts/{post['id']}/submit", "author"), 400, "invalid")
    assert {key + f for f in ("title", "tags", "privacy", "media")} <= set(body["fields"])

    video = uploaded(api, mp4(30), "briefing.mp4")
    fixed = api.patch(f"/posts/{post['id']}", "author", {"targets": [
        {"channel_id": youtube.id, "extra": {"title": "A40 closed", "tags": ["A40"], "privacy": "unlisted"},
         "media_ids": [video["id"]]}]}).get_json()
    assert fixed["problems"] == {}
    assert fixed["targets"][0]["extra"] == {"title": "A40 closed", "tags": ["A40"], "privacy": "unlisted"}


def test_channels_show_the_connected_account_never_its_credentials(api, youtube, app):
    w = api.world
    with app.extensions["desk.sessions"]() as s:
        channel = s.get(Channel, youtube.id)
        channel.remote_account_id, channel.remote_name, channel.remote_handle = "UC123abc", "Met Police", "@metpolice"
        channel.credentials = "gAAAAA-sealed-refresh-token"
        channel.status, channel.status_reason = "needs_reconnect", "Google says the authorisation was revoked."
        s.commit()
    response = api.get("/channels", "author")
    assert "sealed-refresh-token" not in response.get_data(as_text=True)
    listed = {c["id"]: c for c in response.get_json()["channels"]}
    assert {k: listed[youtube.id][k] for k in ("remote_account_id", "remote_name", "remote_handle", "status",
                                                 "status_reason")} == {
        "remote_account_id": "UC123abc", "remote_name": "Met Police", "remote_handle": "@metpolice",
        "status": "needs_reconnect", "status_reason": "Google says the authorisation was revoked."}
    training = listed[w.channel.id]
    assert training["remote_name"] == "Training (publishes inside the desk)" and training["remote_account_id"] is None
    assert all("credentials" not in c for c in listed.values())
