"""Images that would exhaust the server's memory: the desk's own pixel limit (DESK_MAX_IMAGE_PIXELS), read
from the file's header before a single pixel is decoded, on every way in (library page, post form, API);
Pillow's own decompression-bomb errors taken as refusals; thumbnails made once, at upload, and served from
the stored file. The bombs are real PNGs made in memory: 169 megapixels of zero rows in a few hundred KB."""
from __future__ import annotations

import hashlib
import io
import os
import struct

import pytest
from PIL import Image
from sqlalchemy import func, select
from test_web_posts import as_user, post_data, text_of

from desk import create_app
from desk.domain import media_clean, media_thumbnails, media_types
from desk.domain.clock import utcnow
from desk.domain.errors import ValidationFailed
from desk.models import Media
from desk.services import accounts, media

from conftest import OPERATOR, World, post_form
from media_samples import gif, jpeg, mp4, png, png_of_zero_rows, webp_header

BOMB = (13_000, 13_000)  # 169 megapixels, about 170 KB on disk
PAST_PILLOW = (14_000, 14_000)  # 196 megapixels: past twice Pillow's 89.5, where Pillow raises an error


# ---- the limit, from the header ------------------------------------------------------------------------

def test_the_default_takes_a_61_megapixel_camera_and_is_never_looser_than_pillow():
    assert media_types.DEFAULT_MAX_IMAGE_PIXELS >= 9_504 * 6_336
    # Written out so that an upgrade of Pillow which moves its own limit is noticed here.
    assert media_types.PILLOW_MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS
    assert media_types.DEFAULT_MAX_IMAGE_PIXELS <= Image.MAX_IMAGE_PIXELS


def test_a_13000_by_13000_png_of_a_few_hundred_kilobytes_is_refused_unread():
    bomb = png_of_zero_rows(*BOMB)
    assert len(bomb) < 700_000
    with pytest.raises(media_types.TooManyPixels) as exc:
        media_types.sniff(bomb)
    message = str(exc.value)
    assert "13,000 × 13,000 pixels (169 megapixels)" in message and "up to 61 megapixels" in message
    assert "7,810 × 7,810 pixels or smaller" in message  # the largest of its shape that the desk takes


def test_the_limit_is_a_setting_and_an_image_exactly_at_it_is_taken():
    assert media_types.sniff(png_of_zero_rows(1000, 1000), max_pixels=1_000_000).width == 1000
    with pytest.raises(media_types.TooManyPixels) as exc:
        media_types.sniff(png_of_zero_rows(1001, 1000), max_pixels=1_000_000)
    assert "up to 1 megapixel," in str(exc.value)


def test_a_webp_is_measured_before_its_decoder_sets_aside_the_canvas():
    with pytest.raises(media_types.TooManyPixels) as exc:
        media_types.sniff(webp_header(*BOMB))
    assert "13,000 × 13,000" in str(exc.value)
    frames = [Image.new("RGB", (300, 200), (i * 90, 0, 0)) for i in range(2)]
    for options in ({}, {"lossless": True}, {"save_all": True, "append_images": frames[1:]}):  # VP8, VP8L, VP8X
        out = io.BytesIO()
        frames[0].save(out, "WEBP", **options)
        assert media_types.webp_size(out.getvalue()) == (300, 200), options
        assert (media_types.sniff(out.getvalue()).width, media_types.sniff(out.getvalue()).height) == (300, 200)


def test_an_animation_counts_the_pixels_of_every_frame():
    three = gif(100, 100, frames=3)
    assert media_types.sniff(three, max_pixels=30_000).frames == 3
    with pytest.raises(media_types.TooManyPixels) as exc:
        media_types.sniff(three, max_pixels=29_999)
    assert "3 frames of 100 × 100 pixels" in str(exc.value) and "as a video" in str(exc.value)
    with pytest.raises(media_types.TooManyPixels):
        media_clean.clean_photo(three, max_pixels=29_999)
    assert media_clean.clean_photo(three, max_pixels=30_000).width == 100


def test_a_gif_whose_picture_is_larger_than_the_screen_it_declares_is_measured_by_its_picture():
    lying = bytearray(gif(200, 200))
    lying[6:10] = struct.pack("<HH", 10, 10)  # the header's logical screen: 10 x 10
    with pytest.raises(media_types.TooManyPixels):
        media_types.sniff(bytes(lying), max_pixels=10_000)
    with pytest.raises(media_types.TooManyPixels):
        media_clean.clean_photo(bytes(lying), max_pixels=10_000)


def test_an_image_past_pillows_own_limit_is_a_refusal_not_an_error():
    huge = png_of_zero_rows(*PAST_PILLOW)
    # Even with the desk's limit set past Pillow's, Pillow's DecompressionBombError comes back as a refusal.
    for step in (media_types.sniff, media_clean.clean_photo, media_thumbnails.make_thumbnail):
        with pytest.raises(media_types.TooManyPixels) as exc:
            step(huge, max_pixels=10**9)
        assert "It is 196 megapixels; the desk takes photos of up to 179 megapixels" in str(exc.value), step


