"""Flickr's limits as the press officer meets them (a table of real edge cases), the fields the upload
carries, and Flickr's settings."""
from __future__ import annotations

import pytest

from desk.config import ConfigError, Settings
from desk.platforms import Content, MediaItem
from desk.platforms.flickr import FlickrPublisher
from desk.platforms.flickr_settings import FlickrSettings, flickr_settings, flickr_settings_for
from desk.platforms.flickr_upload import machine_tag, tag_text, upload_fields

MB = 1024 * 1024


def item(mime="image/jpeg", size=2 * MB, name="scene.jpg") -> MediaItem:
    return MediaItem(f"/media/{name}", mime, size, name)


def problems(media=(item(),), text="Road closed on the A40.", link=None,  # noqa: B008 (a frozen MediaItem)
             **extra) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in FlickrPublisher.validate(Content(text=text, link=link, media=tuple(media), extra=extra)):
        found.setdefault(p.field, []).append(p.message)
    return found


@pytest.mark.parametrize("case,kwargs,field,words", [
    ("no photo", dict(media=()), "media", "Flickr needs a photo"),
    ("two photos", dict(media=(item(), item(name="b.jpg"))), "media", "one photo per post, and 2 are chosen"),
    ("a video", dict(media=(item("video/mp4", name="appeal.mp4"),)), "media", "not videos: untick appeal.mp4"),
    ("a WebP image", dict(media=(item("image/webp", name="x.webp"),)), "media", "JPEG, PNG and GIF"),
    ("an empty file", dict(media=(item(size=0),)), "media", "empty (0 bytes)"),
    ("a photo over 200 MB", dict(media=(item(size=200 * MB + 1),)), "media", "at most 200 MB"),
    ("a title of 256 characters", dict(title="T" * 256), "title", "this one has 256. Shorten it by 1."),
    ("a description of 10,001 characters", dict(description="d" * 10_001), "description", "Shorten it by 1."),
    ("a text of 10,001 characters and no description", dict(text="w" * 10_001), "text", "10,001"),
    ("a tag with a double quote", dict(tags=['the "Met"']), "tags", "cannot contain a double quote"),
    ("75 tags (one is kept by the desk)", dict(tags=[f"t{i}" for i in range(75)]), "tags", "Remove 1."),
    ("an unknown visibility", dict(privacy="unlisted"), "privacy", "public, friends, family or private"),
    ("a safety level of 4", dict(safety_level=4), "safety_level", "1 (safe)"),
    ("a content type of 'video'", dict(content_type="video"), "content_type", "1 (photo)"),
    ("a link that is not a web address", dict(link="ftp://files.met.police.uk/x"), "link", "http://"),
])
def test_what_flickr_refuses(case, kwargs, field, words):
    found = problems(**kwargs)
    assert field in found, case
    assert any(words in m for m in found[field]), found[field]


@pytest.mark.parametrize("case,kwargs", [
    ("a JPEG", dict()),
    ("a PNG", dict(media=(item("image/png", name="map.png"),))),
    ("a GIF", dict(media=(item("image/gif", name="map.gif"),))),
    ("exactly 200 MB", dict(media=(item(size=200 * MB),))),
    ("a title of 255 characters", dict(title="T" * 255)),
    ("a title of 255 Chinese characters", dict(title="警" * 255)),
    ("a description of 10,000 characters", dict(description="d" * 10_000)),
    ("tags with spaces", dict(tags=["road closure", "Notting Hill Carnival", "A40"])),
    ("a machine tag of the force's own", dict(tags=["met:borough=camden"])),
    ("74 tags", dict(tags=[f"t{i}" for i in range(74)])),
    ("friends only", dict(privacy="friends")),
    ("family only", dict(privacy="family")),
    ("private", dict(privacy="private")),
    ("no text at all", dict(text="")),
    ("emoji and accents", dict(title="Carnaval 🎉 à Notting Hill", text="Zoë’s café")),
])
def test_what_flickr_takes(case, kwargs):
    assert problems(**kwargs) == {}, case


def test_the_media_refusal_alone_is_what_the_post_form_asks_about():
    """The post form asks per file whether Flickr would carry it (text '-', one file): only media problems."""
    assert FlickrPublisher.validate(Content(text="-", media=(item(),))) == []
    [refusal] = FlickrPublisher.validate(Content(text="-", media=(item("video/quicktime", name="c.mov"),)))
    assert refusal.field == "media"


