"""Facebook's rules checked before submission (a table of real edge cases), and its settings."""
from __future__ import annotations

import pytest

from desk.config import ConfigError, Settings
from desk.platforms import Content, MediaItem
from desk.platforms.facebook import FacebookPublisher
from desk.platforms.facebook_media import MultipartFile, compose
from desk.platforms.facebook_settings import facebook_settings, facebook_settings_for

MB = 1024 * 1024


def problems(text="Appeal for witnesses", link=None, media=()):
    return FacebookPublisher.validate(Content(text=text, link=link, media=tuple(media)))


def item(tmp_path, name, kind, size=2048, duration=None, write=True) -> MediaItem:
    path = tmp_path / name
    if write:
        path.write_bytes(b"\0" * 16)
    # the size is what the desk's media store measured; validation trusts it, as the store read the file
    return MediaItem(str(path), kind, size, name, duration=duration)


@pytest.mark.parametrize("text,ok", [
    ("a" * 63206, True),                     # exactly Facebook's limit
    ("a" * 63207, False),
    ("警" * 63206, True),                    # CJK counts one character each
    ("\U0001F694" * 63206, True),            # so does an emoji
    ("e\u0301" * 40000, True),               # 80,000 code points, but composed first (NFC): 40,000 characters
    ("   " + "a" * 63206 + "\n", True),      # surrounding spaces are not sent
    ("", False),                             # nothing at all
])
def test_message_length(text, ok):
    found = problems(text)
    assert (found == []) is ok
    if not ok and text:
        assert found[0].field == "text" and "Shorten it by 1" in found[0].message


def test_a_link_alone_or_media_alone_is_a_post(tmp_path):
    assert problems("", link="https://www.met.police.uk/news") == []
    assert problems("", media=[item(tmp_path, "p.jpg", "image/jpeg")]) == []


@pytest.mark.parametrize("link,ok", [
    ("https://www.met.police.uk/appeal?id=1&x=2", True), ("http://met.police.uk", True),
    ("HTTPS://MET.POLICE.UK", True),
    ("www.met.police.uk", False), ("ftp://files.met.police.uk/a", False), ("javascript:alert(1)", False),
    ("https://", False), ("https://met.police.uk/a b", False),
])
def test_links(link, ok):
    found = problems(link=link)
    assert (found == []) is ok
    if not ok:
        assert found[0].field == "link" and "http://" in found[0].message


def test_the_link_joins_the_text_only_when_media_come_with_it(tmp_path):
    photo = item(tmp_path, "p.jpg", "image/jpeg")
    assert compose(Content("Road closed", link="https://tfl.gov.uk")) == "Road closed"
    assert compose(Content("Road closed", link="https://tfl.gov.uk", media=(photo,))) == \
        "Road closed\n\nhttps://tfl.gov.uk"
    assert compose(Content("See https://tfl.gov.uk", link="https://tfl.gov.uk", media=(photo,))) == \
        "See https://tfl.gov.uk"


@pytest.mark.parametrize("files,complaint", [
    ([("p.jpg", "image/jpeg")] * 11, "at most 10 photos"),
    ([("p.jpg", "image/jpeg"), ("v.mp4", "video/mp4")], "one video on its own"),
    ([("v.mp4", "video/mp4"), ("w.mov", "video/quicktime")], "one video on its own"),
    ([("p.webp", "image/webp")], "cannot take p.webp"),
    ([("doc.pdf", "application/pdf")], "cannot take doc.pdf"),
])
def test_media_combinations(tmp_path, files, complaint):
    found = problems(media=[item(tmp_path, name, kind) for name, kind in files])
    assert any(complaint in p.message for p in found) and {p.field for p in found} == {"media"}


def test_ten_photos_or_one_video_pass(tmp_path):
    assert problems(media=[item(tmp_path, f"p{i}.png", "image/png") for i in range(10)]) == []
    assert problems(media=[item(tmp_path, "p.gif", "image/gif")]) == []
    assert problems(media=[item(tmp_path, "v.mov", "video/quicktime", duration=1200.0)]) == []


