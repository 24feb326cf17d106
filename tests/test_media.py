"""Media: the real type read from the bytes, the measures, and the store by content hash."""
import os

import pytest
from sqlalchemy import select

from desk.domain import media_types
from desk.domain.errors import PermissionDenied, ValidationFailed
from desk.models import AuditEvent
from desk.services import media

from media_samples import jpeg, mp4, png


def test_types_come_from_the_bytes_not_the_name():
    assert media_types.sniff(png(4, 3)) == media_types.Sniffed("image/png", 4, 3)
    assert media_types.sniff(jpeg(8, 6)).mime_type == "image/jpeg"
    video = media_types.sniff(mp4(12.5))
    assert video.mime_type == "video/mp4" and video.duration == 12.5
    assert media_types.sniff(b"GIF89a but really text") is None  # right magic, not an image
    assert media_types.sniff(b"Dear editor, this is a letter") is None
    assert media_types.sniff(b"\xff\xd8\xff" + b"\x00" * 20) is None


def test_store_keeps_one_copy_per_content_and_audits(world, session, tmp_path):
    data = png()
    first = media.store_upload(session, world.author, world.unit.id, "closure-map.png", data, str(tmp_path))
    again = media.store_upload(session, world.author, world.unit.id, "copy.png", data, str(tmp_path))
    assert first.id == again.id and first.mime_type == "image/png" and (first.width, first.height) == (4, 3)
    assert os.path.basename(first.original_path) == f"{first.sha256}.png"
    with open(first.original_path, "rb") as fh:
        assert fh.read() == data
    assert media.unit_library(session, world.author, world.unit.id) == [first]
    assert media.unit_library(session, world.outsider, world.unit.id) == []
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "media.uploaded")).all()
    assert len(events) == 1 and first.sha256 in events[0].details


def test_refusals_say_what_to_do(world, session, tmp_path):
    with pytest.raises(ValidationFailed) as exc:
        media.store_upload(session, world.author, world.unit.id, "photo.jpg", b"not a photo at all", str(tmp_path))
    assert "photo.jpg is not a photo or video" in exc.value.field_errors["media"][0]
    with pytest.raises(ValidationFailed):
        media.store_upload(session, world.author, world.unit.id, "empty.png", b"", str(tmp_path))
    with pytest.raises(PermissionDenied):
        media.store_upload(session, world.outsider, world.unit.id, "x.png", png(), str(tmp_path))