def test_cleaning_checks_the_limit_itself_for_files_that_came_in_another_way():
    with pytest.raises(media_types.TooManyPixels):
        media_clean.clean_photo(png_of_zero_rows(200, 200), max_pixels=10_000)
    with pytest.raises(media_types.TooManyPixels):
        media_thumbnails.make_thumbnail(png_of_zero_rows(200, 200), max_pixels=10_000)


CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from desk.domain import media_clean
from PIL import Image
Image.init()
data = open(sys.argv[1], 'rb').read()
def peak():
    with open('/proc/self/status') as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith('VmHWM:')) * 1024
before = peak()
media_clean.clean_photo(data)
print(peak() - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak memory from Linux's /proc")
@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_cleaning_a_photo_holds_one_copy_of_its_pixels_not_three(tmp_path, kind):
    """In a process of its own, so that its peak memory (which Pillow's C allocations count in) is the
    cleaning's alone. Pillow holds RGB in 4 bytes a pixel: 4,000 x 3,000 is 46 MB decoded."""
    import subprocess
    import sys

    path = tmp_path / f"photo.{kind}"
    path.write_bytes(png_of_zero_rows(4000, 3000, colour_type=2) if kind == "png" else jpeg(4000, 3000))
    decoded = 4000 * 3000 * 4
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), root], capture_output=True, text=True, check=True)
    added = int(done.stdout.strip())
    assert added < 1.5 * decoded, f"cleaning took {added / 2**20:.0f} MB for {decoded / 2**20:.0f} MB of pixels"


# ---- the upload --------------------------------------------------------------------------------------

def test_the_upload_of_a_bomb_is_refused_with_its_name_and_nothing_is_stored(world, session, tmp_path):
    store = tmp_path / "media"
    with pytest.raises(ValidationFailed) as exc:
        media.store_upload(session, world.author, world.unit.id, "aerial.png", png_of_zero_rows(*BOMB), str(store))
    message = exc.value.field_errors["media"][0]
    assert message.startswith("aerial.png: It is 13,000 × 13,000 pixels") and "61 megapixels" in message
    assert session.scalar(select(Media.id)) is None and not store.exists()


def test_a_thumbnail_is_made_once_at_upload_and_stored(world, session, tmp_path):
    photo = media.store_upload(session, world.author, world.unit.id, "wide.png", png(1200, 600), str(tmp_path))
    assert photo.thumbnail_path and os.path.isfile(photo.thumbnail_path)
    assert photo.thumbnail_path.startswith(str(tmp_path / "thumbnails"))
    with Image.open(photo.thumbnail_path) as thumb:
        assert thumb.size == (320, 160) and thumb.format == "JPEG"
    video = media.store_upload(session, world.author, world.unit.id, "briefing.mp4", mp4(), str(tmp_path))
    assert video.thumbnail_path is None


# ---- the pages and the API ---------------------------------------------------------------------------

def _thumbnail_of(client, media_id):
    return client.get(f"/media/{media_id}/thumbnail")


def test_the_thumbnail_is_served_from_the_stored_file_not_made_again(app, web_world):
    with app.extensions["desk.sessions"]() as s:
        photo = media.store_upload(s, web_world.author, web_world.unit.id, "scene.jpg", jpeg(1600, 1200),
                                   app.config["DESK_SETTINGS"].media_dir)
        media_id, stored = photo.id, open(photo.thumbnail_path, "rb").read()
        published = photo.published_path
    # The published copy no longer reads as a photo: a thumbnail decoded at each view would now fail.
    with open(published, "wb") as fh:
        fh.write(b"not a photo any more")
    author = as_user(app, web_world.author.email)
    resp = _thumbnail_of(author, media_id)
    assert resp.status_code == 200 and resp.data == stored and resp.mimetype == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_a_photo_stored_before_thumbnails_gets_one_at_its_first_view_and_keeps_it(app, web_world):
    with app.extensions["desk.sessions"]() as s:
        photo = media.store_upload(s, web_world.author, web_world.unit.id, "map.png", png(640, 480),
                                   app.config["DESK_SETTINGS"].media_dir)
        os.remove(photo.thumbnail_path)
        photo.thumbnail_path = None  # as every row uploaded before this change
        s.commit()
        media_id, published = photo.id, photo.published_path
    author = as_user(app, web_world.author.email)
    first = _thumbnail_of(author, media_id)
    assert first.status_code == 200
    with app.extensions["desk.sessions"]() as s:
        kept = s.get(Media, media_id).thumbnail_path
    assert kept and open(kept, "rb").read() == first.data
    with open(published, "wb") as fh:
        fh.write(b"gone")
    assert _thumbnail_of(author, media_id).data == first.data


