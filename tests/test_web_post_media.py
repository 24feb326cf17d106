"""Photos, videos, per-platform fields and the live X counter on the post form, through Flask's test
client with CSRF on; the post page and the approver's review showing what goes out on each channel."""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select
from test_browser import browser, live_server, sign_in  # noqa: F401  (fixtures for the browser test)
from test_web_posts import as_user, field_block, load_post, post_data, post_id_of, sessions_of, text_of

from desk.models import AuditEvent, Media, Post
from desk.platforms import publisher_class
from desk.platforms.x_text import weighted_length
from desk.services import admin

from conftest import OPERATOR, csrf_from, post_form
from media_samples import jpeg, mp4, png


def upload(*files):
    """Files as the browser sends them from <input type=file multiple name=media>."""
    return {"media": [(io.BytesIO(data), name) for name, data in files]}


def write(client, channels, files=(), url="/posts/new", **fields):
    data = post_data(channels, **fields)
    data.update(upload(*files) if files else {})
    return post_form(client, url, data)


def media_rows(app):
    with sessions_of(app)() as s:
        return list(s.scalars(select(Media).order_by(Media.id)))


def channel_media(app, post_id) -> dict[int, list[str]]:
    with sessions_of(app)() as s:
        post = s.get(Post, post_id)
        return {t.channel_id: [link.media.filename for link in t.media_links] for t in post.targets}


def listed_ids(page: str) -> list[str]:
    return re.findall(r'name="listed" value="(\d+)"', page)


def box(page: str, channel_id: int, media_id) -> str:
    pattern = rf'<input type="checkbox" name="target-{channel_id}-media" value="{media_id}"[^>]*>'
    return re.search(pattern, page).group(0)


@pytest.fixture
def x_channel(app, web_world):
    with sessions_of(app)() as s:
        return admin.create_channel(s, OPERATOR, web_world.unit.id, "x", "DPA on X")


# ---- uploads ---------------------------------------------------------------------------------------

def test_uploaded_photo_is_stored_in_the_unit_library_attached_and_shown(app, web_world):
    author = as_user(app, web_world.author.email)
    resp = write(author, [web_world.channel], files=[("closure.png", png(640, 480))])
    assert resp.status_code == 302, text_of(resp)
    post_id = post_id_of(resp)
    [media] = media_rows(app)
    assert (media.unit_id, media.mime_type, media.width, media.height) == (web_world.unit.id, "image/png", 640, 480)
    assert channel_media(app, post_id) == {web_world.channel.id: ["closure.png"]}

    page = author.get(f"/posts/{post_id}").get_data(as_text=True)
    assert f'src="/media/{media.id}/thumbnail"' in page
    assert "closure.png" in page and "640×480" in page
    thumb = author.get(f"/media/{media.id}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert max(img.size) == 320 and img.size == (320, 240)
    with sessions_of(app)() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "media.uploaded")) == 1


def test_a_text_file_named_jpg_is_refused_by_its_content_next_to_the_file_field_and_text_is_kept(app, web_world):
    author = as_user(app, web_world.author.email)
    resp = write(author, [web_world.channel], files=[("suspect.jpg", b"Not a photo at all, only words.\n" * 20)],
                 body="Appeal: have you seen this van?",
                 **{f"target-{web_world.channel.id}-text": "Seen this van? Call 101."})
    assert resp.status_code == 400
    page = text_of(resp)
    assert "suspect.jpg is not a photo or video the desk can publish" in field_block(page, "media")
    assert "Appeal: have you seen this van?" in field_block(page, "body")
    assert "Seen this van? Call 101." in field_block(page, f"target-{web_world.channel.id}-text")
    assert "Nothing was saved yet" in page
    assert media_rows(app) == []
    with sessions_of(app)() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0


