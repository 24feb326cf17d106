"""Safe media: real photos made here with GPS tags, a camera serial, make and model, XMP, IPTC and a
comment; the published copy has none of them (and stands the right way up), the original keeps them.
Videos keep every byte in place but their user-data boxes; the library page and too-large uploads."""
from __future__ import annotations

import io
import struct

import pytest
from PIL import Image
from sqlalchemy import select

from desk import create_app
from desk.domain import media_clean, media_types
from desk.domain.errors import ValidationFailed
from desk.models import AuditEvent, Media
from desk.services import media

from conftest import login, post_form
from media_samples import _box, mp4

GPS = (51.0, 30.0, 26.4), (0.0, 7.0, 39.6)  # somewhere in central London


def tagged_jpeg(width=64, height=32, orientation=None, colour=(20, 90, 200)) -> bytes:
    """A real JPEG whose EXIF has a GPS IFD (0x8825), make, model and a body serial, plus XMP, IPTC and a comment."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS R5"
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", GPS[0], "W", GPS[1]
    exif.get_ifd(0x8769)[0xA431] = "0123456789"  # BodySerialNumber
    img = Image.new("RGB", (width, height), colour)
    img.paste((250, 250, 0), (0, 0, width // 4, height // 4))  # a yellow corner, to see which way is up
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, comment=b"Taken at the Northfield stakeout",
             xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
                 b'syntax-ns#"><rdf:Description exif:GPSLatitude="51,30.44N"/></rdf:RDF></x:xmpmeta>')
    data = out.getvalue()
    # IPTC rides in a Photoshop APP13 segment, which Pillow reads but does not write: add it after SOI.
    iptc = b"\x1c\x02\x78" + struct.pack(">H", 17) + b"Officer J. Bloggs"  # 2:120 caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00"
    app13 = b"Photoshop 3.0\x00" + resource
    return data[:2] + b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13 + data[2:]


def exif_of(data: bytes):
    with Image.open(io.BytesIO(data)) as img:
        return img.getexif(), dict(img.info), [m for m, _ in img.applist]


def test_the_sample_really_carries_what_must_go():
    exif, info, markers = exif_of(tagged_jpeg())
    assert exif.get_ifd(0x8825)[2] == GPS[0] and exif[0x0110] == "EOS R5"
    assert exif.get_ifd(0x8769)[0xA431] == "0123456789"
    assert "APP13" in markers and info.get("comment") and info.get("xmp")
    assert media_clean.photo_metadata(tagged_jpeg()) == [
        "GPS location", "camera make and model", "camera serial number", "other EXIF data", "XMP", "IPTC", "comment"]


def test_the_published_copy_has_no_gps_serial_xmp_iptc_or_comment_and_the_original_keeps_them(
        world, session, tmp_path):
    data = tagged_jpeg()
    stored = media.store_upload(session, world.author, world.unit.id, "stakeout.jpg", data, str(tmp_path))
    assert stored.original_path != stored.published_path

    with open(stored.original_path, "rb") as fh:
        assert fh.read() == data  # the record, untouched
    exif, _, _ = exif_of(open(stored.original_path, "rb").read())
    assert exif.get_ifd(0x8825)[2] == GPS[0]

    published = open(stored.published_path, "rb").read()
    exif, info, markers = exif_of(published)
    assert len(exif) == 0 and not exif.get_ifd(0x8825) and not exif.get_ifd(0x8769)
    assert 0x8825 not in exif and 0x010F not in exif and 0x0110 not in exif
    assert "APP13" not in markers and "COM" not in markers and not any(
        m == "APP1" for m in markers)  # APP1 holds EXIF and XMP: neither is there
    assert "exif" not in info and "xmp" not in info and "comment" not in info
    for needle in (b"EOS R5", b"0123456789", b"Canon", b"Northfield", b"Bloggs", b"GPSLatitude", b"Exif\x00\x00"):
        assert needle not in published
    assert media_clean.photo_metadata(published) == []
    assert media_types.sniff(published).mime_type == "image/jpeg" and stored.size == len(published)

    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "media.uploaded"))
    assert '"metadata_removed":["GPS location","camera make and model","camera serial number"' in event.details


def test_orientation_is_applied_to_the_pixels_then_the_tag_dropped(world, session, tmp_path):
    data = tagged_jpeg(64, 32, orientation=6)  # 6: the camera was turned; show it rotated 90° clockwise
    stored = media.store_upload(session, world.author, world.unit.id, "turned.jpg", data, str(tmp_path))
    with Image.open(stored.published_path) as img:
        assert img.size == (32, 64) and 0x0112 not in img.getexif()
        # The yellow corner (top left as stored) is top right once turned clockwise.
        assert img.convert("RGB").getpixel((28, 3))[0] > 200 and img.convert("RGB").getpixel((3, 3))[0] < 100
    assert (stored.width, stored.height) == (32, 64)


def test_jpeg_quality_is_kept(world, session, tmp_path):
    original = tagged_jpeg(256, 256)
    cleaned = media_clean.clean_photo(original).data
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(cleaned)) as b:
        assert a.quantization == b.quantization  # the same tables: no further loss
        difference = sum(abs(x - y) for x, y in zip(a.convert("L").tobytes(), b.convert("L").tobytes()))
        assert difference / (256 * 256) < 2


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_other_photo_formats_lose_their_metadata_too(fmt):
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = GPS[0]
    exif[0x0110] = "iPhone 15 Pro"
    img = Image.new("RGB", (16, 16), (200, 30, 30))
    out = io.BytesIO()
    extra = {"exif": exif} if fmt != "GIF" else {"comment": b"iPhone 15 Pro at the stakeout"}
    img.save(out, fmt, **extra)
    data = out.getvalue()
    assert media_clean.photo_metadata(data)
    cleaned = media_clean.clean_photo(data)
    assert media_clean.photo_metadata(cleaned.data) == [] and b"iPhone" not in cleaned.data
    assert (cleaned.width, cleaned.height) == (16, 16) and media_types.sniff(cleaned.data).mime_type.endswith(
        fmt.lower())


def test_an_animated_gif_keeps_its_frames_and_timing():
    frames = [Image.new("RGB", (8, 8), (i * 100, 50, 200 - i * 90)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0,
                   comment=b"serial 0123456789")
    cleaned = media_clean.clean_photo(out.getvalue())
    assert Image.open(out).n_frames == 3
    with Image.open(io.BytesIO(cleaned.data)) as img:
        assert img.n_frames == 3 and "comment" not in img.info
        assert [img.seek(i) or img.info["duration"] for i in range(3)] == [100, 200, 300]
    assert b"0123456789" not in cleaned.data


def test_a_photo_that_cannot_be_cleaned_is_refused_not_published(world, session, tmp_path):
    data = tagged_jpeg()
    broken = data[:len(data) // 2]  # a truncated JPEG: its header reads, its pixels do not
    with pytest.raises(ValidationFailed) as exc:
        media.store_upload(session, world.author, world.unit.id, "cut.jpg", broken, str(tmp_path))
    assert "cut.jpg" in exc.value.message and ("location" in exc.value.message or "not a photo" in exc.value.message)
    assert session.scalar(select(Media.id)) is None


def test_a_videos_location_and_device_boxes_are_blanked_and_nothing_moves():
    xyz = _box(b"\xa9xyz", struct.pack(">HH", 17, 0) + b"+51.5074-000.1278/")
    make = _box(b"\xa9mak", struct.pack(">HH", 5, 0) + b"Apple")
    udta = _box(b"udta", xyz + make)
    plain = mp4(12.5)
    ftyp_end = struct.unpack(">I", plain[:4])[0]
    moov_size = struct.unpack(">I", plain[ftyp_end:ftyp_end + 4])[0]
    moov = plain[ftyp_end:ftyp_end + moov_size]
    tagged_moov = struct.pack(">I", moov_size + len(udta)) + moov[4:] + udta
    video = plain[:ftyp_end] + tagged_moov + plain[ftyp_end + moov_size:]
    assert media_clean.video_metadata(video) == ["location", "device make and model", "user data"]

    cleaned = media_clean.clean_video(video)
    assert len(cleaned.data) == len(video) and b"+51.5074" not in cleaned.data and b"Apple" not in cleaned.data
    assert media_types.mp4_duration(bytes(cleaned.data)) == 12.5 and media_clean.video_metadata(cleaned.data) == []
    assert cleaned.removed == ("location", "device make and model", "user data")
    assert media_clean.clean_video(plain).data == plain  # nothing to remove: the same bytes


# ---- the pages -------------------------------------------------------------------------------------

def upload(client, unit_id, name, data):
    return post_form(client, "/media", {"unit": str(unit_id), "file": (io.BytesIO(data), name)},
                     page_url=f"/media?unit={unit_id}", content_type="multipart/form-data", follow_redirects=True)


def test_the_library_page_uploads_and_says_what_was_removed(client, web_world, app):
    login(client, web_world.author.email)
    page = upload(client, web_world.unit.id, "stakeout.jpg", tagged_jpeg()).get_data(as_text=True)
    assert "stakeout.jpg is in DPA&#39;s library" in page
    assert "Removed: GPS location, camera make and model, camera serial number" in page
    assert "Every channel of DPA takes it." in page
    refused = upload(client, web_world.unit.id, "notes.jpg", b"Dear editor").get_data(as_text=True)
    assert "notes.jpg is not a photo or video" in refused
    outsider = app.test_client()
    login(outsider, web_world.outsider.email)
    other = outsider.get(f"/media?unit={web_world.unit.id}").get_data(as_text=True)
    assert "stakeout.jpg" not in other and "Media library: CO11" in other


def test_an_upload_to_another_units_library_is_refused_not_stored_in_ones_own(client, web_world, app):
    login(client, web_world.outsider.email)  # a member of CO11 only
    dpa = web_world.unit.id
    for form_unit in (dpa, web_world.other_unit.id):  # the unit in the address, and in the form or not
        resp = post_form(client, f"/media?unit={dpa}", {"unit": str(form_unit),
                         "file": (io.BytesIO(tagged_jpeg()), "crowd.jpg")}, page_url="/media",
                         content_type="multipart/form-data")
        assert resp.status_code == 403, form_unit
        assert "Only members of DPA may add to its media library" in resp.get_data(as_text=True)
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(Media.id)) is None
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
        assert [e.unit_id for e in refused] == [dpa, dpa]
    page = client.get("/media").get_data(as_text=True)  # the page's own form names the unit it shows
    assert f'action="/media?unit={web_world.other_unit.id}"' in page


def test_a_too_large_upload_gets_a_clear_page_not_a_bare_413(sqlite_engine, tmp_path):
    from conftest import World

    app = create_app({"TESTING": True, "TWO_FACTOR_ENFORCED": False, "DESK_ENGINE": sqlite_engine,
                      "MAX_CONTENT_LENGTH": 64 * 1024,
                      "ENV": {"DESK_SECRET_KEY": "test-secret", "DESK_MEDIA_DIR": str(tmp_path)}})
    with app.extensions["desk.sessions"]() as s:
        world = World(s)
        client = app.test_client()
        login(client, world.author.email)
        # A form that takes no uploads keeps the server's own limit (64 KB here).
        big = client.post("/account/two-factor/start", data={"x": "y" * (128 * 1024)})
        html = big.get_data(as_text=True)
        assert big.status_code == 413 and "Too large to upload" in html
        assert "larger than the desk takes in one go (64 KB)" in html and "nothing was saved" in html
        from desk.services.accounts import create_token

        token = create_token(s, world.admin, world.author)
        api = client.post("/api/v1/posts", data=b"x" * (128 * 1024), content_type="application/json",
                          headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 413 and api.get_json()["error"] == "too_large"
        # The library's upload takes files up to the library's limit.
        ok = upload(client, world.unit.id, "wide.png", _png_of_size(100 * 1024))
        assert ok.status_code == 200 and "wide.png is in DPA" in ok.get_data(as_text=True)


def _png_of_size(at_least: int) -> bytes:
    import os

    side = 64
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        img.save(out, "PNG")
        if len(out.getvalue()) >= at_least:
            return out.getvalue()
        side *= 2


def test_media_stored_before_cleaning_get_a_clean_published_copy(app, web_world, tmp_path):
    import hashlib
    import os

    data = tagged_jpeg()
    path = tmp_path / "old.jpg"
    path.write_bytes(data)
    with app.extensions["desk.sessions"]() as s:
        old = Media(unit_id=web_world.unit.id, sha256=hashlib.sha256(data).hexdigest(), filename="old.jpg",
                    mime_type="image/jpeg", size=len(data), width=64, height=32, original_path=str(path),
                    published_path=str(path), uploaded_by_id=web_world.author.id,
                    uploaded_at=__import__("desk.domain.clock", fromlist=["utcnow"]).utcnow())
        s.add(old)
        s.commit()
        media_id = old.id
    result = app.test_cli_runner().invoke(args=["desk", "clean-media"])
    assert result.exit_code == 0 and "Cleaned 1 stored file(s)" in result.output
    with app.extensions["desk.sessions"]() as s:
        row = s.get(Media, media_id)
        assert row.original_path == str(path) and row.published_path != row.original_path
        assert os.path.isfile(row.published_path)
        assert media_clean.photo_metadata(open(row.published_path, "rb").read()) == []
        assert path.read_bytes() == data
        details = s.scalar(select(AuditEvent.details).where(AuditEvent.action == "media.cleaned"))
        assert details.count("GPS location") == 1
    again = app.test_cli_runner().invoke(args=["desk", "clean-media"])
    assert "Cleaned 0 stored file(s)" in again.output