def test_a_photo_stored_before_the_limit_is_not_decoded_for_its_thumbnail(app, web_world, tmp_path):
    bomb = png_of_zero_rows(*BOMB)
    path = tmp_path / "old-aerial.png"
    path.write_bytes(bomb)
    with app.extensions["desk.sessions"]() as s:
        old = Media(unit_id=web_world.unit.id, sha256=hashlib.sha256(bomb).hexdigest(), filename="aerial.png",
                    mime_type="image/png", size=len(bomb), width=BOMB[0], height=BOMB[1], original_path=str(path),
                    published_path=str(path), uploaded_by_id=web_world.author.id, uploaded_at=utcnow())
        s.add(old)
        s.commit()
        media_id = old.id
    resp = _thumbnail_of(as_user(app, web_world.author.email), media_id)
    assert resp.status_code == 404
    assert "aerial.png is larger than the desk now takes" in text_of(resp) and "169 megapixels" in text_of(resp)


@pytest.fixture
def small_limit_app(sqlite_engine, tmp_path):
    """A desk whose DESK_MAX_IMAGE_PIXELS is one megapixel, so that the setting is seen on every way in."""
    app = create_app({"TESTING": True, "TWO_FACTOR_ENFORCED": False, "DESK_ENGINE": sqlite_engine,
                      "ENV": {"DESK_SECRET_KEY": "test-secret", "DESK_MEDIA_DIR": str(tmp_path / "media"),
                              "DESK_MAX_IMAGE_PIXELS": "1000000"}})
    with app.extensions["desk.sessions"]() as s:
        app.world = World(s)
        yield app


def test_the_setting_is_the_limit_on_the_library_page_the_post_form_and_the_api(small_limit_app):
    app, world = small_limit_app, small_limit_app.world
    too_big, fits = png_of_zero_rows(1001, 1000), png_of_zero_rows(1000, 1000)
    author = as_user(app, world.author.email)

    page = post_form(author, f"/media?unit={world.unit.id}", {"unit": str(world.unit.id),
                     "file": (io.BytesIO(too_big), "wide.png")}, content_type="multipart/form-data",
                     follow_redirects=True)
    assert page.status_code == 200
    assert "wide.png: It is 1,001 × 1,000 pixels (1 megapixel); the desk takes photos of up to 1 megapixel" in (
        text_of(page))

    form = post_data([world.channel])
    form["media"] = [(io.BytesIO(too_big), "wide.png")]
    refused = post_form(author, "/posts/new", form, content_type="multipart/form-data")
    assert refused.status_code == 400 and "wide.png: It is 1,001 × 1,000 pixels" in text_of(refused)

    token = accounts.create_token(world.session, OPERATOR, world.author)
    api = app.test_client()
    answer = api.post("/api/v1/media", headers={"Authorization": f"Bearer {token}"},
                      data={"unit_id": str(world.unit.id), "file": (io.BytesIO(too_big), "wide.png")},
                      content_type="multipart/form-data")
    assert answer.status_code == 400 and "1,001 × 1,000" in answer.get_json()["fields"]["file"][0]
    ok = api.post("/api/v1/media", headers={"Authorization": f"Bearer {token}"},
                  data={"unit_id": str(world.unit.id), "file": (io.BytesIO(fits), "square.png")},
                  content_type="multipart/form-data")
    assert ok.status_code == 201
    with app.extensions["desk.sessions"]() as s:
        assert [m.filename for m in s.scalars(select(Media))] == ["square.png"]


def test_an_image_past_pillows_limit_uploaded_through_the_api_is_a_400_not_a_500(small_limit_app):
    app, world = small_limit_app, small_limit_app.world
    token = accounts.create_token(world.session, OPERATOR, world.author)
    answer = app.test_client().post(
        "/api/v1/media", headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data",
        data={"unit_id": str(world.unit.id), "file": (io.BytesIO(png_of_zero_rows(*PAST_PILLOW)), "huge.png")})
    assert answer.status_code == 400
    message = answer.get_json()["message"]
    assert message.startswith("huge.png: It is 14,000 × 14,000 pixels") and "Nothing was stored" in message


@pytest.mark.parametrize("unit", ["²", "99999999999"])
def test_an_upload_to_a_unit_that_cannot_exist_is_a_404_and_stores_nothing(small_limit_app, unit):
    app, world = small_limit_app, small_limit_app.world
    author = as_user(app, world.author.email)
    page = post_form(author, f"/media?unit={unit}", {"file": (io.BytesIO(png_of_zero_rows(10, 10)), "a.png")},
                     page_url=f"/media?unit={world.unit.id}", content_type="multipart/form-data")
    assert page.status_code == 404
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 0