def test_a_good_file_sent_with_a_refused_one_is_kept_for_the_next_try(app, web_world):
    author = as_user(app, web_world.author.email)
    resp = write(author, [web_world.channel], files=[("ok.jpg", jpeg()), ("notes.png", b"plain text")])
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "notes.png is not a photo or video" in text_of(resp)
    [kept] = media_rows(app)
    assert listed_ids(page) == [str(kept.id)]
    assert " checked" in box(page, web_world.channel.id, kept.id)

    # Sent again as the page now stands (the browser keeps the boxes), the post is saved with the file.
    data = post_data([web_world.channel], listed=[kept.id], **{f"target-{web_world.channel.id}-media": [kept.id]})
    data["csrf_token"] = csrf_from(page)
    resp = author.post("/posts/new", data=data)
    assert resp.status_code == 302
    assert channel_media(app, post_id_of(resp)) == {web_world.channel.id: ["ok.jpg"]}


def test_too_much_at_once_is_explained_not_a_bare_413(app, web_world, monkeypatch):
    from desk.web import posts as post_views

    monkeypatch.setattr(post_views, "FORM_LIMIT", 10_000)
    author = as_user(app, web_world.author.email)
    resp = write(author, [web_world.channel], files=[("big.jpg", jpeg(400, 400) + b"\0" * 20_000)])
    assert resp.status_code == 413
    assert "nothing was saved" in text_of(resp) and "one at a time" in text_of(resp)


def test_the_post_form_takes_files_larger_than_the_rest_of_the_desk_does(app, web_world):
    app.config["MAX_CONTENT_LENGTH"] = 2_000  # every other form
    author = as_user(app, web_world.author.email)
    photo = _noise_png(60)
    assert len(photo) > 2_000
    resp = write(author, [web_world.channel], files=[("scene.png", photo)], body="The scene this morning.")
    assert resp.status_code == 302, text_of(resp)
    assert media_rows(app)[0].filename == "scene.png"


def test_uploads_into_the_first_chosen_channels_unit_and_says_so(app, web_world):
    with sessions_of(app)() as s:
        admin.add_membership(s, OPERATOR, web_world.author.id, web_world.other_unit.id, "author")
    author = as_user(app, web_world.author.email)
    page = author.get("/posts/new").get_data(as_text=True)
    assert "first chosen channel's unit" in page
    resp = write(author, [web_world.other_channel, web_world.channel], files=[("map.png", png())])
    assert resp.status_code == 302
    [media] = media_rows(app)
    assert media.unit_id == web_world.other_unit.id  # CO11 is listed first on the form
    follow = author.get(resp.headers["Location"])
    assert "went into the media library of CO11" in text_of(follow)


# ---- which file goes to which channel --------------------------------------------------------------

def test_files_go_to_every_channel_that_takes_them_and_the_boxes_decide_after(app, web_world, x_channel):
    author = as_user(app, web_world.author.email)
    resp = write(author, [web_world.channel, x_channel], files=[("a.jpg", jpeg()), ("clip.mp4", mp4(9.5))],
                 body="Officers at the scene.")
    # X carries one video or up to 4 images, not both: saved, and the reason is next to X's files.
    assert resp.status_code == 200
    page = text_of(resp)
    assert "Saved as a draft" in page
    assert "An X post carries one video or one GIF on its own" in field_block(
        resp.get_data(as_text=True), f"target-{x_channel.id}-media")
    post_id = int(re.search(r'action="/posts/(\d+)/edit"', resp.get_data(as_text=True)).group(1))
    assert channel_media(app, post_id) == {web_world.channel.id: ["a.jpg", "clip.mp4"],
                                           x_channel.id: ["a.jpg", "clip.mp4"]}

    # Untick the video for X: the training channel keeps both, X the photo only, and nothing is wrong.
    photo, video = media_rows(app)
    resp = post_form(author, f"/posts/{post_id}/edit", post_data(
        [web_world.channel, x_channel], body="Officers at the scene.", listed=[photo.id, video.id],
        **{f"target-{web_world.channel.id}-media": [photo.id, video.id], f"target-{x_channel.id}-media": [photo.id]}))
    assert resp.status_code == 302, text_of(resp)
    assert channel_media(app, post_id) == {web_world.channel.id: ["a.jpg", "clip.mp4"], x_channel.id: ["a.jpg"]}

    edit = author.get(f"/posts/{post_id}/edit").get_data(as_text=True)
    assert " checked" in box(edit, x_channel.id, photo.id)
    assert " checked" not in box(edit, x_channel.id, video.id)
    assert " checked" in box(edit, web_world.channel.id, video.id)