def test_tags_are_quoted_when_they_hold_spaces():
    assert tag_text(["road closure", "A40", "Notting\tHill"]) == '"road closure" A40 "Notting\tHill"'
    fields = upload_fields(Content(text="x", extra={"tags": "road closure, A40 ,,road closure"}), "desk-1-2")
    assert fields["tags"] == f'"road closure" A40 {machine_tag("desk-1-2")}'


def test_the_machine_tag_survives_flickr_normalising_it():
    tag = machine_tag("desk-12-345")
    assert tag.startswith("desk:marker=") and tag == tag.lower() and tag.split("=")[1].isalnum()
    assert machine_tag("desk-1-2345") != tag  # markers that read alike do not collide


def test_fields_for_a_hidden_restricted_screenshot():
    fields = upload_fields(Content(text="x", extra={"safety_level": 3, "content_type": 2, "hidden": True}), "m")
    assert (fields["safety_level"], fields["content_type"], fields["hidden"]) == ("3", "2", "2")


# ---- settings ------------------------------------------------------------------------------------------

def test_defaults_are_flickrs_own_addresses():
    s = flickr_settings({})
    assert s.oauth_base == "https://www.flickr.com/services/oauth"
    assert s.oauth_url("request_token") == "https://www.flickr.com/services/oauth/request_token"
    assert s.upload_url == "https://up.flickr.com/services/upload/"
    assert s.rest_url == "https://api.flickr.com/services/rest/"
    assert s.web_base == "https://www.flickr.com"
    assert not s.configured and s.missing == ["DESK_FLICKR_API_KEY", "DESK_FLICKR_API_SECRET"]
    assert "DESK_FLICKR_API_KEY and DESK_FLICKR_API_SECRET" in s.not_configured_message


def test_every_address_and_knob_can_be_set():
    s = flickr_settings({"DESK_FLICKR_OAUTH_BASE": "https://proxy.force.example/flickr/oauth/",
                         "DESK_FLICKR_UPLOAD_URL": "https://proxy.force.example/up/",
                         "DESK_FLICKR_REST_URL": "https://proxy.force.example/rest/",
                         "DESK_FLICKR_WEB_BASE": "https://flickr.example/", "DESK_FLICKR_API_KEY": "k",
                         "DESK_FLICKR_API_SECRET": "s3cret", "DESK_FLICKR_UPLOAD_BLOCK_BYTES": "4096",
                         "DESK_FLICKR_FIND_WINDOW_DAYS": "2.5", "DESK_FLICKR_FIND_MAX_PAGES": "2"})
    assert s.oauth_url("authorize") == "https://proxy.force.example/flickr/oauth/authorize"
    assert (s.upload_url, s.rest_url, s.web_base) == ("https://proxy.force.example/up/",
                                                      "https://proxy.force.example/rest/", "https://flickr.example")
    assert (s.upload_block_bytes, s.find_window_days, s.find_max_pages) == (4096, 2.5, 2)
    assert s.configured and s.not_configured_message == "" and "s3cret" not in repr(s)


@pytest.mark.parametrize("env,complaint", [
    ({"DESK_FLICKR_UPLOAD_BLOCK_BYTES": "lots"}, "DESK_FLICKR_UPLOAD_BLOCK_BYTES"),
    ({"DESK_FLICKR_FIND_WINDOW_DAYS": "-1"}, "DESK_FLICKR_FIND_WINDOW_DAYS"),
    ({"DESK_FLICKR_FIND_MAX_PAGES": "0"}, "DESK_FLICKR_FIND_MAX_PAGES"),
])
def test_settings_refuse_nonsense(env, complaint):
    with pytest.raises(ConfigError, match=complaint):
        flickr_settings(env)


def test_settings_come_from_the_desk_then_its_variables_then_the_environment(monkeypatch):
    monkeypatch.setenv("DESK_FLICKR_REST_URL", "https://from-the-environment/rest/")
    plain = Settings(database_url="sqlite://", secret_key="t")
    assert flickr_settings_for(plain).rest_url == "https://from-the-environment/rest/"
    given = Settings(database_url="sqlite://", secret_key="t", extra={"platform_env": {}})
    assert flickr_settings_for(given).rest_url == "https://api.flickr.com/services/rest/"
    ready = FlickrSettings(rest_url="https://ready/rest/")
    plain.platforms = type("Ready", (), {"flickr": ready})()
    assert flickr_settings_for(plain) is ready
