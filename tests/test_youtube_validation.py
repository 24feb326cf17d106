"""YouTube's rules as a table of real edge cases, checked before submission, and YouTube's settings."""
from __future__ import annotations

import pytest

from desk.config import ConfigError, Settings
from desk.platforms import Content, MediaItem
from desk.platforms.youtube import YouTubePublisher
from desk.platforms.youtube_content import tags_length, video_resource
from desk.platforms.youtube_settings import for_settings, youtube_settings
from tests.fakes.fake_youtube_rules import metadata_error
from tests.fakes.fake_youtube_rules import tags_length as youtubes_count

VIDEO = MediaItem("/media/appeal.mp4", "video/mp4", 10_000_000, "appeal.mp4", duration=95.0)


def problems(text="Appeal for witnesses.", media=(VIDEO,), link=None, **extra):
    extra.setdefault("title", "Camden collision: can you help?")
    found = YouTubePublisher.validate(Content(text=text, link=link, media=tuple(media), extra=extra))
    return [(p.field, p.message) for p in found]


def _fields(found):
    return [f for f, _ in found]


@pytest.mark.parametrize("extra,field,words", [
    ({"title": "x" * 100}, None, None),
    ({"title": "x" * 101}, "title", "Shorten it by 1"),
    ({"title": "\u8b66\u5bdf" * 50}, None, None),  # 100 CJK characters: characters, not bytes
    ({"title": "Arrest <update>"}, "title", "\u201c<\u201d and \u201c>\u201d"),
    ({"title": "Score: 3 > 2"}, "title", "\u201c>\u201d"),
    ({"title": "   "}, "title", "Give the video a title"),
    ({"description": "a" * 5000}, None, None),
    ({"description": "a" * 5001}, "description", "this one has 5001"),
    ({"description": "\u00e9" * 2500}, None, None),  # 2,500 characters, 5,000 bytes
    ({"description": "\u00e9" * 2501}, "description", "5002"),  # 2,501 characters, but 5,002 bytes
    ({"description": "\u8b66" * 1667}, "description", "5001"),  # CJK: 3 bytes each
    ({"description": "\U0001f6a8" * 1251}, "description", "5004"),  # emoji: 4 bytes each
    ({"description": "Call 101 <or> 999"}, "description", "\u201c<\u201d and \u201c>\u201d"),
    ({"tags": ["a" * 500]}, None, None),
    ({"tags": ["a" * 501]}, "tags", "count 501"),
    ({"tags": ["a" * 249, "b" * 250]}, None, None),  # 499 + the comma = 500
    ({"tags": ["a" * 250, "b" * 250]}, "tags", "count 501"),  # the comma counts
    ({"tags": ["road " + "a" * 493]}, None, None),  # 498 + quotation marks = 500
    ({"tags": ["road " + "a" * 494]}, "tags", "count 501"),  # a space adds the quotation marks
    ({"tags": ["<b>"]}, "tags", "in tags"),
    ({"privacy": "unlisted"}, None, None),
    ({"privacy": "Private"}, None, None),
    ({"privacy": "friends"}, "privacy", "public, unlisted or private"),
])
def test_text_rules(extra, field, words):
    found = problems(**extra)
    if field is None:
        assert found == []
    else:
        assert _fields(found) == [field] and words in found[0][1]


def test_description_from_the_text_is_checked_on_the_text():
    found = problems(text="a" * 4990, link="https://www.met.police.uk/appeal")
    assert _fields(found) == ["text"] and "5000 bytes" in found[0][1]


@pytest.mark.parametrize("tags", [
    ["Foo-Baz"], ["Foo Baz"], ["Foo-Baz", "Foo Baz"], ["a" * 249, "b" * 250], ["road " + "a" * 494],
    ["x"] * 250, ["x y"] * 100,
])
def test_the_tag_count_agrees_with_youtubes_rule(tags):
    assert tags_length(tags) == youtubes_count(tags)