def test_a_file_the_platform_cannot_carry_is_not_ticked_for_it_and_the_form_says_why(app, web_world, x_channel):
    author = as_user(app, web_world.author.email)
    resp = write(author, [x_channel, web_world.channel], files=[("big.png", _large_png())], body="Big picture.")
    assert resp.status_code == 302, text_of(resp)
    post_id = post_id_of(resp)
    assert channel_media(app, post_id) == {x_channel.id: [], web_world.channel.id: ["big.png"]}
    [big] = media_rows(app)
    page = author.get(f"/posts/{post_id}/edit").get_data(as_text=True)
    assert " checked" not in box(page, x_channel.id, big.id)
    assert "Not ticked at first: big.png is too large for X" in text_of_html(
        field_block(page, f"target-{x_channel.id}-media"))

    # Ticked anyway, X's own check refuses it before submission, next to X's files.
    resp = post_form(author, f"/posts/{post_id}/edit", post_data(
        [x_channel, web_world.channel], body="Big picture.", listed=[big.id], action="submit",
        **{f"target-{x_channel.id}-media": [big.id], f"target-{web_world.channel.id}-media": [big.id]}))
    assert resp.status_code == 200
    assert "too large for X" in field_block(text_of(resp), f"target-{x_channel.id}-media")
    assert load_post(app, post_id).status == "draft"


def _noise_png(side: int) -> bytes:
    """A real PNG of about side*side*3 bytes: noise does not compress."""
    import os

    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def _large_png() -> bytes:
    """A real PNG over X's 5 MB image limit."""
    data = _noise_png(1400)
    assert len(data) > 5 * 1024 * 1024
    return data


def test_a_file_picked_from_the_library_is_attached(app, web_world):
    author = as_user(app, web_world.author.email)
    first = write(author, [web_world.channel], files=[("scene.jpg", jpeg())])
    assert first.status_code == 302
    [media] = media_rows(app)
    page = author.get("/posts/new").get_data(as_text=True)
    assert f'name="library" value="{media.id}"' in page
    resp = write(author, [web_world.channel2], library=[media.id], body="Second post, same photo.")
    assert resp.status_code == 302
    assert channel_media(app, post_id_of(resp)) == {web_world.channel2.id: ["scene.jpg"]}
    assert len(media_rows(app)) == 1  # the same file, not a copy


# ---- another unit's media ----------------------------------------------------------------------------

def test_another_units_media_is_refused_and_never_shown(app, web_world):
    outsider = as_user(app, web_world.outsider.email)
    assert write(outsider, [web_world.other_channel], files=[("co11.png", png())]).status_code == 302
    [theirs] = media_rows(app)

    author = as_user(app, web_world.author.email)
    assert author.get(f"/media/{theirs.id}/thumbnail").status_code == 403
    assert author.get(f"/media/{theirs.id}/file").status_code == 403
    assert f"/media/{theirs.id}/" not in author.get("/posts/new").get_data(as_text=True)  # not in the library

    forged = write(author, [web_world.channel], listed=[theirs.id],
                   **{f"target-{web_world.channel.id}-media": [theirs.id]})
    assert forged.status_code == 403
    assert "belongs to a unit whose library you may not use" in text_of(forged)
    picked = write(author, [web_world.channel], library=[theirs.id])
    assert picked.status_code == 403
    with sessions_of(app)() as s:
        refusals = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
        attempted = sorted(json.loads(r.details)["attempted"] for r in refusals)
        assert attempted == ["media.view", "media.view", "post.save", "post.save"]
        assert s.scalar(select(func.count()).select_from(Post)) == 1  # the outsider's only