@pytest.mark.parametrize("name,kind,size,duration,complaint", [
    ("big.jpg", "image/jpeg", 10 * MB + 1, None, "at most 10 MB"),
    ("huge.mp4", "video/mp4", 1024 * MB + 1, None, "at most 1 GB"),
    ("tiny.mp4", "video/mp4", 1023, None, "under 1 KB"),
    ("long.mp4", "video/mp4", 50 * MB, 1201.0, "lasts 20 min 01 s"),
])
def test_media_limits(tmp_path, name, kind, size, duration, complaint):
    found = problems(media=[item(tmp_path, name, kind, size, duration)])
    assert len(found) == 1 and complaint in found[0].message
    exactly = {"big.jpg": 10 * MB, "huge.mp4": 1024 * MB, "tiny.mp4": 1024, "long.mp4": 50 * MB}[name]
    assert problems(media=[item(tmp_path, name, kind, exactly, 1200.0 if duration else None)]) == []


def test_a_file_gone_from_the_store(tmp_path):
    found = problems(media=[item(tmp_path, "gone.jpg", "image/jpeg", write=False)])
    assert "missing from the desk's media store" in found[0].message


def test_the_multipart_body_streams_with_a_known_length(tmp_path):
    path = tmp_path / 'odd "name".jpg'
    path.write_bytes(b"x" * 3000)
    body = MultipartFile({"message": "Caf\u00e9 ✓", "skip": None}, "source",
                         MediaItem(str(path), "image/jpeg", 3000, 'odd "name".jpg'))
    body.chunk_size = 1000
    chunks = list(body)
    assert len(chunks) == 5 and len(b"".join(chunks)) == len(body)  # head, three chunks, tail
    assert b'filename="odd name.jpg"' in chunks[0] and "Caf\u00e9 ✓".encode() in chunks[0]
    assert b'name="skip"' not in chunks[0]


# ---- settings ------------------------------------------------------------------------------------------

def test_defaults_and_the_version_in_every_address():
    s = facebook_settings({})
    assert (s.graph_base, s.video_base, s.api_version) == ("https://graph.facebook.com",
                                                           "https://graph-video.facebook.com", "v26.0")
    assert s.dialog_url == "https://www.facebook.com/v26.0/dialog/oauth"
    assert s.graph("/me/accounts") == "https://graph.facebook.com/v26.0/me/accounts"
    assert s.scopes == ("pages_show_list", "pages_manage_posts", "pages_read_engagement", "publish_video")
    assert not s.configured and "DESK_FACEBOOK_APP_ID and DESK_FACEBOOK_APP_SECRET" in s.not_configured_message
    moved = facebook_settings({"DESK_FACEBOOK_API_VERSION": "v27.0", "DESK_FACEBOOK_VIDEO_BASE": "https://p/v/",
                               "DESK_FACEBOOK_APP_ID": "1", "DESK_FACEBOOK_APP_SECRET": "s3cret"})
    assert moved.dialog_url == "https://www.facebook.com/v27.0/dialog/oauth" and moved.video("/1/videos") == \
        "https://p/v/v27.0/1/videos"
    assert moved.configured and moved.not_configured_message == "" and "s3cret" not in repr(moved)
    assert facebook_settings({"DESK_FACEBOOK_SCOPES": "pages_show_list pages_manage_posts"}).scopes == \
        ("pages_show_list", "pages_manage_posts")


@pytest.mark.parametrize("env,complaint", [
    ({"DESK_FACEBOOK_API_VERSION": "26"}, "DESK_FACEBOOK_API_VERSION"),
    ({"DESK_FACEBOOK_FIND_WINDOW_HOURS": "soon"}, "DESK_FACEBOOK_FIND_WINDOW_HOURS"),
])
def test_settings_refuse_nonsense(env, complaint):
    with pytest.raises(ConfigError, match=complaint):
        facebook_settings(env)


def test_settings_come_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv("DESK_FACEBOOK_GRAPH_BASE", "https://proxy.force.example/fb/")
    assert facebook_settings_for(Settings(database_url="sqlite://", secret_key="t")).graph_base == \
        "https://proxy.force.example/fb"
    given = Settings(database_url="sqlite://", secret_key="t", extra={"platform_env": {}})
    assert facebook_settings_for(given).graph_base == "https://graph.facebook.com"