def test_youtubes_own_examples():
    assert tags_length(["Foo-Baz"]) == 7 and tags_length(["Foo Baz"]) == 9


def test_what_validation_lets_through_youtube_takes():
    content = Content(text="Appeal", media=(VIDEO,), extra={"title": "x" * 100, "description": "\u00e9" * 2500,
                                                           "tags": ["a" * 249, "b" * 250], "privacy": "unlisted"})
    assert YouTubePublisher.validate(content) == []
    assert metadata_error(video_resource(content, "25")) is None


@pytest.mark.parametrize("media,words", [
    ((), "attach one video"),
    ((VIDEO, VIDEO), "carries one video; this one has 2"),
    ((MediaItem("/m/p.jpg", "image/jpeg", 100, "scene.jpg"),), "attach one video"),
    ((VIDEO, MediaItem("/m/p.jpg", "image/jpeg", 100, "scene.jpg")), "remove scene.jpg image"),
    ((MediaItem("/m/v.mp4", "video/mp4", 257 * 1024 ** 3, "long.mp4"),), "256 GB"),
    ((MediaItem("/m/v.mp4", "video/mp4", 1000, "long.mp4", duration=12 * 3600 + 1),), "12 hours"),
])
def test_media_rules(media, words):
    found = problems(media=media)
    assert "media" in _fields(found) and any(words in message for _, message in found)


def test_one_video_is_enough():
    assert problems() == []


def test_the_metadata_sent():
    content = Content(text="Words", link="https://met.police.uk/a", media=(VIDEO,),
                      extra={"title": " T ", "tags": ["  road   closure ", "", "A40"], "category_id": "22"})
    assert video_resource(content, "25") == {
        "snippet": {"title": "T", "description": "Words\n\nhttps://met.police.uk/a", "categoryId": "22",
                    "tags": ["road closure", "A40"]},
        "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False}}


# ---- settings ------------------------------------------------------------------------------------------

def test_settings_defaults():
    s = youtube_settings({})
    assert s.auth_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert (s.token_url, s.api_base) == ("https://oauth2.googleapis.com/token", "https://www.googleapis.com")
    assert s.scopes == ("https://www.googleapis.com/auth/youtube",) and s.upload_chunk_bytes % (256 * 1024) == 0
    assert not s.configured and "DESK_GOOGLE_CLIENT_ID and DESK_GOOGLE_CLIENT_SECRET" in s.not_configured_message
    ready = youtube_settings({"DESK_GOOGLE_CLIENT_ID": "id", "DESK_GOOGLE_CLIENT_SECRET": "s3cret"})
    assert ready.configured and ready.not_configured_message == "" and "s3cret" not in repr(ready)


@pytest.mark.parametrize("env,complaint", [
    ({"DESK_YOUTUBE_UPLOAD_CHUNK_BYTES": "1000000"}, "multiple of 262144"),
    ({"DESK_YOUTUBE_UPLOAD_CHUNK_BYTES": "lots"}, "whole number"),
    ({"DESK_YOUTUBE_SCOPES": "https://www.googleapis.com/auth/youtube.upload"}, "could not delete"),
    ({"DESK_YOUTUBE_CATEGORY_ID": "news"}, "category number"),
    ({"DESK_YOUTUBE_RETRY_WAIT": "-1"}, "negative"),
])
def test_settings_refuse_nonsense(env, complaint):
    with pytest.raises(ConfigError, match=complaint):
        youtube_settings(env)


def test_settings_come_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv("DESK_YOUTUBE_API_BASE", "https://proxy.force.example/google/")
    assert for_settings(Settings(database_url="sqlite://", secret_key="t")).api_base == \
        "https://proxy.force.example/google"
    given = Settings(database_url="sqlite://", secret_key="t", extra={"platform_env": {}})
    assert for_settings(given).api_base == "https://www.googleapis.com"