# ---- the live X counter ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Road closed: details at https://www.met.police.uk/news/2026/very/long/path/to/the/article?id=1 today",
     len("Road closed: details at ") + 23 + len(" today")),
    ("Thank you \N{FAMILY}\u200d not a family: \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466!",
     None),
    ("\u8b66\u5bdf" * 10, 40),
    ("a" * 281, 281),
])
def test_counter_gives_the_servers_own_figures(app, web_world, text, expected):
    author = as_user(app, web_world.author.email)
    figures = author.get("/posts/count", query_string={"platform": "x", "text": text}).get_json()
    assert figures["weighted"] == weighted_length(text).weighted
    if expected is not None:
        assert figures["weighted"] == expected
    assert figures["limit"] == 280
    assert figures["label"] == f"{figures['weighted']} / 280"
    assert figures["over_by"] == max(0, figures["weighted"] - 280)


def test_counter_counts_emoji_as_two_and_the_link_as_sent(app, web_world):
    author = as_user(app, web_world.author.email)
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"
    assert author.get("/posts/count", query_string={"platform": "x", "text": family}).get_json()["weighted"] == 2
    with_link = author.get("/posts/count", query_string={
        "platform": "x", "text": "Appeal", "link": "https://example.com/a/very/long/address"}).get_json()
    assert with_link["weighted"] == len("Appeal ") + 23 and with_link["urls"] == 1


def test_counter_posts_need_the_csrf_token_and_unknown_platforms_are_refused(app, web_world):
    author = as_user(app, web_world.author.email)
    assert author.post("/posts/count", data={"platform": "x", "text": "hello"}).status_code == 400
    token = csrf_from(author.get("/posts/new").get_data(as_text=True))
    resp = author.post("/posts/count", data={"platform": "x", "text": "hello"}, headers={"X-CSRFToken": token})
    assert resp.status_code == 200 and resp.get_json()["weighted"] == 5
    assert author.get("/posts/count", query_string={"platform": "myspace", "text": "x"}).status_code == 400
    assert app.test_client().get("/posts/count?platform=x&text=a").status_code == 302  # sign in first


def test_form_carries_the_counter_hooks_and_works_without_script(app, web_world, x_channel):
    author = as_user(app, web_world.author.email)
    page = author.get("/posts/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'data-count-url="/posts/count"' in page
    assert f'data-count-source="target-{x_channel.id}-text"' in page and 'data-count-source="body"' in page
    assert "/static/post_form.js" in page
    assert author.get("/static/post_form.js").status_code == 200
    # Without the script, the server's check still stops an over-long X text before submission.
    resp = write(author, [x_channel], body="Fine for the body.", action="submit",
                 **{f"target-{x_channel.id}-text": "\u8b66" * 141})
    assert resp.status_code == 200
    assert "this text counts 282" in field_block(text_of(resp), f"target-{x_channel.id}-text")


# ---- what the approver sees --------------------------------------------------------------------------

def test_post_page_and_review_show_each_channels_files(app, web_world):
    author = as_user(app, web_world.author.email)
    resp = write(author, [web_world.channel], files=[("scene.jpg", jpeg(64, 48)), ("clip.mp4", mp4(75.2))],
                 asap=True, when="", action="submit")
    assert resp.status_code == 302, text_of(resp)
    post_id = post_id_of(resp)
    photo, video = media_rows(app)

    approver = as_user(app, web_world.approver2.email)
    review = approver.get(f"/approvals/{post_id}").get_data(as_text=True)
    section = review[review.index(f'id="preview-{web_world.channel.id}"'):]
    assert f'src="/media/{photo.id}/thumbnail"' in section
    assert "clip.mp4 · video, 1:15" in text_of_html(section)
    assert f'src="/media/{video.id}/file"' in section
    assert approver.get(f"/media/{photo.id}/thumbnail").status_code == 200
    ranged = approver.get(f"/media/{video.id}/file", headers={"Range": "bytes=0-7"})
    assert ranged.status_code == 206 and ranged.data == mp4(75.2)[:8]
    assert ranged.headers["Content-Type"] == "video/mp4"


def text_of_html(fragment: str) -> str:
    import html

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


# ---- per-platform fields -----------------------------------------------------------------------------

@pytest.fixture
def video_and_photo_channels(app, web_world):
    with sessions_of(app)() as s:
        return (admin.create_channel(s, OPERATOR, web_world.unit.id, "youtube", "DPA on YouTube"),
                admin.create_channel(s, OPERATOR, web_world.unit.id, "flickr", "DPA on Flickr"))


def test_youtube_and_flickr_fields_are_stored_and_shown_to_the_approver(app, web_world, video_and_photo_channels):
    yt, fl = video_and_photo_channels
    author = as_user(app, web_world.author.email)
    page = author.get("/posts/new").get_data(as_text=True)
    for name in ("title", "description", "tags", "privacy"):
        assert f'name="target-{yt.id}-{name}"' in page and f'name="target-{fl.id}-{name}"' in page
        assert f'name="target-{web_world.channel.id}-{name}"' not in page
    assert 'value="unlisted"' in field_block(page, f"target-{yt.id}-privacy")
    assert 'value="friends"' in field_block(page, f"target-{fl.id}-privacy")

    resp = write(author, [yt, fl], files=[("scene.jpg", jpeg()), ("appeal.mp4", mp4(42))], action="submit",
                 asap=True, when="", body="Appeal for witnesses to the A40 collision.", **{
                     f"target-{yt.id}-title": "A40 collision: appeal for witnesses",
                     f"target-{yt.id}-description": "Did you see the collision on Friday evening? Call 101.",
                     f"target-{yt.id}-tags": "road closure, A40 ,,  Camden, A40",
                     f"target-{yt.id}-privacy": "unlisted",
                     f"target-{fl.id}-title": "Scene of the A40 collision",
                     f"target-{fl.id}-tags": "Metropolitan Police, Camden",
                     f"target-{fl.id}-privacy": "friends"})
    assert resp.status_code == 302, text_of(resp)
    post_id = post_id_of(resp)
    # Each platform got the kind of file it takes, and its own fields, as the adapters read them.
    assert channel_media(app, post_id) == {yt.id: ["appeal.mp4"], fl.id: ["scene.jpg"]}
    with sessions_of(app)() as s:
        from desk.services.posts import extra_of

        extras = {t.channel_id: extra_of(t) for t in s.get(Post, post_id).targets}
    assert extras[yt.id] == {"title": "A40 collision: appeal for witnesses", "privacy": "unlisted",
                             "description": "Did you see the collision on Friday evening? Call 101.",
                             "tags": ["road closure", "A40", "Camden"]}
    assert extras[fl.id] == {"title": "Scene of the A40 collision", "privacy": "friends",
                             "tags": ["Metropolitan Police", "Camden"]}

    review = as_user(app, web_world.approver2.email).get(f"/approvals/{post_id}").get_data(as_text=True)
    yt_part = text_of_html(review[review.index(f'id="preview-{yt.id}"'):review.index(f'id="preview-{fl.id}"')])
    fl_part = text_of_html(review[review.index(f'id="preview-{fl.id}"'):])
    assert "Title A40 collision: appeal for witnesses" in yt_part
    assert "Tags road closure A40 Camden" in yt_part
    assert "Privacy Unlisted: only people who have the link" in yt_part
    assert "appeal.mp4 · video, 0:42" in yt_part and "scene.jpg" not in yt_part
    assert "Visibility Friends only" in fl_part and "Tags Metropolitan Police Camden" in fl_part
    assert "scene.jpg · photo, 8×6" in fl_part
    page = text_of_html(author.get(f"/posts/{post_id}").get_data(as_text=True))
    assert "Privacy Unlisted: only people who have the link" in page and "Visibility Friends only" in page


def test_edit_shows_the_platform_fields_back(app, web_world, video_and_photo_channels):
    yt, _fl = video_and_photo_channels
    author = as_user(app, web_world.author.email)
    resp = write(author, [yt], files=[("appeal.mp4", mp4(42))], **{
        f"target-{yt.id}-title": "Appeal", f"target-{yt.id}-tags": "A40,  road  closure ",
        f"target-{yt.id}-privacy": "private"})
    assert resp.status_code == 302, text_of(resp)
    page = author.get(f"/posts/{post_id_of(resp)}/edit").get_data(as_text=True)
    assert 'value="A40, road closure"' in field_block(page, f"target-{yt.id}-tags")
    assert re.search(r'<option selected value="private">|<option value="private" selected>',
                     field_block(page, f"target-{yt.id}-privacy"))


def test_platform_problems_are_shown_next_to_their_fields_with_everything_kept(app, web_world,
                                                                              video_and_photo_channels):
    yt, fl = video_and_photo_channels
    author = as_user(app, web_world.author.email)
    resp = write(author, [yt], files=[("appeal.mp4", mp4(42))], action="submit", body="Appeal.", **{
        f"target-{yt.id}-title": "Speed <kills>", f"target-{yt.id}-tags": "A40"})
    assert resp.status_code == 200
    page = text_of(resp)
    expected = [p.message for p in publisher_class("youtube").validate(
        _content(title="Speed <kills>", tags=["A40"])) if p.field == "title"]
    assert expected and all(m in field_block(page, f"target-{yt.id}-title") for m in expected)
    assert 'value="Speed <kills>"' in field_block(page, f"target-{yt.id}-title")

    # A value the form never offered is refused by the form itself, and nothing typed is lost.
    resp = write(author, [fl], files=(), body="Photo of the day.", **{
        f"target-{fl.id}-title": "Sunrise over the Thames", f"target-{fl.id}-privacy": "everyone"})
    assert resp.status_code == 400
    page = text_of(resp)
    assert "Not a valid choice" in field_block(page, f"target-{fl.id}-privacy")
    assert 'value="Sunrise over the Thames"' in field_block(page, f"target-{fl.id}-title")


def _content(**extra):
    from desk.platforms import Content

    return Content(text="Appeal.", extra=extra)


def test_tags_are_split_on_commas_and_keep_their_spaces():
    from desk.web.post_forms import split_tags

    assert split_tags(" road  closure, A40 ,, Camden,A40 ") == ["road closure", "A40", "Camden"]
    assert split_tags("") == [] and split_tags(None) == []


# ---- the counter in a real browser -------------------------------------------------------------------

@pytest.mark.browser
def test_the_live_counter_shows_the_servers_figure_and_turns_red_past_the_limit(app, web_world, x_channel, browser,
                                                                               live_server, tmp_path):
    base = live_server
    page = browser.new_page()
    page.set_default_timeout(15000)
    sign_in(page, base, web_world.author.email)
    page.goto(f"{base}/posts/new")
    body_count = page.locator(".x-count[data-count-source=body]")
    assert body_count.is_hidden()  # no X channel chosen yet
    page.fill("textarea[name=body]", "Road closed, details at https://www.met.police.uk/news/a/long/path 👨‍👩‍👧‍👦")
    page.check(f"input[name=channels][value='{x_channel.id}']")
    # Waits through Playwright's locators: a predicate string would be eval'd in the page, which the CSP forbids.
    expect(body_count.locator(".figure")).to_have_text("50 / 280")
    assert "over" not in (body_count.get_attribute("class") or "")

    page.click(f"text=Tailor for {x_channel.name}")
    page.fill(f"textarea[name='target-{x_channel.id}-text']", "\u8b66" * 141)
    own = page.locator(f".x-count[data-count-source='target-{x_channel.id}-text']")
    expect(own.locator(".figure")).to_have_text("282 / 280")
    assert "over" in own.get_attribute("class")
    expect(body_count).to_be_hidden()  # own text now
    page.screenshot(path=str(tmp_path / "counter.png"), full_page=True)


def test_the_posts_files_keep_the_order_each_channel_has():
    from desk.web.post_media import merge_orders

    assert merge_orders([[7], [3, 7, 5]]) == [3, 7, 5]
    assert merge_orders([[9, 4], [2, 4], []]) == [2, 9, 4]
    assert merge_orders([[1, 2], [2, 1]]) == [1, 2]  # contradictory orders still keep every file
